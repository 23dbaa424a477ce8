"""Pure, vectorised metric kernels: arrays in, per-question arrays out. No I/O, no aggregation.

One concept per module: :mod:`~benchmark.metrics.iou`, :mod:`~benchmark.metrics.retrieval`,
:mod:`~benchmark.metrics.localization`, :mod:`~benchmark.metrics.joint`; :mod:`~benchmark.metrics.suite`
assembles the keyed suite the scorer reports.
"""

from benchmark.metrics.iou import IOU_TOLERANCE, reaches, temporal_iou
from benchmark.metrics.retrieval import VIDEO_RANK_MODES, gold_video_rank
from benchmark.metrics.suite import (
    HEADLINE_METRICS,
    IOU_THRESHOLDS,
    JOINT_KEYS,
    LOCALIZATION_KEYS,
    PRIMARY_METRIC,
    RECALL_KS,
    SUMMARY_METRICS,
    TASKS,
    VIDEO_KEYS,
    metric_keys,
    per_question_metrics,
)

__all__ = [
    "HEADLINE_METRICS",
    "IOU_THRESHOLDS",
    "IOU_TOLERANCE",
    "JOINT_KEYS",
    "LOCALIZATION_KEYS",
    "PRIMARY_METRIC",
    "RECALL_KS",
    "SUMMARY_METRICS",
    "TASKS",
    "VIDEO_KEYS",
    "VIDEO_RANK_MODES",
    "gold_video_rank",
    "metric_keys",
    "per_question_metrics",
    "reaches",
    "temporal_iou",
]
