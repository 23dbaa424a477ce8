"""Joint retrieval and localization: the best span among the first K candidates, over the whole corpus."""

from __future__ import annotations

import numpy as np

from benchmark.metrics.iou import reaches, temporal_iou


def gold_iou_matrix(starts: np.ndarray, ends: np.ndarray, in_gold: np.ndarray, gold_starts: np.ndarray,
                    gold_ends: np.ndarray) -> np.ndarray:
    """``(N, C)``: a candidate's IoU with the gold span when it lies in the gold video, else 0.

    Only the candidates in the gold video (a few per question) are measured."""
    rows, columns = np.nonzero(in_gold)
    matrix = np.zeros(in_gold.shape)
    matrix[rows, columns] = temporal_iou(starts[rows, columns], ends[rows, columns], gold_starts[rows],
                                         gold_ends[rows])
    return matrix


def best_iou_at_k(gold_iou: np.ndarray, k: int) -> np.ndarray:
    """``(N,)``: best IoU among the first ``k`` candidates (those outside the gold video count 0).

    Lists shorter than ``k`` simply contribute what they have."""
    return gold_iou[:, :k].max(axis=1)


def recall_at_k_iou(best_iou: np.ndarray, threshold: float) -> np.ndarray:
    """``(N,)`` float 0/1: some candidate among the first K has IoU >= threshold in the gold video."""
    return reaches(best_iou, threshold).astype(np.float64)
