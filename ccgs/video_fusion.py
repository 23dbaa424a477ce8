"""The corpus track's video score in two-stage mode: the retriever's evidence fused with CCGS's best span.

For one question with K retrieved videos, r_v is the retriever's score of video v and s_v CCGS's best span
score in v. Each is standardised over the K videos, z(x)_v = (x_v - mean(x)) / std(x) (all 0 when the K
values are equal), so that a BM25 score and a span logit are on one scale, and

    fused_v = (1 - w) z(r)_v + w z(s)_v,

videos ranked by fused_v, ties in the retriever's order. w = 0 is the retriever's order exactly, w = 1
CCGS's best span alone. The spans inside a video are CCGS's, best first. w is chosen on validation
(:func:`choose_weight`), never on the split a run reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from benchmark.records import Candidate
from benchmark.systems import RankedVideo


def standardize(values: Sequence[float]) -> np.ndarray:
    """``(x - mean) / std`` over one question's videos; all zeros when the values are all equal."""
    array = np.asarray(values, dtype=np.float64)
    spread = array.std() if array.size else 0.0
    return np.zeros_like(array) if spread == 0 else (array - array.mean()) / spread


def fuse_videos(ranked: Sequence[RankedVideo], spans: Sequence[Sequence[Candidate]], weight: float,
                spans_per_video: int, max_candidates: int) -> tuple[Candidate, ...]:
    """One question's candidates: its retrieved videos (``ranked``, best first) in fused order, each with
    its first ``spans_per_video`` CCGS spans (``spans``, one list per video, best first), every candidate
    scored by its video's fused score. A video without a span counts CCGS's lowest score of the question."""
    best = np.array([video_spans[0].score if video_spans and video_spans[0].score is not None else np.nan
                     for video_spans in spans], dtype=np.float64)
    present = ~np.isnan(best)
    best[~present] = best[present].min() if present.any() else 0.0
    fused = (1.0 - weight) * standardize([r.score for r in ranked]) + weight * standardize(best)
    order = sorted(range(len(ranked)), key=lambda k: (-fused[k], k))
    candidates = [Candidate(c.video_id, c.start, c.end, float(fused[k]))
                  for k in order for c in spans[k][:spans_per_video]]
    return tuple(candidates[:max_candidates])


def choose_weight(weights: Sequence[float], evaluate: Callable[[float], Mapping[str, float]], metric: str
                  ) -> tuple[float, dict[float, dict[str, float]]]:
    """The weight of the grid with the best ``metric`` among those whose ``video_R1`` is at least that of
    weight 0 (the retriever's order, always allowed), the smallest weight on ties; and every weight's
    metrics. ``evaluate(w)`` scores the fused predictions of weight w on the validation split."""
    table = {float(w): dict(evaluate(float(w))) for w in sorted(set(weights))}
    floor = table[0.0]["video_R1"]
    allowed = [w for w, values in table.items() if values["video_R1"] >= floor]
    best = max(allowed, key=lambda w: (table[w][metric], -w))
    return best, table
