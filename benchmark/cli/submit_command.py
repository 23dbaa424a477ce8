"""``vcval submit``: validate, score and store a predictions file (or a harness run) as a leaderboard entry."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.data_command import add_data_arguments, load_from_arguments
from benchmark.protocol import DEFAULT_PROTOCOL
from leaderboard.entry import SubmissionInfo
from leaderboard.store import DEFAULT_STORE, SubmissionStore, SubmitResult, submit_predictions


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "submit", help="validate, score and store a predictions file as a leaderboard entry",
        description="Validate a predictions file against a split, score it under a protocol (with 95%% "
                    "bootstrap intervals) and store it as one entry folder of the submissions store. An "
                    "invalid file is rejected with its problems and the store is left untouched; the same "
                    "content submitted again for the same split and protocol is not stored twice.")
    parser.add_argument("predictions", type=Path, help="predictions JSONL (optionally .gz)")
    add_data_arguments(parser)
    parser.add_argument("--split", required=True, help="val (validation) or test")
    parser.add_argument("--name", required=True, help="the system's name on the leaderboard")
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
    benchmark = load_from_arguments(args)
    info = SubmissionInfo(args.name, args.authors, args.url, args.paper, args.notes)
    result = submit_predictions(SubmissionStore(args.store), args.predictions, benchmark, args.split, info,
                                args.protocol, allow_missing=args.allow_missing)
    print(describe_result(result))
    return 0


def describe_result(result: SubmitResult) -> str:
    meta = result.entry.meta
    headline = next((key for key in ("R1_IoU0.5", "loc_R1_IoU0.5") if key in result.entry.metrics), None)
    verb = "stored" if result.created else "already in the store (same content, split and protocol):"
    line = f"{verb} entry {meta.entry_id} '{meta.name}' at {result.entry.path}"
    if headline:
        low, high = result.entry.ci.get(headline, (float("nan"), float("nan")))
        line += f"\n  {headline} = {result.entry.metrics[headline]:.2f} [{low:.2f}, {high:.2f}] on " \
                f"{result.entry.n_questions} questions of {meta.split}, protocol {meta.protocol} " \
                f"({meta.protocol_hash[:12]})"
    return line
