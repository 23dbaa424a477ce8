"""Video features for the visual branch: resampled to L clips (cached by the data layer's loader)."""

from __future__ import annotations

import logging

import numpy as np

from benchmark.data.features import load_clip_features
from benchmark.records import Video

log = logging.getLogger(__name__)


class ClipFeatures:
    """``get(video)`` -> (clips <= L, dim) float32, or None for a video without a feature file (its
    highlight vector is then all zero, so fusion leaves its markers unchanged)."""

    def __init__(self, num_clips: int, resampling: str = "every_clip") -> None:
        self.num_clips = num_clips
        self.last_clip = resampling == "every_clip"  # ``authors``: the last bin leaves out the final clip
        self.missing: set[str] = set()

    def get(self, video: Video) -> np.ndarray | None:
        if video.feature_path is None:
            if video.video_id not in self.missing:
                self.missing.add(video.video_id)
                log.warning("video %s has no features: its visual branch input is empty", video.video_id)
            return None
        # load_clip_features keeps the resampled array per (path, clips, last_clip): no second cache here.
        return load_clip_features(video.feature_path, self.num_clips, self.last_clip)
