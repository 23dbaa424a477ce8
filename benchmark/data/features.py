"""Video features (I3D, clips x 1024): loaded lazily with memory mapping and resampled to at most N clips
by averaging neighbouring clips, as the CCGS / VSLNet code does."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from benchmark.errors import DataError


def resample_clips(features: np.ndarray, max_clips: int, last_clip: bool = True) -> np.ndarray:
    """Average consecutive clips into ``max_clips`` bins when there are more clips than that.

    Bin ``i`` covers clips ``round(i * n / max_clips)`` up to ``round((i + 1) * n / max_clips)``; an
    empty bin takes the single clip at its start. The result is float32. Without ``last_clip``, every
    bin edge is capped at ``n - 1``, as VSLNet's ``visual_feature_sampling`` (the CCGS authors' code), so
    the last bin leaves out the final clip.
    """
    num_clips = features.shape[0]
    if num_clips <= max_clips:
        return np.asarray(features, dtype=np.float32)
    bounds = np.round(np.arange(max_clips + 1) * num_clips / max_clips).astype(np.int64)
    bounds = np.minimum(bounds, num_clips - 1)
    if last_clip:
        bounds[-1] = num_clips
    starts, ends = bounds[:-1], np.maximum(bounds[1:], bounds[:-1] + 1)
    cumulative = np.concatenate([np.zeros((1, features.shape[1])), np.cumsum(features, axis=0, dtype=np.float64)])
    sums = cumulative[ends] - cumulative[starts]
    return (sums / (ends - starts)[:, None]).astype(np.float32)


def clip_bounds(count: int, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end seconds of ``count`` clips spread evenly over ``duration``: where the clips of a video's
    (resampled) features sit in time, for every system that maps clips to seconds."""
    edges = np.linspace(0.0, duration, count + 1)
    return edges[:-1], edges[1:]


@lru_cache(maxsize=4096)
def load_clip_features(path: str, max_clips: int, last_clip: bool = True) -> np.ndarray:
    """Features of one video, resampled to at most ``max_clips`` clips (cached per path, size and
    ``last_clip``, see :func:`resample_clips`)."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read video features: {error}", path=path) from error
    if array.ndim != 2:
        raise DataError(f"expected video features of shape (clips, dim), got {array.shape}", path=path,
                        field="shape")
    features = resample_clips(array, max_clips, last_clip)
    if not np.isfinite(features).all():
        raise DataError("video features contain NaN or infinite values", path=path)
    return features
