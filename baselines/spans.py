"""Span helpers shared by the localizers: non-maximum suppression and decoding start/end scores into the
best spans. Temporal IoU is the scorer's (:func:`benchmark.metrics.temporal_iou`), one rule for all."""

from __future__ import annotations

import numpy as np

from benchmark.metrics import temporal_iou


def non_maximum_suppression(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, top_n: int,
                            iou_threshold: float = 0.5) -> list[int]:
    """Indices of up to ``top_n`` spans, best score first, skipping any span whose IoU with an already kept
    span exceeds ``iou_threshold``. Ties keep the earlier span."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    for index in order:
        if len(kept) >= top_n:
            break
        if kept and temporal_iou(starts[kept], ends[kept], starts[index], ends[index]).max() > iou_threshold:
            continue
        kept.append(int(index))
    return kept


def decode_spans(start_scores: np.ndarray, end_scores: np.ndarray, max_length: int, top_n: int,
                 iou_threshold: float = 0.5, inside_scores: np.ndarray | None = None) -> list[tuple[int, int, float]]:
    """The best (first, last, score) unit pairs with first <= last < first + max_length, where the score is
    start_scores[first] + end_scores[last] (+ the sum of ``inside_scores`` over first..last, when given: the
    log-likelihood ratio of "these units and no others are inside" under per-unit inside logits);
    diversified by non-maximum suppression over unit indices."""
    count = len(start_scores)
    pair_scores = start_scores[:, None] + end_scores[None, :]
    if inside_scores is not None:
        cumulative = np.concatenate([[0.0], np.cumsum(inside_scores)])
        pair_scores = pair_scores + cumulative[None, 1:] - cumulative[:-1, None]
    firsts, lasts = np.meshgrid(np.arange(count), np.arange(count), indexing="ij")
    valid = (lasts >= firsts) & (lasts < firsts + max(max_length, 1))
    firsts, lasts, pair_scores = firsts[valid], lasts[valid], pair_scores[valid]
    kept = non_maximum_suppression(firsts.astype(np.float64), lasts.astype(np.float64) + 1.0, pair_scores, top_n,
                                   iou_threshold)
    return [(int(firsts[i]), int(lasts[i]), float(pair_scores[i])) for i in kept]
