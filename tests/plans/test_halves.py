"""Balanced, seeded halves and their codec sets (paper, section 3.1; appendix 1.3)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.plans.halves import CODEC_SETS, Reconstruction, reconstructions_for, split_halves

# Appendix, table 1: images selected per source dataset (1563 in all).
PAPER_DATASETS = {"clic": 379 + 81 + 29 + 27, "div2k": 603 + 62, "raise": 382}


def paper_images() -> list[tuple[int, str]]:
    images, next_id = [], 1
    for dataset, count in PAPER_DATASETS.items():
        images += [(next_id + i, dataset) for i in range(count)]
        next_id += count
    return images


def test_paper_split_is_balanced_per_dataset_and_overall():
    images = paper_images()
    halves = split_halves(images, seed=2025)
    assert len(halves) == 1563
    totals = Counter(halves.values())
    assert abs(totals["A"] - totals["B"]) == 1
    for dataset in PAPER_DATASETS:
        per = Counter(halves[i] for i, d in images if d == dataset)
        assert abs(per["A"] - per["B"]) <= 1


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    seed=st.integers(0, 10**6),
)
def test_any_split_is_balanced(sizes, seed):
    images = [(f"{d}-{i}", f"set{d}") for d, size in enumerate(sizes) for i in range(size)]
    halves = split_halves(images, seed)
    totals = Counter(halves.values())
    assert abs(totals["A"] - totals["B"]) <= 1
    for d in range(len(sizes)):
        per = Counter(h for image_id, h in halves.items() if image_id.startswith(f"{d}-"))
        assert abs(per["A"] - per["B"]) <= 1


def test_seeded_and_independent_of_input_order():
    images = paper_images()
    shuffled = images[:]
    random.Random(1).shuffle(shuffled)
    assert split_halves(images, 7) == split_halves(shuffled, 7)
    assert split_halves(images, 7) != split_halves(images, 8)
    assert split_halves(images, "seed") == split_halves(images, "seed")


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError):
        split_halves([(1, "clic"), (1, "div2k")], 0)


def test_eight_reconstructions_per_image_with_the_papers_codec_sets():
    halves = split_halves(paper_images(), 3)
    recons = reconstructions_for(halves)
    assert len(recons) == 12_504 == 1563 * 4 * 2
    assert len(set(recons)) == len(recons)
    assert CODEC_SETS == {"A": ("01", "03", "05", "06"), "B": ("02", "03", "04", "06")}
    by_image: dict[int, set[tuple[str, str]]] = {}
    for item in recons:
        by_image.setdefault(item.image_id, set()).add((item.codec_id, item.setting))
    for image_id, pairs in by_image.items():
        codecs = CODEC_SETS[halves[image_id]]
        assert pairs == {(c, s) for c in codecs for s in ("low", "high")}
    assert recons[0] == Reconstruction(1, CODEC_SETS[halves[1]][0], "low")
