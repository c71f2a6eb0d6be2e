"""Cohen's and Fleiss' κ against worked examples and against a plain count over rater pairs."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from backend.agreement import cohen_kappa, fleiss_kappa


def test_cohen_kappa_matches_the_textbook_example() -> None:
    # 50 items: both yes 20, a yes / b no 5, a no / b yes 10, both no 15: p_o 0.7, p_e 0.5.
    a = np.array([1] * 25 + [0] * 25)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)
    assert cohen_kappa(a, b, 2) == pytest.approx(0.4)
    assert cohen_kappa(np.zeros(5, int), np.zeros(5, int), 3) is None
    assert cohen_kappa(np.zeros(0, int), np.zeros(0, int), 3) is None
    with pytest.raises(ValueError, match="different items"):
        cohen_kappa(np.zeros(3, int), np.zeros(4, int), 2)


def test_fleiss_kappa_matches_fleiss_1971_worked_example() -> None:
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    codes = np.array([[c for c, n in enumerate(row) for _ in range(n)] for row in counts])
    assert fleiss_kappa(codes, 5) == pytest.approx(0.210, abs=0.001)
    assert fleiss_kappa(np.zeros((0, 3), int), 3) is None
    assert fleiss_kappa(np.zeros((4, 1), int), 3) is None
    assert fleiss_kappa(np.ones((4, 3), int), 3) is None  # one category only


def counted_cohen(a: list[int], b: list[int], k: int) -> float:
    """Cohen's κ by counting, item by item."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in range(k))
    return (observed - expected) / (1 - expected)


def counted_fleiss(rows: list[list[int]], k: int) -> float:
    """Fleiss' κ by counting agreeing rater pairs, item by item."""
    raters = len(rows[0])
    pairs = raters * (raters - 1) / 2
    observed = sum(sum(x == y for x, y in combinations(row, 2)) / pairs for row in rows) / len(rows)
    every = [code for row in rows for code in row]
    expected = sum((every.count(c) / len(every)) ** 2 for c in range(k))
    return (observed - expected) / (1 - expected)


@pytest.mark.parametrize("seed", range(20))
def test_both_match_a_count_over_items_on_random_ratings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    items, raters = int(rng.integers(3, 40)), int(rng.integers(2, 6))
    # Raters who mostly follow a shared truth, so κ is away from zero.
    truth = rng.integers(0, k, items)
    codes = np.where(
        rng.random((items, raters)) < 0.7, truth[:, None], rng.integers(0, k, (items, raters))
    )
    if len(np.unique(codes)) < 2:
        codes[0, 0] = (codes[0, 0] + 1) % k
    a, b = codes[:, 0], codes[:, 1]
    expected_cohen = counted_cohen(a.tolist(), b.tolist(), k) if len(set(a) | set(b)) > 1 else None
    got_cohen = cohen_kappa(a, b, k)
    if expected_cohen is None or got_cohen is None:
        assert got_cohen == expected_cohen
    else:
        assert got_cohen == pytest.approx(expected_cohen, abs=1e-12)
    assert fleiss_kappa(codes, k) == pytest.approx(counted_fleiss(codes.tolist(), k), abs=1e-12)
