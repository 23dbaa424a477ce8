"""Escaping of submitter-supplied text for each output format. Names, authors and notes come from
strangers: every renderer passes them through one of these, never raw."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}
_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+!|~")
# Characters RFC 3986 allows in a URL, left as they are in a Markdown link destination (``%`` keeps
# existing escapes); everything else is percent-encoded.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
_URL_FORBIDDEN = re.compile(r'[\s<>"\\`{}|^\x00-\x1f\x7f]')


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
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def markdown_url(url: str) -> str:
    """A link destination for ``[text](<...>)``: every character that could end it (``>``, a newline), split
    a table row (``|``) or start HTML (``<``) is percent-encoded, so the link cannot break out."""
    return quote(url, safe=_URL_SAFE)


def link_problem(url: str) -> str | None:
    """Why ``url`` is not accepted as a submission's link (None when it is: empty, or a plain http(s) URL)."""
    if not url:
        return None
    if _URL_FORBIDDEN.search(url):
        return "contains whitespace, a control character or one of < > \" \\ ` { } | ^ (percent-encode them)"
    if safe_url(url) is None:
        return "is not an http:// or https:// URL with a host"
    return None
