"""``render_leaderboard``: every output of ``vcval leaderboard`` from a store, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from benchmark.data.loader import Benchmark
from benchmark.errors import ConfigError
from benchmark.ownership import built_aside
from leaderboard.plots import plot_tables
from leaderboard.render_html import render_html
from leaderboard.render_text import render_csv, render_latex, render_markdown
from leaderboard.store import SubmissionStore
from leaderboard.table import LeaderboardTable, build_tables

SITE_FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.tex", "leaderboard.html")
MADE_BY = "vcval leaderboard"


@dataclass(frozen=True)
class RenderedLeaderboard:
    tables: list[LeaderboardTable]
    files: list[Path]


def is_site_file(name: str) -> bool:
    """A file a leaderboard site holds (relative, '/'-separated): its four pages and its plots."""
    parts = PurePosixPath(name).parts
    return name in SITE_FILES or (len(parts) == 3 and parts[0] == "plots" and parts[2].endswith((".png", ".svg")))


def render_leaderboard(store: SubmissionStore | str | Path, out_dir: str | Path, split: str | None = None,
                       plots: bool = True, strict: bool = False, data: Benchmark | None = None) -> RenderedLeaderboard:
    """Write ``leaderboard.{md,csv,tex,html}`` and, per comparable group, ``plots/<group>/*.{png,svg}``.

    The store must be an existing folder. Entries are read (and checked) before anything is written: a
    folder that is not a readable, consistent entry is skipped with a warning naming it; ``strict``
    refuses the whole store instead; ``data`` re-scores every entry on that data
    (:meth:`SubmissionStore.entries`). The site is built aside and swapped in for ``out_dir`` whole
    (:func:`benchmark.ownership.built_aside`), so ``out_dir`` holds the old site or the new one, never a mix."""
    store = store if isinstance(store, SubmissionStore) else SubmissionStore(store)
    out_dir = Path(out_dir)
    _check_store(store.root, out_dir)
    tables = build_tables(store.entries(strict=strict, data=data), split)
    with built_aside(out_dir, "site", what=MADE_BY, made_by=MADE_BY, legacy=is_site_file) as staging:
        for name, text in (("leaderboard.md", render_markdown(tables)), ("leaderboard.csv", render_csv(tables)),
                           ("leaderboard.tex", render_latex(tables)), ("leaderboard.html", render_html(tables))):
            (staging / name).write_text(text, encoding="utf-8")
        written = [staging / name for name in SITE_FILES]
        if plots:
            written += plot_tables(tables, staging / "plots")
    return RenderedLeaderboard(tables, [out_dir / path.relative_to(staging) for path in written])


def _check_store(root: Path, out_dir: Path) -> None:
    """A missing or mistyped store must not publish an empty board over the real one."""
    if not root.exists():
        raise ConfigError(f"no submissions store at {root}: nothing was rendered and {out_dir} is left as it is")
    if not root.is_dir():
        raise ConfigError(f"{root} is a file, not a submissions store: nothing was rendered")
    store, out = root.resolve(), out_dir.resolve()
    if out == store or out in store.parents or store in out.parents:
        raise ConfigError(f"the output folder {out_dir} and the store {root} overlap: rendering would replace "
                          "the store; give an output folder outside it")
