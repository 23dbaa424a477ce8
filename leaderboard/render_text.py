"""The leaderboard as Markdown (for a README), CSV (every number, with intervals) and booktabs LaTeX
(the paper's two-row header layout). All three format the same :class:`LeaderboardTable`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from leaderboard import escape
from leaderboard.columns import group_spans
from leaderboard.table import Cell, LeaderboardTable

DECIMALS = 2
TIE_MARK = "†"


def format_value(value: float | None) -> str:
    return "–" if value is None else f"{value:.{DECIMALS}f}"


def significance_note(table: LeaderboardTable) -> str:
    return (f"Bold: best in the column. {TIE_MARK}: not significantly different from the best "
            f"(paired test on the same {table.rows[0].entry.n_questions} questions, Holm-corrected, "
            f"alpha = {table.alpha:g}).")


def _markdown_cell(cell: Cell) -> str:
    text = format_value(cell.value)
    if cell.spread is not None:
        text += f" ± {cell.spread:.{DECIMALS}f}"
    if cell.best:
        return f"**{text}**"
    return f"{text}{TIE_MARK}" if cell.tied_with_best else text


def _markdown_name(table_row_entry) -> str:
    meta = table_row_entry.meta
    name = escape.markdown(meta.name)
    url = escape.safe_url(meta.url)
    linked = f"[{name}](<{escape.markdown_url(url)}>)" if url else name
    paper = escape.safe_url(meta.paper)
    return f"{linked} ([paper](<{escape.markdown_url(paper)}>))" if paper else linked


def render_markdown(tables: Sequence[LeaderboardTable], title: str = "VCVAL leaderboard",
                    empty: str = "No submissions yet.") -> str:
    parts = [f"# {title}", ""]
    if not tables:
        parts.append(empty)
    for table in tables:
        parts += [f"## {escape.markdown(table.title)}", "",
                  f"Data fingerprint `{table.data_fingerprint[:16]}`; scorer {table.scorer_version}; "
                  f"# = rank by `{table.headline}`; "
                  "all numbers in percent.", ""]
        header = ["#", "System", "Authors", *(column.heading for column in table.columns)]
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "|".join(["---:", "---", "---"] + ["---:"] * len(table.columns)) + "|")
        for row in table.rows:
            cells = [str(row.rank), _markdown_name(row.entry), escape.markdown(row.entry.meta.authors)]
            cells += [_markdown_cell(row.cells[column.key]) for column in table.columns]
            parts.append("| " + " | ".join(cells) + " |")
        parts += ["", significance_note(table), ""]
    return "\n".join(parts).rstrip() + "\n"


def render_csv(tables: Sequence[LeaderboardTable]) -> str:
    """One row per entry and table; per metric its value, 95% interval, and tie-with-best flag."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    metric_keys: list[str] = []
    for table in tables:
        metric_keys += [column.key for column in table.columns if column.key not in metric_keys]
    header = ["split", "task", "protocol", "data_fingerprint", "rank", "name", "authors", "url", "paper",
              "submitted", "entry_id", "n_questions"]
    for key in metric_keys:
        header += [key, f"{key}_low", f"{key}_high", f"{key}_tied_with_best"]
    writer.writerow(header)
    for table in tables:
        for row in table.rows:
            meta = row.entry.meta
            line: list[object] = [meta.split, meta.task, meta.protocol, meta.data_fingerprint, row.rank, meta.name,
                                  meta.authors, meta.url, meta.paper, meta.submitted, meta.entry_id,
                                  row.entry.n_questions]
            for key in metric_keys:
                cell = row.cells.get(key, Cell(None))
                line += [_plain(cell.value), _plain(cell.low), _plain(cell.high),
                         "" if cell.value is None else int(cell.tied_with_best)]
            # Every text cell, not only the submitter's own fields: a protocol name is written by someone too.
            writer.writerow([escape.csv_cell(value) if isinstance(value, str) else value for value in line])
    return buffer.getvalue()


def _plain(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _latex_cell(cell: Cell) -> str:
    text = format_value(cell.value).replace("–", "--")
    if cell.spread is not None:
        text += rf"$\pm${cell.spread:.{DECIMALS}f}"
    if cell.best:
        return rf"\textbf{{{text}}}"
    return rf"{text}$^\dagger$" if cell.tied_with_best else text


def render_latex_table(table: LeaderboardTable, caption: str | None = None, label: str | None = None,
                       break_before: Sequence[int] = ()) -> str:
    """A booktabs ``table*`` with a grouped two-row header; needs ``\\usepackage{booktabs}``.
    ``break_before``: row positions that start a new block (a ``\\midrule`` above them)."""
    spans = group_spans(table.columns)
    lines = [r"\begin{table*}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "c" * len(table.columns) + "}", r"\toprule"]
    group_cells, rules, start = ["Method"], [], 2
    for group, width in spans:
        group_cells.append(rf"\multicolumn{{{width}}}{{c}}{{{escape.latex(group)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    lines.append(" & ".join(group_cells) + r" \\")
    lines.append(" ".join(rules))
    lines.append(" & ".join(["", *(escape.latex(column.label) for column in table.columns)]) + r" \\")
    lines.append(r"\midrule")
    for position, row in enumerate(table.rows):
        if position in break_before and position:
            lines.append(r"\midrule")
        cells = [escape.latex(row.entry.meta.name), *(_latex_cell(row.cells[c.key]) for c in table.columns)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    note = escape.latex(significance_note(table)).replace(escape.latex(TIE_MARK), r"$^\dagger$")
    lines.append(rf"\caption{{{escape.latex(caption or table.title)}. {note}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table*}")
    return "\n".join(lines) + "\n"


def render_latex(tables: Sequence[LeaderboardTable]) -> str:
    header = "% VCVAL leaderboard, generated by `vcval leaderboard`; needs \\usepackage{booktabs}.\n"
    return header + "\n".join(render_latex_table(table, label=f"tab:leaderboard-{table.slug}") for table in tables)
