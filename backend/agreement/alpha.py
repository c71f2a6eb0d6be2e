"""Krippendorff's α for binary nominal data (marked / not marked), with a bootstrap interval.

The paper reports α with 95 % bootstrap intervals next to the raw agreement (section 3.2.4,
Table 1) and defines it as α = 1 − D_o / D_e (appendix 2.4.2). With only two values the
coincidence matrix is fixed by three sums over pairable units, those with m_u ≥ 2 values:

* n  = Σ m_u, the number of pairable values,
* n₁ = Σ ones_u, how many of them are "marked",
* o₀₁ = Σ ones_u · (m_u − ones_u) / (m_u − 1), the off-diagonal coincidences,

and α = 1 − (n − 1) · o₀₁ / (n₁ · (n − n₁)). Units with fewer than two values cannot be paired
and contribute nothing, which is how Krippendorff treats missing values. When all pairable values
are equal the expected disagreement is zero and α is undefined: it is returned as NaN.

Because the three sums are additive over units, a bootstrap resample only needs how many of its
draws fell on each type of unit (m_u, ones_u), of which there are few. A block of resamples is
one integer matrix of drawn unit positions; the draws are counted per (resample, type) with one
``bincount`` and turned into the three sums with one matrix product. No Python loop runs per
resample or per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

_DRAWS_PER_BLOCK = 1 << 20
"""Unit draws held at once while bootstrapping (4 MiB of int32 indices): small enough to stay in
cache, large enough that a block spans many resamples on all but the finest grids."""


def _pairable(ones: ArrayLike, values: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    ones_a = np.asarray(ones, dtype=np.int64).ravel()
    values_a = np.asarray(values, dtype=np.int64).ravel()
    if ones_a.shape != values_a.shape:
        raise ValueError("ones and values must have one entry per unit")
    if np.any((ones_a < 0) | (ones_a > values_a)):
        raise ValueError("each unit needs 0 <= ones <= values")
    keep = values_a >= 2
    return ones_a[keep], values_a[keep]


def _unit_stats(ones: NDArray[np.int64], values: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-unit additive statistics (m_u, ones_u, o₀₁ contribution) as a (units × 3) matrix."""
    m = values.astype(np.float64)
    k = ones.astype(np.float64)
    return np.column_stack([m, k, k * (m - k) / (m - 1.0)])


def _alpha_from_sums(sums: NDArray[np.float64]) -> NDArray[np.float64]:
    """α for each row of ``sums`` = (n, n₁, o₀₁); NaN where the expected disagreement is 0."""
    n, n1, o01 = sums[..., 0], sums[..., 1], sums[..., 2]
    expected = n1 * (n - n1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1.0) * o01 / expected
    return np.where(expected > 0, alpha, np.nan)


def _alpha_of_sums(n: float, n1: float, o01: float) -> float:
    return float(_alpha_from_sums(np.array([n, n1, o01])))


def _alpha_same_m(ones: NDArray[np.float64], m: float) -> float:
    """α when every unit has the same number m ≥ 2 of values (no missing values).

    Σ k(m − k)/(m − 1) then reduces to (m·n₁ − Σ k²)/(m − 1): one dot product, exact in floating
    point because both terms are integers.
    """
    n1 = float(ones.sum())
    return _alpha_of_sums(m * ones.size, n1, (m * n1 - float(ones @ ones)) / (m - 1.0))


def _alpha_of_units(ones: NDArray[np.float64], values: NDArray[np.float64]) -> float:
    """α of valid per-unit counts, skipping units with fewer than two values."""
    if values.size and values.min() < 2:
        keep = values >= 2
        ones, values = ones[keep], values[keep]
    if values.size == 0:
        return float("nan")
    if values.min() == values.max():
        return _alpha_same_m(ones, float(values[0]))
    o01 = float((ones * (values - ones) / (values - 1.0)).sum())
    return _alpha_of_sums(float(values.sum()), float(ones.sum()), o01)


def alpha_from_counts(ones: ArrayLike, values: ArrayLike) -> float:
    """α from per-unit counts: ``values[u]`` labelers gave unit u a value, ``ones[u]`` marked it.

    Units with fewer than two values are left out (they cannot be paired).
    """
    k = np.asarray(ones, dtype=np.float64).ravel()
    m = np.asarray(values, dtype=np.float64).ravel()
    if k.shape != m.shape:
        raise ValueError("ones and values must have one entry per unit")
    if np.any((k < 0) | (k > m)):
        raise ValueError("each unit needs 0 <= ones <= values")
    return _alpha_of_units(k, m)


