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


# ------------------------------------------------------------------ exact values (docs/mutation.md)


def _reference_means(values, n_resamples, seed):
    """The bootstrap written out plainly: draw n indices with replacement per resample, average."""
    draws = np.random.default_rng(seed).integers(0, len(values), size=(n_resamples, len(values)))
    return np.asarray(values, dtype=np.float64)[draws].mean(axis=1)


@pytest.mark.parametrize("block_cells", [1 << 22, 7, 1])
def test_bootstrap_means_are_exactly_the_plain_resampling_in_any_block_size(block_cells, monkeypatch):
    """Same seed, same draws: the counts matrix built block by block equals indexing with the draws."""
    import benchmark.stats as stats

    monkeypatch.setattr(stats, "_BLOCK_CELLS", block_cells)
    values = np.array([0.0, 100.0, 30.0, 55.0, 100.0, 0.0, 12.5])
    expected = _reference_means(values, 40, seed=9)
    assert bootstrap_means(values, 40, seed=9) == pytest.approx(expected, abs=1e-12)
    two_columns = np.column_stack([values, 100.0 - values])
    assert bootstrap_means(two_columns, 40, seed=9) == pytest.approx(np.column_stack([expected, 100.0 - expected]),
                                                                     abs=1e-12)


def test_bootstrap_interval_is_the_percentiles_of_the_resampled_means():
    values = np.array([0.0, 100.0, 30.0, 55.0, 100.0, 0.0, 12.5, 80.0])
    means = _reference_means(values, 500, seed=2)
    assert bootstrap_ci(values, 500, seed=2).tolist() == pytest.approx(np.percentile(means, [2.5, 97.5]).tolist())
    assert bootstrap_ci(values, 500, seed=2, confidence=0.8).tolist() == pytest.approx(
        np.percentile(means, [10.0, 90.0]).tolist())
    assert np.isnan(bootstrap_ci(np.zeros(0), 500)).all() and bootstrap_ci(np.zeros(0), 500).shape == (2,)
    assert np.isnan(bootstrap_ci(np.zeros((0, 3)), 10)).all() and bootstrap_ci(np.zeros((0, 3)), 10).shape == (2, 3)
    assert np.isnan(bootstrap_ci(values, -1)).all()
    one = bootstrap_ci(values, 1, seed=2)  # one resample: both ends are its mean
    assert one.tolist() == pytest.approx([means[0], means[0]])


def test_paired_randomization_p_value_by_hand():
    """d = (a - b) = [1, 1, 1, -1]: observed 0.5; the sign flips draw from the same seeded generator."""
    a, b = np.array([1.0, 1.0, 1.0, 0.0]), np.array([0.0, 0.0, 0.0, 1.0])
    result = paired_test(a, b, n_resamples=300, seed=5)
    differences = a - b
    signs = np.random.default_rng(5).integers(0, 2, size=(300, 4)) * 2 - 1
    extreme = np.count_nonzero(np.abs(signs @ differences / 4) >= 0.5)
    assert result.p_value == (1 + extreme) / 301
    assert 0.2 < result.p_value < 1.0  # half of the 16 sign patterns reach |mean| >= 0.5
    assert (result.mean_a, result.mean_b, result.difference) == (0.75, 0.25, 0.5)
    assert (result.wins, result.ties, result.losses, result.method) == (3, 0, 1, "randomization")
    boot = _reference_means(differences, 300, seed=5)
    assert result.ci == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])))
    narrow = paired_test(a, b, n_resamples=300, seed=5, confidence=0.5)
    assert narrow.ci == pytest.approx(tuple(np.percentile(boot, [25.0, 75.0])))


def test_paired_bootstrap_p_value_by_hand():
    a, b = np.array([3.0, 1.0, 2.0, 2.0, 0.0]), np.array([1.0, 1.0, 0.0, 3.0, 0.0])
    result = paired_test(a, b, method="bootstrap", n_resamples=400, seed=1)
    boot = _reference_means(a - b, 400, seed=1)
    extreme = np.count_nonzero(np.abs(boot - 0.6) >= 0.6 - 1e-12)
    assert result.p_value == (1 + extreme) / 401 and result.method == "bootstrap"
    assert (result.wins, result.ties, result.losses) == (2, 2, 1)
    assert result.difference == pytest.approx(0.6)


