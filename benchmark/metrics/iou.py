"""Temporal intersection over union of spans, in continuous seconds."""

from __future__ import annotations

import numpy as np

# IoU thresholds are compared with this slack, so that spans written with decimal seconds that are
# exactly on a boundary in real numbers ([1.1, 1.6] against [1.1, 2.1] is 0.5) count as reaching it
# although binary floating point puts them a few ulps below.
IOU_TOLERANCE = 1e-9


def temporal_iou(pred_start, pred_end, gold_start, gold_end) -> np.ndarray:
    """IoU of predicted spans with gold spans; arrays broadcast against each other.

    Intersection over union where union is ``max(end) - min(start)`` when the spans overlap (or touch)
    and the IoU is 0 when they are disjoint; two identical zero-length spans have IoU 1.
    """
    pred_start = np.asarray(pred_start, dtype=np.float64)
    pred_end = np.asarray(pred_end, dtype=np.float64)
    gold_start = np.asarray(gold_start, dtype=np.float64)
    gold_end = np.asarray(gold_end, dtype=np.float64)
    intersection = np.minimum(pred_end, gold_end) - np.maximum(pred_start, gold_start)
    union = np.maximum(pred_end, gold_end) - np.minimum(pred_start, gold_start)
    overlapping = intersection > 0
    iou = np.divide(intersection, union, out=np.zeros(np.broadcast(intersection, union).shape),
                    where=overlapping & (union > 0))
    identical_points = (union == 0) & (pred_start == gold_start)
    return np.where(identical_points, 1.0, iou)


def reaches(iou: np.ndarray, threshold: float) -> np.ndarray:
    """``iou >= threshold`` up to :data:`IOU_TOLERANCE`."""
    return iou >= threshold - IOU_TOLERANCE
