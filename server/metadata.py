"""What a submitter says about an upload, checked before anything is stored: lengths, no control
characters, links only http(s). HTML is allowed in text (it is escaped wherever it is shown)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leaderboard import escape

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
LIMITS = {"method": 120, "description": 2000, "authors": 300, "code_url": 500, "paper_url": 500}


class MetadataError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"field '{field}': {message}")


@dataclass(frozen=True)
class Metadata:
    method: str
    description: str = ""
    authors: str = ""
    code_url: str = ""
    paper_url: str = ""
    anonymous: bool = False


def check_metadata(method: str | None, description: str | None = "", authors: str | None = "",
                   code_url: str | None = "", paper_url: str | None = "", anonymous: bool = False) -> Metadata:
    """Stripped, checked metadata; :class:`MetadataError` names the first field that is not acceptable."""
    values = {"method": (method or "").strip(), "description": (description or "").strip(),
              "authors": (authors or "").strip(), "code_url": (code_url or "").strip(),
              "paper_url": (paper_url or "").strip()}
    if not values["method"]:
        raise MetadataError("method", "a method name is required")
    for field, value in values.items():
        if len(value) > LIMITS[field]:
            raise MetadataError(field, f"{len(value)} characters, at most {LIMITS[field]} are allowed")
        pattern = _CONTROL if field == "description" else _CONTROL_ONE_LINE
        if pattern.search(value):
            raise MetadataError(field, "contains a control or bidirectional-override character")
    for field in ("code_url", "paper_url"):
        problem = escape.link_problem(values[field])
        if problem:
            raise MetadataError(field, f"{problem}; give an http(s) link or leave it empty")
    return Metadata(anonymous=bool(anonymous), **values)
