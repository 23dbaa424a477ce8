"""Escaping of submitter-supplied text for each output format. Names, authors and notes come from
strangers: every renderer passes them through one of these, never raw."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}
_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+!|~")


def one_line(text: str) -> str:
    """Collapse newlines and tabs: a table cell is one line in every format."""
    return " ".join(text.split())


def latex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in one_line(text))


def markdown(text: str) -> str:
    """Backslash-escape Markdown syntax and entity-escape HTML, which Markdown would otherwise render."""
    escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in one_line(text))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_text(text: str) -> str:
    return html.escape(one_line(text), quote=True)


def csv_cell(text: str) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ is prefixed with an apostrophe."""
    text = one_line(text)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def safe_url(url: str) -> str | None:
    """Only http(s) links are rendered; anything else (javascript:, data:, file:) is dropped."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None
