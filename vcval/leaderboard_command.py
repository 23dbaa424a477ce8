"""``vcval leaderboard`` (the submissions store as Markdown, CSV, LaTeX, an HTML page and plots) and
``vcval paper`` (the paper's main comparison and ablation tables from recorded runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from leaderboard.store import DEFAULT_STORE


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard", help="render the submissions store: Markdown, CSV, LaTeX, HTML page and plots",
        description="Render every comparable group of the submissions store (same split, task, protocol and "
                    "data fingerprint) as leaderboard.md, leaderboard.csv, leaderboard.tex (booktabs), "
                    "leaderboard.html (one self-contained page, sortable, with 95%% intervals and ties with "
                    "the best) and plots/<group>/*.png|svg.")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"submissions store (default {DEFAULT_STORE})")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--split", default=None, help="only entries of this split (default: all)")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--strict", action="store_true",
                        help="refuse the store (exit 2) if any folder in it is not a readable, consistent entry, or "
                             "is an entry whose scores cannot be checked (default: skip it with a warning naming it)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the entries' data folder: every entry on that data is re-scored from its stored "
                             "predictions and refused when its stored scores differ")
    parser.set_defaults(handler=_leaderboard)

    paper = subparsers.add_parser(
        "paper", help="the paper's main comparison and ablation tables (LaTeX, Markdown) and plots from recorded runs",
        description="Regenerate the paper's tables from what was recorded: run folders of `vcval run`, grid "
                    "folders of `vcval ablate` (their ablation.json), submissions stores, or mlflow:EXPERIMENT "
                    "(runs logged to MLflow; MLFLOW_TRACKING_URI or ./mlflow.db). Folders are searched "
                    "recursively. Writes main.md, main.tex, ablation.md, ablation.tex and plots/.")
    paper.add_argument("--runs", nargs="+", required=True, metavar="SOURCE",
                       help="run folders, grid folders, stores, or mlflow:EXPERIMENT")
    paper.add_argument("--out", type=Path, required=True, help="output folder")
    paper.add_argument("--no-plots", action="store_true", help="skip the plots")
    paper.set_defaults(handler=_paper)


def _leaderboard(args: argparse.Namespace) -> int:
    from leaderboard.build import render_leaderboard  # matplotlib loads only when rendering

    data = None
    if args.data_dir is not None:
        from benchmark.data import load_benchmark

        data = load_benchmark(args.data_dir)
    rendered = render_leaderboard(args.store, args.out, args.split, plots=not args.no_plots, strict=args.strict,
                                  data=data)
    entries = sum(len(table.rows) for table in rendered.tables)
    print(f"{entries} entries in {len(rendered.tables)} comparable group(s) from {args.store}")
    for table in rendered.tables:
        print(f"  {table.title} ({table.data_fingerprint[:12]}): {len(table.rows)} entries, "
              f"best {table.headline} = {table.rows[0].entry.metrics.get(table.headline, float('nan')):.2f} "
              f"({table.rows[0].entry.meta.name})")
    print(f"wrote {len(rendered.files)} files to {args.out}: leaderboard.md, .csv, .tex, .html and plots/")
    return 0


def _paper(args: argparse.Namespace) -> int:
    from leaderboard.paper import write_paper

    outputs = write_paper(args.runs, args.out, plots=not args.no_plots)
    systems = sum(len(table.rows) for table in outputs.main)
    print(f"main comparison: {systems} systems in {len(outputs.main)} table(s); "
          f"{len(outputs.ablations)} ablation grid(s)")
    print(f"wrote {len(outputs.files)} files to {args.out}: main.md, main.tex, ablation.md, ablation.tex and plots/")
    return 0
