"""Argument types of ``vcval``: numbers checked where the option is declared, so a bad value is a
one-line usage error (exit 2) before anything runs, never a traceback or a silent no-op."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from benchmark.outputs import STDOUT
from benchmark.protocol import MAX_SEED
from benchmark.stats import MAX_RESAMPLES

# Budgets a user may raise, capped so that a typo cannot ask for more memory than a machine has.
MAX_COUNT = 10**9


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


seed = bounded_int(0, MAX_SEED)
resamples = bounded_int(0, MAX_RESAMPLES)
count = bounded_int(0, MAX_COUNT)
positive_count = bounded_int(1, MAX_COUNT)
byte_count = bounded_int(1, 1 << 40)  # a file size limit: reading is streamed, so only the file system bounds it


def output_path(text: str) -> Path:
    """An output file (``-``: standard output, see :mod:`benchmark.outputs`); the empty string is refused."""
    if not text:
        raise argparse.ArgumentTypeError(f"expected a file name (or {STDOUT} for standard output)")
    return Path(text)
