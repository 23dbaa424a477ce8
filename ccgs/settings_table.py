"""The settings table of docs/ccgs.md, written from :class:`ccgs.config.CCGSConfig` so that it cannot drift.

One Markdown table per concern (:data:`ccgs.config.CONCERNS`, in that order): each setting's value in the
presets ``paper``, ``improved`` and ``tiny`` (bold where it differs from ``paper``) and the first sentence of
its docstring. ``python -m ccgs.settings_table docs/ccgs.md`` rewrites the table between the markers
:data:`BEGIN` and :data:`END`; ``tests/test_ccgs_settings.py`` checks that the file holds what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmark.errors import ConfigError
from benchmark.options import field_docs, first_sentence
from ccgs.config import PRESETS, CCGSConfig, settings_by_concern

BEGIN = "<!-- settings table: written by `python -m ccgs.settings_table docs/ccgs.md`; do not edit by hand -->"
END = "<!-- end of the settings table -->"
SHOWN_PRESETS = ("paper", "improved", "tiny")


def settings_table() -> str:
    """The tables, one per concern, as Markdown (without the markers)."""
    docs = field_docs(CCGSConfig)
    parts = []
    for concern, names in settings_by_concern().items():
        rows = [f"**{concern}**", "", f"| setting | {' | '.join(SHOWN_PRESETS)} | what it does |",
                "| --- |" + " --- |" * (len(SHOWN_PRESETS) + 1)]
        for name in names:
            values = [getattr(PRESETS[preset], name) for preset in SHOWN_PRESETS]
            cells = [_shown(value, bold=index > 0 and value != values[0]) for index, value in enumerate(values)]
            rows.append(f"| `{name}` | {' | '.join(cells)} | {_cell(first_sentence(docs[name]))} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"


def replace_table(text: str, source: str = "docs/ccgs.md") -> str:
    """``text`` (the Markdown file at ``source``) with the part between the markers rewritten."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ConfigError(f"{source}: expected one line {BEGIN!r} and, after it, one line {END!r}")
    head, rest = text.split(BEGIN + "\n", 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{BEGIN}\n{settings_table()}{END}{tail}"


def _shown(value: Any, *, bold: bool) -> str:
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif value is None:
        text = "none"
    elif isinstance(value, tuple):
        text = ", ".join(map(str, value)) or "none"
    else:
        text = str(value)
    text = _cell(text)
    return f"**{text}**" if bold else text


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if len(paths) != 1:
        print("usage: python -m ccgs.settings_table docs/ccgs.md", file=sys.stderr)
        return 2
    path = Path(paths[0])
    path.write_text(replace_table(path.read_text(encoding="utf-8"), str(path)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
