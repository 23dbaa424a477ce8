"""The vcval metric suite: every per-question value, keyed exactly as the paper tables name them.

Inputs are padded candidate matrices (see :mod:`benchmark.metrics.retrieval`); outputs are ``(N,)``
arrays in percent (0-100) whose means are the reported metrics.
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics.joint import best_iou_at_k, gold_iou_matrix, recall_at_k_iou
from benchmark.metrics.localization import first_in_gold_iou, hit_at_iou
from benchmark.metrics.retrieval import PAD, gold_video_rank, recall_at_k, reciprocal_rank

RECALL_KS = (1, 5, 10, 50, 100)
IOU_THRESHOLDS = (0.3, 0.5, 0.7)
TASKS = ("corpus", "localization")

VIDEO_KEYS = tuple(f"video_R{k}" for k in RECALL_KS) + ("video_MRR",)
JOINT_KEYS = tuple(f"R{k}_IoU{m}" for k in RECALL_KS for m in IOU_THRESHOLDS) + tuple(f"R{k}_mIoU" for k in RECALL_KS)
LOCALIZATION_KEYS = tuple(f"loc_R1_IoU{m}" for m in IOU_THRESHOLDS) + ("loc_mIoU",)

HEADLINE_METRICS = ("video_R1", "video_MRR", "R1_IoU0.5", "R10_IoU0.5", "R1_mIoU", "loc_mIoU")
"""The few metrics every short table shows by default: grids, the demo, run listings, slices, baselines."""
SUMMARY_METRICS = ("video_R1", "video_R10", "video_MRR", "R1_IoU0.3", "R1_IoU0.5", "R1_IoU0.7", "R10_IoU0.5",
                   "R100_IoU0.5", "R1_mIoU", "loc_R1_IoU0.5", "loc_mIoU")
"""The longer list of a run's one-screen summary."""
PRIMARY_METRIC = {"corpus": "R1_IoU0.5", "localization": "loc_R1_IoU0.5"}
"""The one number per task that a leaderboard ranks on when nobody asks otherwise."""


def metric_keys(task: str = "corpus") -> tuple[str, ...]:
    """The keys reported for a task: video retrieval ones only make sense on the corpus track."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return (VIDEO_KEYS if task == "corpus" else ()) + JOINT_KEYS + LOCALIZATION_KEYS


def per_question_metrics(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray, gold_codes: np.ndarray,
                         gold_starts: np.ndarray, gold_ends: np.ndarray, *, task: str = "corpus",
                         video_rank: str = "distinct") -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every metric of ``task`` per question, in percent, and the gold video's rank (0 when absent).

    ``codes`` (N, C) int video codes padded with -1; ``starts``/``ends`` (N, C) seconds (any value on
    padding); ``gold_*`` (N,) the gold video code and span of each question.
    """
    keys = metric_keys(task)
    gold_codes = np.asarray(gold_codes)
    if codes.shape[1] == 0:  # no question has a candidate: one padding column keeps every kernel simple
        codes = np.full((codes.shape[0], 1), PAD, dtype=codes.dtype)
        starts = ends = np.zeros(codes.shape)
    in_gold = (codes == gold_codes[:, None]) & (codes != PAD)
    gold_iou = gold_iou_matrix(starts, ends, in_gold, np.asarray(gold_starts, dtype=np.float64),
                               np.asarray(gold_ends, dtype=np.float64))
    values: dict[str, np.ndarray] = {}

    ranks = gold_video_rank(codes, gold_codes, video_rank)
    if "video_MRR" in keys:
        for k in RECALL_KS:
            values[f"video_R{k}"] = recall_at_k(ranks, k)
        values["video_MRR"] = reciprocal_rank(ranks)

    for k in RECALL_KS:
        best = best_iou_at_k(gold_iou, k)
        for m in IOU_THRESHOLDS:
            values[f"R{k}_IoU{m}"] = recall_at_k_iou(best, m)
        values[f"R{k}_mIoU"] = best

    located = first_in_gold_iou(gold_iou, in_gold)
    for m in IOU_THRESHOLDS:
        values[f"loc_R1_IoU{m}"] = hit_at_iou(located, m)
    values["loc_mIoU"] = located
    return {key: values[key] * 100.0 for key in keys}, ranks
