"""``render_leaderboard``: every output of ``vcval leaderboard`` from a store, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaderboard.plots import plot_tables
from leaderboard.render_html import render_html
from leaderboard.render_text import render_csv, render_latex, render_markdown
from leaderboard.store import SubmissionStore
from leaderboard.table import LeaderboardTable, build_tables


@dataclass(frozen=True)
class RenderedLeaderboard:
    tables: list[LeaderboardTable]
    files: list[Path]


def render_leaderboard(store: SubmissionStore | str | Path, out_dir: str | Path, split: str | None = None,
                       plots: bool = True, strict: bool = False) -> RenderedLeaderboard:
    """Write ``leaderboard.{md,csv,tex,html}`` and, per comparable group, ``plots/<group>/*.{png,svg}``.

    A store folder that is not a readable entry (or whose files do not match its record) is skipped with
    a warning naming it; ``strict`` refuses the whole store instead."""
    store = store if isinstance(store, SubmissionStore) else SubmissionStore(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = build_tables(store.entries(strict=strict), split)
    files = []
    for name, text in (("leaderboard.md", render_markdown(tables)), ("leaderboard.csv", render_csv(tables)),
                       ("leaderboard.tex", render_latex(tables)), ("leaderboard.html", render_html(tables))):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        files.append(path)
    if plots:
        files += plot_tables(tables, out_dir / "plots")
    return RenderedLeaderboard(tables, files)
