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


def gold_video_rank(codes: np.ndarray, gold_codes: np.ndarray, mode: str = "distinct") -> np.ndarray:
    """``(N,)`` int: 1-based rank of the gold video in each question's video ranking, 0 when absent.

    Distinct ranking: 1 + the number of distinct videos before the gold video's first candidate,
    counted by sorting that prefix of each row (padding sorts first and is not counted)."""
    if mode not in VIDEO_RANK_MODES:
        raise ValueError(f"video rank mode must be one of {VIDEO_RANK_MODES}, got {mode!r}")
    is_gold = codes == np.asarray(gold_codes)[:, None]
    found = is_gold.any(axis=1)
    first_gold = np.argmax(is_gold, axis=1)
    if mode == "rows":
        ranks = first_gold + 1
    else:
        before_gold = np.arange(codes.shape[1]) < first_gold[:, None]
        prefix = np.sort(np.where(before_gold, codes, PAD), axis=1)
        new_value = np.ones(prefix.shape, dtype=bool)
        new_value[:, 1:] = prefix[:, 1:] != prefix[:, :-1]
        ranks = np.count_nonzero(new_value & (prefix != PAD), axis=1) + 1
    return np.where(found, ranks, 0).astype(np.int64)


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` float 0/1: the gold video is among the first ``k`` of the ranking."""
    return ((ranks > 0) & (ranks <= k)).astype(np.float64)


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    """``(N,)`` float: 1 / rank of the gold video, 0 when absent."""
    return np.divide(1.0, ranks, out=np.zeros(ranks.shape), where=ranks > 0)
