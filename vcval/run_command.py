"""``vcval run``, ``vcval systems`` and ``vcval runs``: thin wrappers over the harness and tracking."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.harness import run_system
from benchmark.harness.settings import resolve_config
from benchmark.metrics import HEADLINE_METRICS
from benchmark.protocol import DEFAULT_PROTOCOL, load_protocol, named_protocols
from benchmark.registry import available_systems
from benchmark.tracking import default_tracking_uri, list_runs, log_run_folder, missing_local_store, warn
from vcval import arguments
from vcval.data_command import add_data_arguments, load_from_arguments


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol``, ``--seed`` and the tracking options shared by ``run`` and ``ablate``."""
    parser.add_argument("--protocol", default=None,
                        help=f"a shipped protocol ({', '.join(named_protocols())}; default {DEFAULT_PROTOCOL}) "
                             "or a protocol YAML file")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow (the run folder has everything)")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    parser.add_argument("--experiment", default=None,
                        help="MLflow experiment (default: vcval-<protocol name>)")


def register(subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="train, select, predict, score and track one system under a protocol",
        description="Train SYSTEM on train, let it select on the protocol's selection split, predict the "
                    "evaluated split once, score it with intervals, write everything to --out and log it to "
                    "MLflow. Systems see only questions without answers for the split they predict.")
    run.add_argument("system", metavar="SYSTEM", help="a name from `vcval systems`, or module:factory")
    add_data_arguments(run)
    run.add_argument("--split", default=None, help="evaluated split: test or validation (default: the protocol's)")
    run.add_argument("--task", choices=("corpus", "localization"), default=None,
                     help="corpus (search the corpus) or localization (the gold video is given; oracle systems); "
                          "default: the protocol's")
    add_protocol_arguments(run)
    run.add_argument("--seed", type=arguments.seed, default=None, help="run seed (default: the protocol's first seed)")
    run.add_argument("--config", type=Path, default=None, help="YAML or JSON file of system options")
    run.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                     help="a system option (repeatable; dotted keys for nested options; values read as YAML)")
    run.add_argument("--out", required=True, type=Path, help="run folder to write (refused if it holds a run)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the run in --out (the old folder goes only once the new run is complete)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars nor epoch lines on stderr (bars show only when stderr is a terminal)")
    run.set_defaults(handler=_run)

    systems = subparsers.add_parser("systems", help="list the systems `vcval run` knows",
                                    description="Every system of the baselines' and CCGS's catalogs, and any added "
                                                "through the 'vcval.systems' entry point group.")
    systems.set_defaults(handler=_systems)

    runs = subparsers.add_parser(
        "runs", help="list runs recorded in MLflow, or log a run folder",
        description="List recorded runs, newest first, with their headline metrics. Open them in the MLflow UI "
                    "with `mlflow ui --backend-store-uri sqlite:///mlflow.db`.")
    runs.add_argument("--tracking-uri", default=None,
                      help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    runs.add_argument("--experiment", default=None, help="only this experiment")
    runs.add_argument("--system", default=None, help="only this system")
    runs.add_argument("--protocol-hash", default=None, help="only runs whose protocol hash starts with this")
    runs.add_argument("--metrics", default=",".join(HEADLINE_METRICS), help="comma-separated metric columns")
    runs.add_argument("--limit", type=arguments.positive_count, default=30, help="at most this many runs (default 30)")
    runs.add_argument("--log", dest="log_dir", type=Path, default=None, metavar="RUN_DIR",
                      help="log a finished run folder (e.g. one whose store was unreachable) instead of listing")
    runs.set_defaults(handler=_runs)


def _run(args: argparse.Namespace) -> int:
    protocol = load_protocol(args.protocol)
    if args.task is not None:
        protocol = protocol.replace(task=args.task)
    config = resolve_config(args.config, args.assignments)
    # The data is loaded once the system is built, so that a bad setting fails first. A store that cannot be
    # reached is a warning, not a failure: the run folder holds the whole run.
    run_system(args.system, lambda: load_from_arguments(args), args.out, split=args.split, protocol=protocol,
               config=config, seed=args.seed, track=not args.no_track, tracking_uri=args.tracking_uri,
               experiment=args.experiment, overwrite=args.overwrite, quiet=args.quiet)
    return 0


def _systems(args: argparse.Namespace) -> int:
    entries = available_systems()
    width = max((len(name) for name in entries), default=6)
    print(f"{'system':<{width}}  {'from':<18}  description")
    for name in sorted(entries):
        entry = entries[name]
        print(f"{name:<{width}}  {entry.source:<18}  {entry.summary}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    if args.log_dir is not None:
        result = log_run_folder(args.log_dir, uri=args.tracking_uri, experiment=args.experiment)
        if result.warning:
            warn(result.warning)
            return 1
        print(f"logged {args.log_dir} as run {result.run_id} in experiment '{result.experiment}' at {result.uri}")
        return 0
    uri = args.tracking_uri or default_tracking_uri()
    missing = missing_local_store(uri)
    if missing is not None:
        print(f"no MLflow store at {missing}: no run has been tracked from this folder "
              "(set MLFLOW_TRACKING_URI or --tracking-uri to read another store)")
        return 0
    rows = list_runs(uri=uri, experiment=args.experiment, system=args.system,
                     protocol_hash=args.protocol_hash, limit=args.limit)
    if not rows:
        print("no vcval runs recorded in this store")
        return 0
    metrics = [key.strip() for key in args.metrics.split(",") if key.strip()]
    header = ["started", "system", "split", "protocol", "hash", "seed", *metrics, "run id"]
    table = [[row.started, row.system, row.split, row.protocol, row.protocol_hash[:12], row.seed,
              *(f"{row.metrics[key]:.2f}" if key in row.metrics else "-" for key in metrics), row.run_id[:12]]
             for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *table, strict=False)]
    for line in [header, *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
    return 0
