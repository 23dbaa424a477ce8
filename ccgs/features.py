"""Video features for the visual branch: resampled to L clips once per video and kept in memory."""

from __future__ import annotations

import logging

import numpy as np

from benchmark.data.features import load_clip_features
from benchmark.records import Video

log = logging.getLogger(__name__)


class ClipFeatures:
    """``get(video)`` -> (clips <= L, dim) float32, or None for a video without a feature file (its
    highlight vector is then all zero, so fusion leaves its markers unchanged)."""

    def __init__(self, num_clips: int) -> None:
        self.num_clips = num_clips
        self._cache: dict[str, np.ndarray | None] = {}
        self.missing: set[str] = set()

    def get(self, video: Video) -> np.ndarray | None:
        if video.video_id not in self._cache:
            if video.feature_path is None:
                self.missing.add(video.video_id)
                log.warning("video %s has no features: its visual branch input is empty", video.video_id)
                self._cache[video.video_id] = None
            else:
                self._cache[video.video_id] = load_clip_features(video.feature_path, self.num_clips)
        return self._cache[video.video_id]
