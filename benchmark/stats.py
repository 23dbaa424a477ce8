"""How sure a number is: seeded percentile bootstrap intervals, paired tests, Holm's correction.

Everything works on per-question values (rows = questions, columns = metrics), so one set of
resampled question indices serves every metric at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAIRED_METHODS = ("randomization", "bootstrap")
# The most resamples a bootstrap or a paired test may ask for: the (resamples x metrics) means of a
# bootstrap then take at most a few hundred MB (1,000,000 x 30 metrics x 8 bytes = 240 MB).
MAX_RESAMPLES = 1_000_000
# Resampled question counts are built this many cells at a time, bounding memory for large files.
_BLOCK_CELLS = 1 << 22


def _resample_counts(n_items: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """An ``(n_resamples, n_items)`` matrix: how often each item is drawn in each resample."""
    draws = rng.integers(0, n_items, size=(n_resamples, n_items))
    offsets = (np.arange(n_resamples) * n_items)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n_resamples * n_items).reshape(n_resamples, n_items)


def bootstrap_means(values: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """Means of ``n_resamples`` percentile-bootstrap resamples of the rows of ``values``.

    ``values`` is ``(N,)`` or ``(N, M)``; the result is ``(n_resamples,)`` or ``(n_resamples, M)``."""
    values = np.asarray(values, dtype=np.float64)
    matrix = values.reshape(len(values), -1)
    n_items = len(matrix)
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(n_items, 1))
    means = np.empty((n_resamples, matrix.shape[1]))
    for first in range(0, n_resamples, block):
        size = min(block, n_resamples - first)
        means[first:first + size] = _resample_counts(n_items, size, rng) @ matrix / n_items
    return means if values.ndim > 1 else means[:, 0]


def bootstrap_ci(values: np.ndarray, n_resamples: int = 1000, seed: int = 0,
                 confidence: float = 0.95) -> np.ndarray:
    """Percentile bootstrap interval of the mean over questions: ``(2,)`` or ``(2, M)`` as [low, high].

    With no questions or no resamples the interval is NaN."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0 or n_resamples <= 0:
        return np.full((2,) + values.shape[1:], np.nan)
    means = bootstrap_means(values, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    return np.percentile(means, [tail, 100 - tail], axis=0)


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of two systems on one metric: mean of a, b, their difference and a p-value."""

    mean_a: float
    mean_b: float
    difference: float
    p_value: float
    ci: tuple[float, float]
    wins: int
    ties: int
    losses: int
    method: str


def paired_test(a: np.ndarray, b: np.ndarray, *, method: str = "randomization", n_resamples: int = 10000,
                seed: int = 0, confidence: float = 0.95) -> PairedResult:
    """Two-sided paired test of ``mean(a) == mean(b)`` over the same questions.

    ``randomization``: approximate randomization, swapping each question's pair with probability 1/2;
    ``bootstrap``: paired bootstrap of the differences, centred under the null. Both give
    ``p = (1 + #{|resampled| >= |observed|}) / (1 + n_resamples)``. The interval is always the paired
    bootstrap percentile interval of the difference; wins count questions where ``a > b``."""
    if method not in PAIRED_METHODS:
        raise ValueError(f"method must be one of {PAIRED_METHODS}, got {method!r}")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-d arrays of equal length, got {a.shape} and {b.shape}")
    differences = a - b
    observed = differences.mean() if len(differences) else 0.0
    boot = bootstrap_means(differences, n_resamples, seed) if len(differences) else np.zeros(n_resamples)
    if method == "randomization":
        rng = np.random.default_rng(seed)
        extreme = 0
        block = max(1, _BLOCK_CELLS // max(len(differences), 1))
        for first in range(0, n_resamples, block):
            size = min(block, n_resamples - first)
            signs = rng.integers(0, 2, size=(size, len(differences))) * 2 - 1
            resampled = signs @ differences / max(len(differences), 1)
            extreme += int(np.count_nonzero(np.abs(resampled) >= abs(observed) - 1e-12))
    else:
        extreme = int(np.count_nonzero(np.abs(boot - observed) >= abs(observed) - 1e-12))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail]) if n_resamples else (np.nan, np.nan)
    return PairedResult(
        mean_a=float(a.mean()) if len(a) else 0.0, mean_b=float(b.mean()) if len(b) else 0.0,
        difference=float(observed), p_value=(1 + extreme) / (1 + n_resamples), ci=(float(low), float(high)),
        wins=int(np.count_nonzero(differences > 0)), ties=int(np.count_nonzero(differences == 0)),
        losses=int(np.count_nonzero(differences < 0)), method=method,
    )


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, kept monotone, capped at 1), in the input order."""
    pvalues = np.asarray(pvalues, dtype=np.float64)
    n = len(pvalues)
    if n == 0:
        return pvalues
    order = np.argsort(pvalues, kind="stable")
    scaled = pvalues[order] * (n - np.arange(n))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(n)
    adjusted[order] = adjusted_sorted
    return adjusted
