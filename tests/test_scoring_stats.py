"""Bootstrap intervals, paired tests and Holm's correction."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.stats import bootstrap_ci, bootstrap_means, holm, paired_test


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(0).binomial(1, 0.3, 155) * 100.0
    first = bootstrap_ci(values, 1000, seed=4)
    assert np.array_equal(first, bootstrap_ci(values, 1000, seed=4))
    assert not np.array_equal(first, bootstrap_ci(values, 1000, seed=5))
    assert first[0] < values.mean() < first[1]
    # the percentile interval of a proportion: about mean -/+ 1.96 standard errors
    se = values.std() / np.sqrt(len(values))
    assert first[1] - first[0] == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_of_several_metrics_at_once_matches_one_by_one():
    values = np.random.default_rng(1).uniform(0, 100, (50, 3))
    together = bootstrap_ci(values, 200, seed=0)
    assert together.shape == (2, 3)
    assert bootstrap_means(values, 200, 0)[:, 2] == pytest.approx(bootstrap_means(values[:, 2], 200, 0))
    assert np.isnan(bootstrap_ci(values, 0)).all()


def test_constant_values_have_a_zero_width_interval():
    assert bootstrap_ci(np.full(20, 40.0), 100).tolist() == pytest.approx([40.0, 40.0])


def test_holm_matches_hand_values():
    # sorted p: 0.01*4=0.04, 0.02*3=0.06, 0.03*2=0.06 (monotone), 0.5*1=0.5
    assert holm([0.03, 0.01, 0.5, 0.02]).tolist() == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]
    assert holm([]).tolist() == []


@pytest.mark.parametrize("method", ["randomization", "bootstrap"])
def test_paired_test_detects_a_real_difference_and_not_a_null_one(method):
    rng = np.random.default_rng(2)
    a = rng.binomial(1, 0.6, 155) * 100.0
    better = np.where(rng.random(155) < 0.3, 100.0, a)
    strong = paired_test(better, a, method=method, n_resamples=2000, seed=0)
    assert strong.p_value < 0.01 and strong.difference > 0 and strong.ci[0] > 0
    assert strong.wins > 0 and strong.losses == 0 and strong.wins + strong.ties == 155
    same = paired_test(a, a, method=method, n_resamples=2000, seed=0)
    assert same.p_value == 1.0 and same.difference == 0.0
    noise = paired_test(a, rng.permutation(a), method=method, n_resamples=2000, seed=0)
    assert noise.p_value > 0.05


def test_paired_test_rejects_unpaired_inputs():
    with pytest.raises(ValueError, match="equal length"):
        paired_test(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="method"):
        paired_test(np.zeros(3), np.zeros(3), method="t")
