"""Localization in the gold video: the first candidate that lies in it is the system's answer."""

from __future__ import annotations

import numpy as np

from benchmark.metrics.iou import reaches


def first_in_gold_iou(gold_iou: np.ndarray, in_gold: np.ndarray) -> np.ndarray:
    """``(N,)``: IoU of the first candidate in the gold video, 0 when no candidate lies in it.

    ``gold_iou`` is the candidates' IoU with the gold span (any value outside the gold video). For a
    localization-task file every candidate lies in the gold video, so this is the first one."""
    first = np.argmax(in_gold, axis=1)
    chosen = np.take_along_axis(gold_iou, first[:, None], axis=1)[:, 0]
    return np.where(in_gold.any(axis=1), chosen, 0.0)


def hit_at_iou(ious: np.ndarray, threshold: float) -> np.ndarray:
    """``(N,)`` float 0/1: ``ious >= threshold``."""
    return reaches(ious, threshold).astype(np.float64)
