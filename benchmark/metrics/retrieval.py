"""Video retrieval: where the gold video comes in a question's video ranking.

Candidates are given as a padded ``(questions, candidates)`` matrix of integer video codes with ``-1``
after each question's last candidate. The video ranking is either the candidates' *distinct* videos in
order of first appearance (the vcval default) or every candidate *row* counted as a rank (what TVR's VR
and the CCGS authors' CMIVQA scorer do when a video repeats).
"""

from __future__ import annotations

import numpy as np

VIDEO_RANK_MODES = ("distinct", "rows")
PAD = -1


def first_appearance(codes: np.ndarray) -> np.ndarray:
    """``(N, C)`` bool: the candidate is the first of its row with its video (padding is never first)."""
    order = np.argsort(codes, axis=1, kind="stable")
    sorted_codes = np.take_along_axis(codes, order, axis=1)
    starts_group = np.ones(codes.shape, dtype=bool)
    starts_group[:, 1:] = sorted_codes[:, 1:] != sorted_codes[:, :-1]
    first = np.empty(codes.shape, dtype=bool)
    np.put_along_axis(first, order, starts_group, axis=1)
    return first & (codes != PAD)


def gold_video_rank(codes: np.ndarray, gold_codes: np.ndarray, mode: str = "distinct") -> np.ndarray:
    """``(N,)`` int: 1-based rank of the gold video in each question's video ranking, 0 when absent."""
    if mode not in VIDEO_RANK_MODES:
        raise ValueError(f"video rank mode must be one of {VIDEO_RANK_MODES}, got {mode!r}")
    is_gold = codes == np.asarray(gold_codes)[:, None]
    found = is_gold.any(axis=1)
    first_gold = np.argmax(is_gold, axis=1)
    if mode == "rows":
        ranks = first_gold + 1
    else:
        distinct_before = np.cumsum(first_appearance(codes), axis=1)
        ranks = np.take_along_axis(distinct_before, first_gold[:, None], axis=1)[:, 0]
    return np.where(found, ranks, 0).astype(np.int64)


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` float 0/1: the gold video is among the first ``k`` of the ranking."""
    return ((ranks > 0) & (ranks <= k)).astype(np.float64)


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    """``(N,)`` float: 1 / rank of the gold video, 0 when absent."""
    return np.divide(1.0, ranks, out=np.zeros(ranks.shape), where=ranks > 0)
