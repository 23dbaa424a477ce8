"""Reading a data file's JSON so that every way it can fail is a :class:`DataError` naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmark.errors import DataError

# A \uD800-\uDFFF escape: half of a UTF-16 pair, legal JSON but no text unless paired.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def read_json_text(text: str, path: str | Path) -> Any:
    """Parse a data file's JSON text; any way it can fail becomes a :class:`DataError` naming the file:
    bad syntax (with its line), nesting too deep for the parser, an integer too long to convert, and a
    lone UTF-16 surrogate (which no text encoding, Arrow included, can store)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON: {error.msg} (column {error.colno})", path=str(path),
                        line=error.lineno) from error
    except RecursionError as error:
        raise DataError("nested too deeply to be read (a data file is a list of flat records)",
                        path=str(path)) from error
    except ValueError as error:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise DataError(f"not readable JSON: {' '.join(str(error).split())[:160]}", path=str(path)) from error
    if _SURROGATE_ESCAPE.search(text):
        items = data if isinstance(data, list) else [data]
        for index, item in enumerate(items):
            try:
                json.dumps(item, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError as error:
                raise DataError("holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which "
                                "is not text", path=str(path), record=str(index) if items is data else None) from error
            except RecursionError as error:
                raise DataError("nested too deeply to be read", path=str(path), record=str(index)) from error
    return data
