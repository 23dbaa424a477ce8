"""The one sanitiser for every submitter-written text: names, authors, notes, links, protocol names.

Everything a stranger writes reaches a terminal, a plot, Markdown, CSV, LaTeX or HTML only through this
module. Each format's function first makes the text :func:`visible`: one line, control characters
(ESC, BEL, ...), lone surrogates and bidirectional overrides shown as escapes (``\\x1b``), and, where a
cap is given, at most that many characters with an ellipsis. Then it escapes what the format treats as
syntax. File and folder names are never made from such text: :func:`file_key` hashes it.

:func:`field_problem` is the submit-time check: a submitter's text longer than its cap or holding a
control character is refused there; an entry stored earlier is capped (ellipsis) when rendered.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from urllib.parse import quote, urlsplit

# Caps, in characters, on what a submitter writes (refused at submit; older entries are cut when shown).
NAME_MAX_CHARS = 120
PROTOCOL_NAME_MAX_CHARS = 64
AUTHORS_MAX_CHARS = 300
NOTES_MAX_CHARS = 1000
LINK_MAX_CHARS = 500
# A plot's legend shows less of a name than a table does, so that a figure keeps a reasonable size.
PLOT_NAME_MAX_CHARS = 60
FIELD_CAPS = {"name": NAME_MAX_CHARS, "authors": AUTHORS_MAX_CHARS, "notes": NOTES_MAX_CHARS,
              "url": LINK_MAX_CHARS, "paper": LINK_MAX_CHARS, "protocol": PROTOCOL_NAME_MAX_CHARS}
ELLIPSIS = "…"

_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}
_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+!|~")
# A cell starting with one of these is a formula in a spreadsheet (\t and \r too, in some of them).
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters RFC 3986 allows in a URL, left as they are in a Markdown link destination (``%`` keeps
# existing escapes); everything else is percent-encoded.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
_URL_FORBIDDEN = re.compile(r'[\s<>"\\`{}|^\x00-\x1f\x7f]')
# Bidirectional overrides and isolates reorder what a reader sees (a name that reads as another one).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_hidden_control(char: str) -> bool:
    return char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs")


def _shown_escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """Collapse newlines, tabs and every other whitespace run: a table cell is one line in every format."""
    return " ".join(text.split())


def visible(text: str, limit: int | None = None) -> str:
    """``text`` as one line of plain characters a reader sees as they are: whitespace collapsed, control
    characters and bidirectional overrides shown escaped (ESC as ``\\x1b``), at most ``limit`` characters
    (the last one an ellipsis when cut). Idempotent; every format's escaper starts with it."""
    shown = "".join(_shown_escaped(ch) if _is_hidden_control(ch) else ch for ch in one_line(str(text)))
    if limit is not None and len(shown) > limit:
        shown = shown[:max(limit - 1, 0)].rstrip() + ELLIPSIS
    return shown


def field_problem(field: str, text: str) -> str | None:
    """Why a submitter's ``field`` (name, authors, notes, url, paper, protocol) cannot be stored as it is,
    or None. Whitespace (newlines, tabs) is allowed and collapses when shown."""
    cap = FIELD_CAPS[field]
    if len(text) > cap:
        return f"is {len(text)} characters long; at most {cap} are allowed"
    hidden = sorted({ch for ch in text if _is_hidden_control(ch) and not ch.isspace()})
    if hidden:
        return f"contains control characters ({', '.join(_shown_escaped(ch) for ch in hidden[:5])})"
    return None


def terminal(text: str, limit: int | None = NAME_MAX_CHARS) -> str:
    """For a terminal line (a warning naming an entry or a folder): nothing the terminal would interpret."""
    return visible(text, limit)


def latex(text: str, limit: int | None = None) -> str:
    """LaTeX text for a table cell or caption. A cell that would start with ``[`` or ``*`` gets ``{}`` in
    front: after ``\\\\`` or ``\\midrule`` it would be read as their optional argument."""
    escaped = "".join(_LATEX.get(ch, ch) for ch in visible(text, limit))
    return "{}" + escaped if escaped[:1] in ("[", "*") else escaped


def markdown(text: str, limit: int | None = None) -> str:
    """Backslash-escape Markdown syntax and entity-escape HTML, which Markdown would otherwise render."""
    escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in visible(text, limit))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_text(text: str, limit: int | None = None) -> str:
    return html.escape(visible(text, limit), quote=True)


def csv_cell(text: str, limit: int | None = None) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ (or a tab or carriage return) is prefixed
    with an apostrophe. Applied to every text column of the CSV."""
    text = visible(text, limit)
    return f"'{text}" if text.startswith(_CSV_FORMULA_START) else text


def plot_text(text: str, limit: int | None = PLOT_NAME_MAX_CHARS) -> str:
    """Text for a matplotlib label, legend entry or tick: every ``$`` escaped, so mathtext never parses a
    name (``BM25 $\\frac$ v2`` is shown as written), and no leading ``_`` (which hides a legend entry).
    The plots also render with ``text.usetex`` off (:mod:`leaderboard.plots`)."""
    shown = visible(text, limit).replace("$", r"\$")
    return f" {shown}" if shown.startswith("_") else shown


def file_key(*parts: str, length: int = 12) -> str:
    """A short hex name for a file or folder about ``parts``: never the submitter's text itself, so no
    name is too long, hidden, or a path."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:length]


def safe_url(url: str) -> str | None:
    """Only http(s) links are rendered; anything else (javascript:, data:, file:) is dropped, and so is a
    link longer than :data:`LINK_MAX_CHARS` or holding whitespace or control characters."""
    url = url.strip()
    if not url or len(url) > LINK_MAX_CHARS or visible(url) != url or " " in url:
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
    if len(url) > LINK_MAX_CHARS:
        return f"is {len(url)} characters long; at most {LINK_MAX_CHARS} are allowed"
    if _URL_FORBIDDEN.search(url):
        return "contains whitespace, a control character or one of < > \" \\ ` { } | ^ (percent-encode them)"
    if safe_url(url) is None:
        return "is not an http:// or https:// URL with a host"
    return None
