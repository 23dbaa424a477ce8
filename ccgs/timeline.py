"""Where subtitle pieces sit among the clips of a video, for the temporal fusion.

The real clips of a video (after resampling) are spread evenly over its duration
(:func:`benchmark.data.features.clip_bounds`); a piece covers ``[start, end]`` of its subtitle.
"""

from __future__ import annotations

import numpy as np

from benchmark.data.features import clip_bounds


def piece_clip_coverage(starts: np.ndarray, ends: np.ndarray, duration: float, num_clips: int,
                        length: int) -> np.ndarray:
    """(pieces, ``length``) float32: entry (p, c) is the share of clip c's time that piece p covers, for
    ``num_clips`` clips over ``duration`` (columns from ``num_clips`` on are padding, all 0). A piece's
    row times the clips' highlight scores is the score mass of the clips it covers."""
    coverage = np.zeros((len(starts), length), dtype=np.float32)
    if num_clips == 0 or duration <= 0:
        return coverage
    clip_starts, clip_ends = clip_bounds(num_clips, duration)
    overlap = (np.minimum(np.asarray(ends, dtype=np.float64)[:, None], clip_ends[None, :])
               - np.maximum(np.asarray(starts, dtype=np.float64)[:, None], clip_starts[None, :]))
    coverage[:, :num_clips] = np.clip(overlap, 0.0, None) / (clip_ends - clip_starts)[None, :]
    return coverage
