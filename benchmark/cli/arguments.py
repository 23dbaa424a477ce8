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


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


seed = bounded_int(0, MAX_SEED)
resamples = bounded_int(0, MAX_RESAMPLES)
count = bounded_int(0, MAX_COUNT)
positive_count = bounded_int(1, MAX_COUNT)


def output_path(text: str) -> Path:
    """An output file: ``-`` (standard output) is kept as ``-``; the empty string is refused."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name (or - for standard output)")
    return Path(STDOUT) if text == STDOUT else Path(text)
