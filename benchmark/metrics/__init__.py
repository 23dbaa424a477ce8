"""Pure, vectorised metric kernels: arrays in, per-question arrays out. No I/O, no aggregation.

One concept per module: :mod:`~benchmark.metrics.iou`, :mod:`~benchmark.metrics.retrieval`,
:mod:`~benchmark.metrics.localization`, :mod:`~benchmark.metrics.joint`; :mod:`~benchmark.metrics.suite`
assembles the keyed suite the scorer reports.
"""

from benchmark.metrics.iou import IOU_TOLERANCE, temporal_iou
from benchmark.metrics.retrieval import VIDEO_RANK_MODES, gold_video_rank
from benchmark.metrics.suite import (
    IOU_THRESHOLDS,
    JOINT_KEYS,
    LOCALIZATION_KEYS,
    RECALL_KS,
    TASKS,
    VIDEO_KEYS,
    metric_keys,
    per_question_metrics,
)

__all__ = [
    "IOU_THRESHOLDS",
    "IOU_TOLERANCE",
    "JOINT_KEYS",
    "LOCALIZATION_KEYS",
    "RECALL_KS",
    "TASKS",
    "VIDEO_KEYS",
    "VIDEO_RANK_MODES",
    "gold_video_rank",
    "metric_keys",
    "per_question_metrics",
    "temporal_iou",
]
