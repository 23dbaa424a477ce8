"""The leaderboard as one self-contained static HTML page: inline CSS and script, no CDN, no fetch,
works from ``file://`` and offline.

Every submitter-supplied string is HTML-escaped, links are limited to http(s), and a Content-Security-
Policy allows only this page's own style and script (by hash), so even a name that slipped past escaping
could not run. Each metric cell shows its value, its 95% interval beside it and on hover, and a mark when
a paired test cannot tell it from the column's best.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources

from leaderboard import escape
from leaderboard.columns import group_spans
from leaderboard.render_text import TIE_MARK, format_value, significance_note
from leaderboard.table import Cell, LeaderboardTable, Row

FIXED_COLUMNS = 3  # rank, system, authors


def _asset(name: str) -> str:
    return resources.files("leaderboard").joinpath(name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render_html(tables: Sequence[LeaderboardTable], generated: datetime | None = None) -> str:
    style, script = _asset("leaderboard.css"), _asset("leaderboard.js")
    policy = (f"default-src 'none'; style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
              "img-src 'self' data:; base-uri 'none'; form-action 'none'")
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    entries = sum(len(table.rows) for table in tables)
    body = ['<h1>VCVAL leaderboard</h1>',
            f'<p class="generated">{entries} entries in {len(tables)} comparable group(s); generated {when} '
            'by <code>vcval leaderboard</code>. Click a column header to sort; hover a number for its 95% '
            'interval and its test against the best.</p>']
    if not tables:
        body.append("<p>No submissions yet.</p>")
    for table in tables:
        body.append(_render_table(table))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>VCVAL leaderboard</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
        *body,
        f"<script>{script}</script>",
        "</body>",
        "</html>",
        "",
    ])


def _render_table(table: LeaderboardTable) -> str:
    spans = group_spans(table.columns)
    first = [
        '<th rowspan="2" class="sortable" tabindex="0" data-column="0" data-type="number" '
        'data-first-order="ascending">#</th>',
        '<th rowspan="2" class="sortable" tabindex="0" data-column="1" data-type="text" '
        'data-first-order="ascending">System</th>',
        '<th rowspan="2" class="sortable" tabindex="0" data-column="2" data-type="text" '
        'data-first-order="ascending">Authors</th>',
    ]
    first += [f'<th colspan="{width}" class="group">{escape.html_text(group)}</th>' for group, width in spans]
    second = [
        f'<th class="sortable" tabindex="0" data-column="{FIXED_COLUMNS + index}" data-type="number" '
        f'data-first-order="descending" data-key="{escape.html_text(column.key)}" '
        f'title="{escape.html_text(column.key)}">{escape.html_text(column.label)}</th>'
        for index, column in enumerate(table.columns)
    ]
    rows = [_render_row(table, row) for row in table.rows]
    n_questions = table.rows[0].entry.n_questions
    meta = (f'<p class="meta">{n_questions} questions; data fingerprint '
            f'<code>{escape.html_text(table.data_fingerprint[:16])}</code>; protocol '
            f'<code>{escape.html_text(table.protocol)}</code> (<code>{escape.html_text(table.protocol_hash[:12])}'
            f'</code>); scorer {escape.html_text(table.scorer_version)}; ranked by '
            f'<code>{escape.html_text(table.headline)}</code>; numbers in percent.</p>')
    note = f'<p class="note">{escape.html_text(significance_note(table))}</p>'
    return "\n".join([
        f'<section id="{escape.html_text(table.slug)}">',
        f"<h2>{escape.html_text(table.title)}</h2>",
        meta,
        '<div class="scroll">',
        f'<table class="board" data-slug="{escape.html_text(table.slug)}">',
        "<thead>",
        "<tr>" + "".join(first) + "</tr>",
        "<tr>" + "".join(second) + "</tr>",
        "</thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        "</div>",
        note,
        "</section>",
    ])


def _render_row(table: LeaderboardTable, row: Row) -> str:
    meta = row.entry.meta
    name = escape.html_text(meta.name)
    url, paper = escape.safe_url(meta.url), escape.safe_url(meta.paper)
    system = f'<a href="{escape.html_text(url)}" rel="noopener noreferrer">{name}</a>' if url else name
    if paper:
        system += f' <a class="paper" href="{escape.html_text(paper)}" rel="noopener noreferrer">paper</a>'
    if meta.notes:
        system += f'<div class="notes">{escape.html_text(meta.notes)}</div>'
    cells = [
        f'<td class="num" data-value="{row.rank}">{row.rank}</td>',
        f'<td class="system" data-value="{name}" title="entry {escape.html_text(meta.entry_id)}, submitted '
        f'{escape.html_text(meta.submitted)}">{system}</td>',
        f'<td data-value="{escape.html_text(meta.authors)}">{escape.html_text(meta.authors)}</td>',
    ]
    cells += [_render_cell(column.key, row.cells[column.key]) for column in table.columns]
    return f'<tr data-entry="{escape.html_text(meta.entry_id)}">' + "".join(cells) + "</tr>"


def _render_cell(key: str, cell: Cell) -> str:
    if cell.value is None:
        return '<td class="num" data-value="">–</td>'
    classes = ["num"] + (["best"] if cell.best else []) + (["tied"] if cell.tied_with_best else [])
    hover = [key]
    interval = ""
    if cell.low is not None and cell.high is not None:
        hover.append(f"95% interval [{cell.low:.2f}, {cell.high:.2f}]")
        interval = f'<span class="ci">{cell.low:.1f}–{cell.high:.1f}</span>'
    if cell.best:
        hover.append("best in this column")
    elif cell.p_value is not None:
        verdict = "not significantly different from" if cell.tied_with_best else "significantly below"
        hover.append(f"{verdict} the best (Holm-adjusted p = {cell.p_value:.3g})")
    mark = f'<span class="mark">{TIE_MARK}</span>' if cell.tied_with_best and not cell.best else ""
    return (f'<td class="{" ".join(classes)}" data-value="{cell.value:.6f}" title="{escape.html_text("; ".join(hover))}">'
            f"{format_value(cell.value)}{mark}{interval}</td>")
