"""Entry point of ``vcval``. Each subcommand lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``handler`` to a function taking the parsed arguments and
returning an exit code. Errors of the suite (:class:`~benchmark.errors.VcvalError`) are printed
without a traceback and exit with status 2."""

from __future__ import annotations

import argparse
import sys

from benchmark import __version__
from benchmark.errors import VcvalError
from vcval import (
    ablate_command,
    data_command,
    demo_command,
    leaderboard_command,
    run_command,
    score_command,
    serve_command,
    submit_command,
    train_command,
)

# Modules that each add one or more subcommands, in the order `vcval --help` lists them.
COMMAND_MODULES = (demo_command, data_command, train_command, score_command, run_command, ablate_command,
                   submit_command, leaderboard_command, serve_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcval",
        description=(
            "Benchmark suite for video corpus visual answer localization (VCVAL): find the video that "
            "answers a question and the time span that shows the answer."
        ),
    )
    parser.add_argument("--version", action="version", version=f"vcval {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:  # no command: a usage error, as for an unknown command
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except VcvalError as error:
        print(f"vcval {args.command}: error{_which_process()}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _which_process() -> str:
    """`` (process 2 of 4)`` in a run launched as several processes, where the launcher then stops the rest."""
    from benchmark.harness.processes import process_count, process_index

    count = process_count()
    return f" (process {process_index() + 1} of {count})" if count > 1 else ""
