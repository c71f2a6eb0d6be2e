"""Chance-corrected agreement of raters who put items into categories: Cohen's and Fleiss' κ.

Used for prescreening (paper, section 3.1: two researchers rated every image independently),
where each rater gives each image one of a few categories. Pure computation: integer category
codes ``0 … n_categories - 1`` go in, κ comes out, or None where κ is undefined (every rating in
one category, so chance agreement is already complete).

- Cohen (1960): κ = (p_o − p_e) / (1 − p_e) for two raters, p_o the share of items they agree
  on and p_e the agreement their own category shares predict by chance.
- Fleiss (1971): the same for any number of raters per item, p_o the mean over items of the
  share of agreeing rater pairs and p_e from the categories' shares over all ratings.
"""

from __future__ import annotations

import numpy as np


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_categories: int) -> float | None:
    """Cohen's κ of two raters' category codes on the same items; None when undefined."""
    if a.shape != b.shape:
        raise ValueError(f"the raters rated different items: {a.shape} and {b.shape}")
    if a.size == 0:
        return None
    table = np.zeros((n_categories, n_categories), dtype=float)
    np.add.at(table, (a, b), 1.0)
    table /= a.size
    observed = float(np.trace(table))
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    if np.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(codes: np.ndarray, n_categories: int) -> float | None:
    """Fleiss' κ for an items × raters matrix of category codes, every cell filled; None when
    undefined (no item, fewer than two raters, or one category only)."""
    n_items, n_raters = codes.shape
    if n_items == 0 or n_raters < 2:
        return None
    counts = np.zeros((n_items, n_categories), dtype=float)
    np.add.at(counts, (np.repeat(np.arange(n_items), n_raters), codes.ravel()), 1.0)
    per_item = (np.square(counts).sum(axis=1) - n_raters) / (n_raters * (n_raters - 1))
    observed = float(per_item.mean())
    shares = counts.sum(axis=0) / (n_items * n_raters)
    expected = float(np.square(shares).sum())
    if np.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)
