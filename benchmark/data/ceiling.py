"""The label ceiling: how well any span of whole subtitle pieces can match the answers of a split.

A system that answers with piece boundaries (CCGS, the text span and window localizers) can reach at most
IoU ``best_iou`` on a question: the best IoU of any span [start of piece i, end of piece j] with the gold
answer. Its mean over a split bounds such a system's loc_mIoU, and its share at 0.5 bounds loc_R1_IoU0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.metrics import temporal_iou
from benchmark.records import SplitData, Video


def span_iou_matrix(starts: np.ndarray, ends: np.ndarray, answer_start: float, answer_end: float) -> np.ndarray:
    """(n, n) IoU of span [starts[i], ends[j]] with the answer; 0 where i > j."""
    iou = temporal_iou(np.asarray(starts, dtype=np.float64)[:, None], np.asarray(ends, dtype=np.float64)[None, :],
                       answer_start, answer_end)
    return np.triu(iou)


@dataclass(frozen=True)
class LabelCeiling:
    best_iou: np.ndarray
    """Per question, in split order: the best IoU reachable from piece boundaries."""

    @property
    def mean(self) -> float:
        return float(self.best_iou.mean()) if len(self.best_iou) else 0.0

    def share_at(self, threshold: float) -> float:
        return float((self.best_iou >= threshold).mean()) if len(self.best_iou) else 0.0


def _boundaries(video: Video) -> tuple[np.ndarray, np.ndarray]:
    if not video.pieces:
        return np.array([0.0]), np.array([float(video.duration)])
    return (np.array([p.start for p in video.pieces], dtype=np.float64),
            np.array([p.end for p in video.pieces], dtype=np.float64))


def label_ceiling(split: SplitData) -> LabelCeiling:
    best = [float(span_iou_matrix(*_boundaries(split.videos[a.video_id]), a.start, a.end).max(initial=0.0))
            for a in split.annotations]
    return LabelCeiling(np.array(best, dtype=np.float64))
