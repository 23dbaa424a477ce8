"""Where clips and subtitle pieces sit in time, for the temporal fusion and the highlight labels.

The ``n`` real clips of a video (after resampling) are spread evenly over its duration, clip ``c`` covering
``[c d / n, (c + 1) d / n)``; a piece covers ``[start, end]`` of its subtitle.
"""

from __future__ import annotations

import numpy as np


def clip_edges(num_clips: int, duration: float) -> np.ndarray:
    """The ``num_clips + 1`` boundaries (seconds) of clips spread evenly over ``duration``."""
    return np.arange(num_clips + 1) * (duration / num_clips)


def piece_clip_coverage(starts: np.ndarray, ends: np.ndarray, duration: float, num_clips: int,
                        length: int) -> np.ndarray:
    """(pieces, ``length``) float32: entry (p, c) is the share of clip c's time that piece p covers, for
    ``num_clips`` clips over ``duration`` (columns from ``num_clips`` on are padding, all 0). A piece's
    row times the clips' highlight scores is the score mass of the clips it covers."""
    coverage = np.zeros((len(starts), length), dtype=np.float32)
    if num_clips == 0 or duration <= 0:
        return coverage
    edges = clip_edges(num_clips, duration)
    overlap = (np.minimum(np.asarray(ends, dtype=np.float64)[:, None], edges[None, 1:])
               - np.maximum(np.asarray(starts, dtype=np.float64)[:, None], edges[None, :-1]))
    coverage[:, :num_clips] = np.clip(overlap, 0.0, None) / (duration / num_clips)
    return coverage
