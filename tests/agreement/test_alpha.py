"""Krippendorff's α for binary data and its bootstrap interval."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from backend.agreement.alpha import (
    alpha_from_counts,
    alpha_from_reliability,
    bootstrap_alphas,
    bootstrap_interval,
    resampled_alphas,
)


def figure5_reliability() -> np.ndarray:
    """Appendix Figure 5: three labelers, units marked by 0, 0, 2 and 3 of them."""
    return np.array(
        [
            [0, 1, 1, 0],
            [0, 1, 0, 0],
            [0, 1, 1, 0],
        ],
        dtype=float,
    )


def test_worked_example_alpha() -> None:
    assert round(alpha_from_reliability(figure5_reliability()), 3) == 0.686
    # 1 − (n − 1)·o₀₁ / (n₀·n₁) with n = 12, o₀₁ = 1, n₀ = 7, n₁ = 5.
    assert alpha_from_reliability(figure5_reliability()) == pytest.approx(1 - 11 / 35)
    assert alpha_from_counts([0, 3, 2, 0], [3, 3, 3, 3]) == pytest.approx(1 - 11 / 35)


def test_matches_krippendorff_package_on_random_data() -> None:
    rng = np.random.default_rng(12345)
    compared = 0
    for _ in range(300):
        coders = int(rng.integers(2, 7))
        units = int(rng.integers(1, 60))
        data = (rng.random((coders, units)) < rng.uniform(0.02, 0.7)).astype(float)
        data[rng.random((coders, units)) < rng.uniform(0.0, 0.4)] = np.nan
        ours = alpha_from_reliability(data)
        pairable = (~np.isnan(data)).sum(axis=0) >= 2
        values = data[:, pairable]
        values = values[~np.isnan(values)]
        if np.unique(values).size < 2:
            assert math.isnan(ours)
            continue
        theirs = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
        compared += 1
    assert compared > 200


def test_alpha_limits() -> None:
    perfect = np.array([[0, 1, 1, 0, 1], [0, 1, 1, 0, 1], [0, 1, 1, 0, 1]], dtype=float)
    assert alpha_from_reliability(perfect) == pytest.approx(1.0)
    assert math.isnan(alpha_from_reliability(np.zeros((3, 5))))
    # Two coders who always disagree on two values: α = 1 − (n−1)·o₀₁/(n₀n₁) = 1 − 3·2/4.
    opposite = np.array([[0, 1], [1, 0]], dtype=float)
    assert alpha_from_reliability(opposite) == pytest.approx(-0.5)


def test_units_with_one_value_are_not_pairable() -> None:
    base = figure5_reliability()
    lonely = np.full((3, 1), np.nan)
    lonely[0, 0] = 1.0
    assert alpha_from_reliability(np.hstack([base, lonely])) == pytest.approx(
        alpha_from_reliability(base)
    )


def test_rejects_values_other_than_zero_and_one() -> None:
    with pytest.raises(ValueError):
        alpha_from_reliability(np.array([[0, 2], [1, 0]], dtype=float))
    with pytest.raises(ValueError):
        alpha_from_counts([3], [2])


def test_vectorised_resamples_match_a_loop() -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(2, 6, size=80)
    ones = rng.binomial(values, 0.3)
    indices = rng.integers(0, 80, size=(50, 80))
    expected = [alpha_from_counts(ones[row], values[row]) for row in indices]
    np.testing.assert_allclose(
        resampled_alphas(ones, values, indices), expected, rtol=1e-9, atol=1e-12
    )


def test_bootstrap_is_reproducible_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    values = np.full(400, 3)
    ones = np.where(rng.random(400) < 0.3, rng.binomial(3, 0.8, 400), rng.binomial(3, 0.05, 400))
    estimate = alpha_from_counts(ones, values)
    low, high = bootstrap_interval(ones, values, resamples=500, seed=11)
    assert (low, high) == bootstrap_interval(ones, values, resamples=500, seed=11)
    assert (low, high) != bootstrap_interval(ones, values, resamples=500, seed=12)
    assert low < estimate < high
    assert high - low < 0.3


def test_bootstrap_spread_matches_a_loop_over_resamples() -> None:
    rng = np.random.default_rng(5)
    values = np.full(300, 3)
    ones = rng.binomial(3, rng.choice([0.05, 0.9], 300))
    fast = bootstrap_alphas(ones, values, 2000, np.random.default_rng(1))
    slow_rng = np.random.default_rng(2)
    slow = []
    for _ in range(2000):
        pick = slow_rng.integers(0, 300, 300)
        slow.append(alpha_from_counts(ones[pick], values[pick]))
    assert np.std(fast) == pytest.approx(np.std(slow), rel=0.1)
    assert np.mean(fast) == pytest.approx(np.mean(slow), abs=0.01)


def test_bootstrap_blocks_cover_every_resample(monkeypatch: pytest.MonkeyPatch) -> None:
    import backend.agreement.alpha as alpha_module

    monkeypatch.setattr(alpha_module, "_DRAWS_PER_BLOCK", 64)
    values = np.full(30, 3)
    ones = np.arange(30) % 4
    out = bootstrap_alphas(ones, values, 37, np.random.default_rng(0))
    assert out.shape == (37,)
    assert np.all(np.isfinite(out))
    assert np.unique(out).size > 10


def test_bootstrap_without_resamples_or_units() -> None:
    assert all(math.isnan(v) for v in bootstrap_interval([1, 2], [3, 3], resamples=0))
    assert all(math.isnan(v) for v in bootstrap_interval([1], [1], resamples=10))


def test_grouping_the_commonest_type_does_not_change_the_counts() -> None:
    from backend.agreement.alpha import _alphas_of_draws, _unit_types

    rng = np.random.default_rng(21)
    values = np.where(rng.random(500) < 0.2, 2, 3)
    ones = np.where(rng.random(500) < 0.9, 0, rng.binomial(values, 0.6))
    indices = rng.integers(0, 500, size=(40, 500), dtype=np.int32)
    grouped = _unit_types(ones, values, group_common=True)
    assert grouped.common_end > 300
    assert np.all(grouped.of_unit[: grouped.common_end] == 0)
    plain = type(grouped)(grouped.of_unit, grouped.stats, 0)
    np.testing.assert_array_equal(
        _alphas_of_draws(grouped, indices), _alphas_of_draws(plain, indices)
    )
    # Positions are only relabelled: each type keeps its number of units.
    ungrouped = _unit_types(ones, values, group_common=False)
    np.testing.assert_array_equal(np.bincount(grouped.of_unit), np.bincount(ungrouped.of_unit))


def test_matches_krippendorff_package_without_missing_values() -> None:
    rng = np.random.default_rng(54321)
    for _ in range(100):
        coders = int(rng.integers(2, 8))
        data = (rng.random((coders, int(rng.integers(2, 300)))) < rng.uniform(0.05, 0.6)).astype(
            float
        )
        if np.unique(data).size < 2:
            continue
        theirs = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert alpha_from_reliability(data) == pytest.approx(theirs, rel=1e-9, abs=1e-12)
        counts = alpha_from_counts(data.sum(axis=0), np.full(data.shape[1], coders))
        assert counts == pytest.approx(theirs, rel=1e-9, abs=1e-12)
