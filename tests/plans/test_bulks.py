"""Bulks and duplicate-free batches (paper, section 3.1; appendix 1.3)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.plans.bulks import (
    BulkLayout,
    _admits_distinct,
    check_plan,
    chunk_sizes,
    duplicates_in_batch,
    plan_bulks_and_batches,
    preview,
)
from backend.plans.halves import CODEC_SETS, Reconstruction, reconstructions_for, split_halves
from tests.plans.test_halves import paper_images


@pytest.fixture(scope="module")
def paper_recons() -> list[Reconstruction]:
    return reconstructions_for(split_halves(paper_images(), seed=11))


@pytest.fixture(scope="module")
def paper_plan(paper_recons) -> BulkLayout:
    return plan_bulks_and_batches(paper_recons, seed=11)


def test_paper_plan_keeps_every_rule(paper_plan, paper_recons):
    assert check_plan(paper_plan, paper_recons) == []


def test_paper_plan_counts(paper_plan):
    counts = preview(paper_plan)
    assert counts["bulks"] == 8
    assert counts["images"] == 1563
    assert counts["reconstructions"] == 12_504
    assert counts["duplicates_in_batches"] == 0
    assert counts["items_per_batch"]["max"] == 25
    rows = counts["per_bulk"]
    # Bulks 1–4 hold half A (C1, C3, C5, C6), bulks 5–8 half B (C2, C3, C4, C6).
    assert [tuple(row["codec_set"]) for row in rows] == [CODEC_SETS["A"]] * 4 + [
        CODEC_SETS["B"]
    ] * 4
    # Full bulks are the paper's 200 images in 64 batches of 25; the leftovers of each half
    # form its last, smaller bulk.
    for row in rows[0:3] + rows[4:7]:
        assert row["images"] == 200
        assert row["batches"] == 64
        assert row["items_per_batch"] == {"min": 25, "max": 25}
    assert rows[3]["images"] + rows[7]["images"] == 1563 - 6 * 200
    for row in (rows[3], rows[7]):
        assert row["batches"] == -(-row["images"] * 8 // 25)
        assert row["items_per_batch"]["max"] == 25


def test_every_reconstruction_of_an_image_shares_its_bulk(paper_plan):
    bulk_of: dict[object, set[int]] = {}
    for bulk in paper_plan.bulks:
        for item in bulk.reconstructions():
            bulk_of.setdefault(item.image_id, set()).add(bulk.index)
        assert sorted(bulk.image_ids, key=str) == sorted(
            {item.image_id for item in bulk.reconstructions()}, key=str
        )
    assert all(len(bulks) == 1 for bulks in bulk_of.values())
    assert len(bulk_of) == 1563


def test_no_batch_repeats_a_source_image(paper_plan):
    for bulk in paper_plan.bulks:
        for batch in bulk.batches:
            assert duplicates_in_batch(batch) == 0
            assert len({item.image_id for item in batch.items}) == len(batch.items)


def test_even_leftovers(paper_recons):
    plan = plan_bulks_and_batches(paper_recons, seed=11, leftover="even")
    assert check_plan(plan, paper_recons) == []
    counts = preview(plan)
    assert counts["bulks"] == 8
    assert counts["images_per_bulk"] == {"min": 195, "max": 196}
    assert counts["items_per_batch"] == {"min": 24, "max": 25}
    assert counts["duplicates_in_batches"] == 0


def test_plan_is_deterministic_and_independent_of_input_order(paper_recons, paper_plan):
    shuffled = paper_recons[:]
    random.Random(5).shuffle(shuffled)
    assert plan_bulks_and_batches(shuffled, seed=11) == paper_plan
    other = plan_bulks_and_batches(paper_recons, seed=12)
    assert other != paper_plan
    assert check_plan(other, paper_recons) == []


def test_items_are_shuffled(paper_plan):
    first = paper_plan.bulks[0]
    assert list(first.image_ids) != sorted(first.image_ids)
    batch = first.batches[0].items
    assert list(batch) != sorted(batch, key=lambda r: (r.image_id, r.codec_id, r.setting))
    settings_seen = Counter(item.setting for item in first.reconstructions())
    assert settings_seen == {"low": 800, "high": 800}


def test_json_round_trip(paper_plan):
    text = paper_plan.to_json()
    assert BulkLayout.from_json(text) == paper_plan
    data = json.loads(text)
    assert data["format"] == "sclic-plan" and data["version"] == 1
    assert data["bulks"][0]["batches"][0]["items"][0][1] in CODEC_SETS["A"]
    with pytest.raises(ValueError):
        BulkLayout.from_dict({**data, "version": 99})


def test_string_ids_and_seeds():
    images = [(f"img-{i:04d}", "div2k" if i % 3 else "clic") for i in range(250)]
    recons = reconstructions_for(split_halves(images, "s"))
    plan = plan_bulks_and_batches(recons, seed="s", bulk_size_images=100, batch_size=25)
    assert check_plan(plan, recons) == []
    assert BulkLayout.from_json(plan.to_json()) == plan


def test_small_bulk_gets_more_smaller_batches_instead_of_repeats():
    recons = reconstructions_for({i: "A" for i in range(10)})
    plan = plan_bulks_and_batches(recons, seed=1)
    counts = preview(plan)
    assert counts["bulks"] == 1
    assert counts["batches"] == 8
    assert counts["items_per_batch"] == {"min": 10, "max": 10}
    assert check_plan(plan, recons) == []


def test_last_layout_that_forces_repeats_falls_back_to_even_sizes():
    # Sizes (10, 10, 1) cannot take two images with three reconstructions each without a
    # repeat (Gale–Ryser fails), while (7, 7, 7) can.
    recons = [Reconstruction(i, "01", level) for i in (0, 1) for level in "abc"] + [
        Reconstruction(i, "01", "low") for i in range(2, 17)
    ]
    plan = plan_bulks_and_batches(recons, seed=3, batch_size=10)
    assert check_plan(plan, recons) == []
    assert [len(batch.items) for batch in plan.bulks[0].batches] == [7, 7, 7]
    # Sizes (9, 9, 3) admit an assignment without repeats, so the "last" layout stays.
    roomy = plan_bulks_and_batches(recons, seed=3, batch_size=9)
    assert [len(batch.items) for batch in roomy.bulks[0].batches] == [9, 9, 3]


def test_gale_ryser_check():
    assert _admits_distinct([2, 2], [2, 2])
    assert not _admits_distinct([2, 2], [3, 1])
    assert not _admits_distinct([3], [1, 1])
    assert _admits_distinct([8] * 182, [25] * 58 + [6])


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(1, 12), min_size=1, max_size=120),
    bulk_size=st.integers(1, 60),
    batch_size=st.integers(1, 30),
    leftover=st.sampled_from(["last", "even"]),
    seed=st.integers(0, 1000),
)
def test_any_plan_keeps_every_rule(counts, bulk_size, batch_size, leftover, seed):
    recons = [
        Reconstruction(image_id, f"{codec:02d}", setting)
        for image_id, count in enumerate(counts)
        for codec, setting in [(k // 2 + 1, ("low", "high")[k % 2]) for k in range(count)]
    ]
    plan = plan_bulks_and_batches(
        recons, seed=seed, bulk_size_images=bulk_size, batch_size=batch_size, leftover=leftover
    )
    assert check_plan(plan, recons) == []
    assert preview(plan)["duplicates_in_batches"] == 0


def test_chunk_sizes():
    assert chunk_sizes(782, 200, "last") == [200, 200, 200, 182]
    assert chunk_sizes(782, 200, "even") == [196, 196, 195, 195]
    assert chunk_sizes(1600, 25, "last") == [25] * 64
    assert chunk_sizes(0, 25, "last") == []


def test_invalid_input():
    with pytest.raises(ValueError):
        plan_bulks_and_batches([Reconstruction(1, "01", "low")] * 2, seed=0)
    with pytest.raises(ValueError):
        plan_bulks_and_batches([], seed=0, batch_size=0)


def test_check_plan_reports_violations(paper_plan, paper_recons):
    bulk = paper_plan.bulks[0]
    first, second = bulk.batches[0], bulk.batches[1]
    twin = first.items[0]
    broken_batch = type(first)(first.index, (*first.items, twin))
    broken_bulk = type(bulk)(bulk.index, bulk.codec_set, bulk.image_ids, (broken_batch, second))
    broken = BulkLayout(paper_plan.seed, paper_plan.bulk_size_images, 25, "last", (broken_bulk,))
    problems = check_plan(broken, paper_recons)
    assert any("placed 2 times" in p for p in problems)
    assert any("repeats a source image" in p for p in problems)
    assert any("holds 26 items" in p for p in problems)
    assert any("missing" in p for p in problems)
