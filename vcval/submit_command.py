"""``vcval submit``: validate, score and store a predictions file (or a harness run) as a leaderboard entry."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.errors import ConfigError
from benchmark.metrics import PRIMARY_METRIC
from benchmark.predictions import require_predictions_file
from benchmark.protocol import DEFAULT_PROTOCOL
from benchmark.tracking import default_tracking_uri, missing_local_store
from leaderboard.entry import SubmissionInfo
from leaderboard.runs import read_manifest, resolve_run
from leaderboard.store import DEFAULT_STORE, SubmissionStore, SubmitResult, publish_run, submit_predictions
from vcval.data_command import add_data_arguments, load_from_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "submit", help="validate, score and store a predictions file as a leaderboard entry",
        description="Validate a predictions file against a split, score it under a protocol (with 95%% "
                    "bootstrap intervals) and store it as one entry folder of the submissions store. An "
                    "invalid file is rejected with its problems and the store is left untouched; the same "
                    "content submitted again for the same split and protocol is not stored twice.")
    parser.add_argument("predictions", type=Path, nargs="?", help="predictions JSONL (optionally .gz)")
    parser.add_argument("--from-run", metavar="RUN", default=None,
                        help="publish a harness run instead of a file: its folder, or its MLflow run id; its own "
                             "split and protocol are used")
    add_data_arguments(parser)
    parser.add_argument("--split", default=None, help="val (validation) or test (required for a file)")
    parser.add_argument("--name", default=None, help="the system's name on the leaderboard (default for a run: "
                                                     "its grid variant or system)")
    parser.add_argument("--authors", default="", help="who built it")
    parser.add_argument("--url", default="", help="code or project page (http/https)")
    parser.add_argument("--paper", default="", help="paper link (http/https)")
    parser.add_argument("--notes", default="", help="one line on what the entry is")
    parser.add_argument("--protocol", default=DEFAULT_PROTOCOL,
                        help=f"shipped protocol name or protocol YAML (default {DEFAULT_PROTOCOL}): fixes the task, "
                             "the corpus candidates may point to, the video ranking and the bootstrap")
    parser.add_argument("--allow-missing", action="store_true", help="questions without a line score 0")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"submissions store (default {DEFAULT_STORE})")
    parser.set_defaults(handler=_submit)


def _submit(args: argparse.Namespace) -> int:
    if (args.predictions is None) == (args.from_run is None):
        raise ConfigError("give either a predictions file or --from-run RUN, not both or neither")
    store = SubmissionStore(args.store)
    if args.from_run:
        _check_run_reference(args.from_run)
        run_dir = resolve_run(args.from_run)
        manifest = read_manifest(run_dir)  # refuses a folder whose files are not the run's
        name = args.name or manifest.labels.get("variant") or manifest.system
        info = SubmissionInfo(name, args.authors, args.url, args.paper, args.notes)
        result = publish_run(store, run_dir, load_from_arguments(args), info)
    else:
        if not args.split or not args.name:
            raise ConfigError("a predictions file needs --split and --name")
        require_predictions_file(args.predictions)  # before the store hashes it: a FIFO would block
        info = SubmissionInfo(args.name, args.authors, args.url, args.paper, args.notes)
        result = submit_predictions(store, args.predictions, load_from_arguments(args), args.split, info,
                                    args.protocol, allow_missing=args.allow_missing)
    print(describe_result(result))
    return 0


def _check_run_reference(reference: str) -> None:
    """A mistyped folder is refused as such, and a run id is looked up only in a store that exists (opening
    a missing SQLite store would create ``mlflow.db``)."""
    if (Path(reference) / "manifest.json").is_file():
        return
    if Path(reference).exists() or "/" in reference or "\\" in reference:
        raise ConfigError(f"--from-run {reference}: not a run folder (no manifest.json)")
    missing = missing_local_store(default_tracking_uri())
    if missing is not None:
        raise ConfigError(f"--from-run {reference}: no such run folder, and no MLflow store at {missing} to look it "
                          "up as a run id (set MLFLOW_TRACKING_URI to the store that tracked it)")


def describe_result(result: SubmitResult) -> str:
    meta = result.entry.meta
    headline = next((key for key in PRIMARY_METRIC.values() if key in result.entry.metrics), None)
    verb = "stored" if result.created else "already in the store (same content, split and protocol):"
    line = f"{verb} entry {meta.entry_id} '{meta.name}' at {result.entry.path}"
    if headline:
        low, high = result.entry.ci.get(headline, (float("nan"), float("nan")))
        line += f"\n  {headline} = {result.entry.metrics[headline]:.2f} [{low:.2f}, {high:.2f}] on " \
                f"{result.entry.n_questions} questions of {meta.split}, protocol {meta.protocol} " \
                f"({meta.protocol_hash[:12]})"
    return line
