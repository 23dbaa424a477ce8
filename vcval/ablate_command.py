"""``vcval ablate GRID.yaml``: systems x settings x seeds under one protocol, with a comparison table."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.ablation import load_grid, run_cells, run_grid
from benchmark.data import load_benchmark
from benchmark.data.sources import FORMATS
from benchmark.errors import ConfigError


def register(subparsers) -> None:
    ablate = subparsers.add_parser(
        "ablate", help="run an experiment (ablation grid) and write its comparison table",
        description="Run every variant x seed of an experiment file (or take it from a published run the file "
                    "imports), each variant under its protocol, and write a "
                    "table of mean +/- std over seeds with paired tests against the base variant and between the "
                    "file's listed comparisons (Holm-corrected), and its figure. The file format is in "
                    "docs/harness.md \"Experiments\"; the committed ones are under experiments/.")
    ablate.add_argument("grid", type=Path, metavar="EXPERIMENT.yaml", help="the experiment (grid) file")
    ablate.add_argument("--data-dir", type=Path, default=None, help="data folder (default: the file's data_dir, or the synthetic data it names)")
    ablate.add_argument("--format", dest="data_format", choices=FORMATS, default=None,
                        help="layout of --data-dir (default: detected)")
    ablate.add_argument("--out", required=True, type=Path, help="folder for the table and one run folder per cell (refused if it holds a grid or run)")
    ablate.add_argument("--overwrite", action="store_true",
                        help="replace the grid in --out (each run folder goes only once its new run is complete)")
    ablate.add_argument("--resume", action="store_true",
                        help="keep the cells of --out that finished with the same settings; run the others")
    ablate.add_argument("--publish", action="store_true",
                        help="also copy the table, figure and every cell's predictions (gzipped), manifest and scores to "
                             "the file's 'results' folder (replacing what an earlier --publish of it wrote there)")
    ablate.add_argument("--only", nargs="+", default=None, metavar="VARIANT",
                        help="run only these variants' cells (every seed) and leave the folder's other cells as they "
                             "are, writing no table: several processes can share a grid this way (one variant "
                             "each), then the whole grid with --resume keeps their cells and writes the table")
    ablate.add_argument("--no-track", action="store_true", help="do not log the runs to MLflow")
    ablate.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    ablate.add_argument("--experiment", default=None, help="MLflow experiment (default: vcval-grid-<grid name>)")
    ablate.set_defaults(handler=_ablate)


def _ablate(args: argparse.Namespace) -> int:
    if args.only is not None and args.publish:
        raise ConfigError("--only writes no table, so there is nothing to --publish: run the whole grid with "
                          "--resume --publish once its cells are done")
    grid = load_grid(args.grid)
    data = load_benchmark(args.data_dir, args.data_format) if args.data_dir is not None else None
    options = dict(track=not args.no_track, tracking_uri=args.tracking_uri, experiment=args.experiment,
                   overwrite=args.overwrite, resume=args.resume)
    if args.only is not None:
        run_cells(grid, data, args.out, args.only, **options)
    else:
        run_grid(grid, data, args.out, publish_results=args.publish, **options)
    return 0