def test_paired_test_in_blocks_gives_the_same_p_value(monkeypatch):
    import benchmark.stats as stats

    a, b = np.array([1.0, 1.0, 1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0, 0.0])
    whole = paired_test(a, b, n_resamples=50, seed=3)
    monkeypatch.setattr(stats, "_BLOCK_CELLS", 7)  # one resample of 5 questions per block
    assert paired_test(a, b, n_resamples=50, seed=3) == whole


def test_paired_test_of_nothing_and_with_no_resamples():
    empty = paired_test(np.zeros(0), np.zeros(0), n_resamples=20)
    assert (empty.mean_a, empty.mean_b, empty.difference, empty.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (empty.wins, empty.ties, empty.losses) == (0, 0, 0) and empty.ci == (0.0, 0.0)
    empty_boot = paired_test(np.zeros(0), np.zeros(0), method="bootstrap", n_resamples=20)
    assert empty_boot.p_value == 1.0 and empty_boot.ci == (0.0, 0.0)
    none = paired_test(np.array([1.0, 0.0]), np.array([0.0, 0.0]), n_resamples=0)
    assert none.p_value == 1.0 and np.isnan(none.ci).all() and none.difference == 0.5
    with pytest.raises(ValueError, match="1-d"):
        paired_test(np.zeros((2, 2)), np.zeros((2, 2)))


def test_holm_keeps_the_step_down_monotone_and_the_input_order():
    # sorted 0.01, 0.04, 0.045 -> 0.03, 0.08, 0.045 -> monotone 0.03, 0.08, 0.08
    assert holm([0.045, 0.01, 0.04]).tolist() == pytest.approx([0.08, 0.03, 0.08])
    assert holm([0.2]).tolist() == [0.2]
    assert holm(np.array([0.5, 0.6, 0.01])).tolist() == pytest.approx([1.0, 1.0, 0.03])


def test_paired_test_defaults_are_randomization_10000_resamples_seed_0():
    a, b = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    assert paired_test(a, b) == paired_test(a, b, method="randomization", n_resamples=10000, seed=0)


def test_one_question_flips_to_the_same_magnitude_every_time():
    """With one question every sign flip gives |d|: all resamples are as extreme as the observed one."""
    result = paired_test(np.array([1.0]), np.array([0.0]), n_resamples=99, seed=0)
    assert result.p_value == 1.0 and result.difference == 1.0 and (result.wins, result.losses) == (1, 0)


def test_the_last_block_holds_only_the_resamples_left(monkeypatch):
    """Equal systems: every resample is as extreme as the observed 0, so p counts exactly the resamples drawn."""
    import benchmark.stats as stats

    monkeypatch.setattr(stats, "_BLOCK_CELLS", 14)  # blocks of 2 resamples of 5 questions; 51 = 25 x 2 + 1
    same = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    assert paired_test(same, same, n_resamples=51).p_value == 1.0
    assert bootstrap_means(same, 51, seed=0).shape == (51,)


def test_the_paired_interval_is_the_percentiles_of_the_bootstrapped_differences():
    """Many distinct differences, so that a percentile a little off the 2.5th would move the interval."""
    a = np.random.default_rng(4).uniform(0, 100, 40)
    result = paired_test(a, np.zeros(40), n_resamples=2000, seed=6)
    boot = _reference_means(a, 2000, seed=6)
    assert result.ci == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])), rel=1e-12)


def test_bootstrap_defaults_are_1000_resamples_from_seed_0():
    values = np.random.default_rng(7).normal(size=(50, 2))
    assert np.array_equal(bootstrap_means(values), bootstrap_means(values, 1000, 0))
    assert np.array_equal(bootstrap_ci(values), bootstrap_ci(values, 1000, 0))
    assert not np.array_equal(bootstrap_ci(values), bootstrap_ci(values, 1000, 1))
