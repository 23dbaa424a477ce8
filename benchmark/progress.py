"""What a long run shows while it works, on stderr.

Systems ask here instead of deciding alone, so that one switch (``--quiet``, or ``echo=False`` in
:func:`benchmark.harness.run_system`) governs them all:

* :func:`bars` -- progress bars (tqdm) for training and inference: on when stderr is a terminal and the
  run is not quiet;
* :func:`epoch_line` -- one line per epoch (or other long step): on unless the run is quiet, also when
  stderr goes to a file or a pipe, where bars would only litter it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

_quiet = False


@contextlib.contextmanager
def quiet(value: bool = True) -> Iterator[None]:
    """Within the block, hide progress (``value`` True) or show it (False); the previous mode comes back."""
    global _quiet
    previous, _quiet = _quiet, value
    try:
        yield
    finally:
        _quiet = previous


def bars() -> bool:
    """Whether progress bars should be drawn now."""
    return not _quiet and sys.stderr.isatty()


def epoch_line(message: str) -> None:
    """Print one progress line to stderr, unless the run is quiet."""
    if not _quiet:
        print(message, file=sys.stderr, flush=True)
