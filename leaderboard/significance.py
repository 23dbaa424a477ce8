"""Ties with the best: paired tests of each entry against a column's best, Holm-corrected.

The tests themselves are the scorer's (:mod:`benchmark.stats`); this module fixes how the leaderboard
uses them: approximate randomization on the per-question values both entries share, seeded so that
re-rendering a store gives the same marks, and Holm's correction over the entries of one column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.stats import holm, paired_test

RESAMPLES = 5000
SEED = 0


def p_values_against_best(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """Holm-adjusted p-values, one per ``(best values, other values)`` pair aligned on the same questions."""
    raw = [paired_test(best, other, method="randomization", n_resamples=RESAMPLES, seed=SEED).p_value
           for best, other in pairs]
    return [float(p) for p in holm(np.asarray(raw, dtype=np.float64))]