def alpha_from_reliability(data: ArrayLike) -> float:
    """α from a (coders × units) matrix of 0/1 values with NaN for missing ones.

    This is the layout of ``krippendorff.alpha(reliability_data=...)``, which it matches for
    nominal data.
    """
    matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("reliability data must be a (coders × units) matrix")
    coders, units = matrix.shape
    if not np.isnan(matrix).any():
        if not np.logical_or(matrix == 0.0, matrix == 1.0).all():
            raise ValueError("reliability data must hold only 0, 1 and NaN")
        if coders < 2 or units == 0:
            return float("nan")
        return _alpha_same_m(matrix.sum(axis=0), float(coders))
    present = ~np.isnan(matrix)
    if not np.logical_or(matrix == 0.0, matrix == 1.0)[present].all():
        raise ValueError("reliability data must hold only 0, 1 and NaN")
    ones = np.where(present, matrix, 0.0).sum(axis=0)
    return _alpha_of_units(ones, present.sum(axis=0, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class _UnitTypes:
    """Units grouped by type (m_u, ones_u); type 0 is the commonest one.

    ``of_unit`` gives the type at each unit position and ``stats`` the (types × 3) statistics of
    :func:`_unit_stats`. When ``common_end`` > 0, positions [0, common_end) all hold type 0.
    """

    of_unit: NDArray[np.int64]
    stats: NDArray[np.float64]
    common_end: int


def _unit_types(
    ones: NDArray[np.int64], values: NDArray[np.int64], group_common: bool
) -> _UnitTypes:
    """Types of the units, in their given order or with the commonest type moved to the front.

    Moving units is harmless for the bootstrap, which draws unit positions uniformly: it only
    relabels them. It pays off because one type dominates on fine grids (complete negatives,
    over 95 % of units at 256 per image), so only draws past ``common_end`` need to be looked up.
    """
    base = int(values.max(initial=0)) + 1
    keys, inverse, counts = np.unique(values * base + ones, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    of_unit = rank[inverse.ravel()].astype(np.int64)
    stats = _unit_stats(keys[order] % base, keys[order] // base)
    if group_common:
        return _UnitTypes(np.sort(of_unit), stats, int(counts.max(initial=0)))
    return _UnitTypes(of_unit, stats, 0)


def _alphas_of_draws(types: _UnitTypes, indices: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
    """α of each row of ``indices`` (unit positions drawn for one resample per row).

    Draws are counted per type with one ``bincount`` over (row, type) pairs; draws of type 0 in
    [0, common_end) are not looked up but found as the rest of the row.
    """
    resamples, draws = indices.shape
    n_types = types.stats.shape[0]
    flat = np.flatnonzero(indices >= types.common_end)
    rows = flat // draws
    drawn = types.of_unit[indices.ravel()[flat]]
    counts = np.bincount(rows * n_types + drawn, minlength=resamples * n_types)
    counts = counts.reshape(resamples, n_types)
    counts[:, 0] += draws - counts.sum(axis=1)
    return _alpha_from_sums(counts.astype(np.float64) @ types.stats)


def resampled_alphas(
    ones: ArrayLike, values: ArrayLike, indices: NDArray[np.integer[Any]]
) -> NDArray[np.float64]:
    """α of each resample, given a (resamples × draws) matrix of indices into the units.

    ``ones`` and ``values`` must describe pairable units only (values ≥ 2); ``indices`` refers
    to positions in them.
    """
    k, m = _pairable(ones, values)
    if k.size != np.asarray(values).size:
        raise ValueError("resampled units must all be pairable (values >= 2)")
    return _alphas_of_draws(_unit_types(k, m, group_common=False), np.asarray(indices))


def bootstrap_alphas(
    ones: ArrayLike, values: ArrayLike, resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """α of ``resamples`` bootstrap resamples over pairable units (drawn with replacement).

    Each block of resamples is one (resamples × units) matrix of uniformly drawn unit positions.
    """
    if resamples < 0:
        raise ValueError("resamples must not be negative")
    k, m = _pairable(ones, values)
    units = k.size
    if units == 0 or resamples == 0:
        return np.full(resamples, np.nan)
    types = _unit_types(k, m, group_common=True)
    index_dtype = np.int32 if units < np.iinfo(np.int32).max else np.int64
    block = max(1, _DRAWS_PER_BLOCK // units)
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        indices = rng.integers(0, units, size=(stop - start, units), dtype=index_dtype)
        out[start:stop] = _alphas_of_draws(types, indices)
    return out


def bootstrap_interval(
    ones: ArrayLike,
    values: ArrayLike,
    resamples: int = 1000,
    seed: int | np.random.SeedSequence | list[int] = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of α over units, reproducible from ``seed``.

    Resamples where α is undefined (all drawn values equal) are left out of the percentiles;
    with no resamples, or none defined, both bounds are NaN.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    alphas = bootstrap_alphas(ones, values, resamples, np.random.default_rng(seed))
    alphas = alphas[np.isfinite(alphas)]
    if alphas.size == 0:
        return (float("nan"), float("nan"))
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(alphas, [tail, 100.0 - tail])
    return (float(low), float(high))
