"""Bulks and batches: the units in which reconstructions are handed to labelers.

Paper, section 3.1 and appendix 1.3: the 12,504 reconstructions were split into 8 bulks of 64
batches of 25; "all compressed versions of one image appeared in the same bulk, but images
within bulks (and batches) were in random order"; bulks 1–4 hold the half compressed with C1,
C3, C5, C6 and bulks 5–8 the half compressed with C2, C3, C4, C6. A batch is the smallest unit
of work; keeping two reconstructions of one source image out of the same batch stops a labeler
from comparing codecs side by side instead of judging each reconstruction against its source.

Rules, all seeded and deterministic:

* Images are grouped by their codec set (so a bulk has one codec set, and sorted codec sets put
  half A before half B), shuffled, and cut into bulks of ``bulk_size_images`` images.
* A bulk's reconstructions go into ``ceil(n / batch_size)`` batches. No batch holds two
  reconstructions of one image: this needs at least as many batches as an image has
  reconstructions, so a bulk with fewer than about ``batch_size`` images gets more, smaller
  batches instead of repeats.
* Leftovers (``leftover="last"``, the default): every bulk but the last of its group holds
  ``bulk_size_images`` images and every batch but the last of its bulk holds ``batch_size``
  items, as the paper's full bulks of 200 images in 64 batches of 25. ``leftover="even"``
  keeps the same counts but spreads sizes so they differ by at most one.

Batches are filled by the bipartite Havel–Hakimi construction: each image in turn (shuffled
order) puts its reconstructions into the batches with the most free places, ties broken at
random. Ryser's exchange argument shows this never gets stuck when some duplicate-free
assignment exists, and one always exists for even sizes (deal the images' reconstructions
round-robin); a "last" layout that admits none falls back to even sizes.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backend.plans.halves import ImageId, Reconstruction, id_order, seeded_rng

Leftover = Literal["last", "even"]
PLAN_FORMAT = "sclic-plan"
PLAN_VERSION = 1


@dataclass(frozen=True, slots=True)
class Batch:
    """The smallest unit of work; ``index`` counts from 1 within its bulk."""

    index: int
    items: tuple[Reconstruction, ...]


@dataclass(frozen=True, slots=True)
class Bulk:
    """All reconstructions of a set of source images; ``index`` counts from 1 in the plan."""

    index: int
    codec_set: tuple[str, ...]
    image_ids: tuple[ImageId, ...]
    batches: tuple[Batch, ...]

    def reconstructions(self) -> Iterator[Reconstruction]:
        for batch in self.batches:
            yield from batch.items


@dataclass(frozen=True, slots=True)
class BulkLayout:
    """Bulks of batches of reconstructions, with the parameters that produced them."""

    seed: int | str
    bulk_size_images: int
    batch_size: int
    leftover: Leftover
    bulks: tuple[Bulk, ...]

    def reconstructions(self) -> Iterator[Reconstruction]:
        for bulk in self.bulks:
            yield from bulk.reconstructions()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "seed": self.seed,
            "bulk_size_images": self.bulk_size_images,
            "batch_size": self.batch_size,
            "leftover": self.leftover,
            "bulks": [
                {
                    "index": bulk.index,
                    "codec_set": list(bulk.codec_set),
                    "image_ids": list(bulk.image_ids),
                    "batches": [
                        {"index": batch.index, "items": [list(item) for item in batch.items]}
                        for batch in bulk.batches
                    ],
                }
                for bulk in self.bulks
            ],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BulkLayout:
        if data.get("format") != PLAN_FORMAT or data.get("version") != PLAN_VERSION:
            raise ValueError(f"not a {PLAN_FORMAT} version {PLAN_VERSION} document")
        if data.get("leftover") not in ("last", "even"):
            raise ValueError(f"unknown leftover rule {data.get('leftover')!r}")
        return cls(
            seed=data["seed"],
            bulk_size_images=int(data["bulk_size_images"]),
            batch_size=int(data["batch_size"]),
            leftover=data["leftover"],
            bulks=tuple(
                Bulk(
                    index=int(bulk["index"]),
                    codec_set=tuple(bulk["codec_set"]),
                    image_ids=tuple(bulk["image_ids"]),
                    batches=tuple(
                        Batch(
                            index=int(batch["index"]),
                            items=tuple(Reconstruction(*item) for item in batch["items"]),
                        )
                        for batch in bulk["batches"]
                    ),
                )
                for bulk in data["bulks"]
            ),
        )

    @classmethod
    def from_json(cls, text: str) -> BulkLayout:
        return cls.from_dict(json.loads(text))


def chunk_sizes(total: int, size: int, leftover: Leftover) -> list[int]:
    """Sizes of ``ceil(total / size)`` chunks: full then one smaller ("last"), or near-equal."""
    if total <= 0:
        return []
    count = math.ceil(total / size)
    if leftover == "last":
        return [size] * (total // size) + ([total % size] if total % size else [])
    return _even_over(total, count)


def plan_bulks_and_batches(
    recons: Iterable[Reconstruction],
    *,
    bulk_size_images: int = 200,
    batch_size: int = 25,
    seed: int | str,
    leftover: Leftover = "last",
) -> BulkLayout:
    """Group reconstructions into bulks of whole source images and duplicate-free batches.

    See the module documentation for the rules. The result depends only on the set of
    reconstructions and the parameters, not on the input order.
    """
    if bulk_size_images < 1 or batch_size < 1:
        raise ValueError("bulk_size_images and batch_size must be positive")
    if leftover not in ("last", "even"):
        raise ValueError(f"leftover must be 'last' or 'even', got {leftover!r}")
    by_image = _group_by_image(recons)
    rng = seeded_rng(seed, "bulks")
    groups: dict[tuple[str, ...], list[ImageId]] = defaultdict(list)
    for image_id in sorted(by_image, key=id_order):
        codec_set = tuple(sorted({item.codec_id for item in by_image[image_id]}))
        groups[codec_set].append(image_id)
    bulks: list[Bulk] = []
    for codec_set in sorted(groups):
        images = groups[codec_set]
        rng.shuffle(images)
        start = 0
        for size in chunk_sizes(len(images), bulk_size_images, leftover):
            members = images[start : start + size]
            start += size
            batches = _fill_batches(members, by_image, batch_size, leftover, rng)
            bulks.append(Bulk(len(bulks) + 1, codec_set, tuple(members), batches))
    return BulkLayout(seed, bulk_size_images, batch_size, leftover, tuple(bulks))


def _group_by_image(recons: Iterable[Reconstruction]) -> dict[ImageId, list[Reconstruction]]:
    by_image: dict[ImageId, list[Reconstruction]] = defaultdict(list)
    seen: set[Reconstruction] = set()
    for raw in recons:
        item = Reconstruction(*raw)
        if item in seen:
            raise ValueError(f"reconstruction listed twice: {item}")
        seen.add(item)
        by_image[item.image_id].append(item)
    for items in by_image.values():
        items.sort(key=lambda r: (r.codec_id, r.setting))
    return by_image


def _fill_batches(
    members: Sequence[ImageId],
    by_image: Mapping[ImageId, Sequence[Reconstruction]],
    batch_size: int,
    leftover: Leftover,
    rng: random.Random,
) -> tuple[Batch, ...]:
    """Batches of one bulk, with no image twice in a batch (see the module documentation)."""
    counts = [len(by_image[image_id]) for image_id in members]
    total = sum(counts)
    capacities = chunk_sizes(total, batch_size, leftover)
    if (
        leftover == "even"
        or len(capacities) < max(counts)
        or not _admits_distinct(counts, capacities)
    ):
        capacities = _even_over(total, max(len(capacities), max(counts)))
        rng.shuffle(capacities)
    free = list(capacities)
    contents: list[list[Reconstruction]] = [[] for _ in capacities]
    for image_id in members:
        items = list(by_image[image_id])
        rng.shuffle(items)
        ties = [rng.random() for _ in free]
        order = sorted(range(len(free)), key=lambda b: (-free[b], ties[b]))
        chosen = order[: len(items)]
        if free[chosen[-1]] == 0:
            raise AssertionError("batch capacities admit no duplicate-free assignment")
        for batch, item in zip(chosen, items, strict=True):
            contents[batch].append(item)
            free[batch] -= 1
    for items in contents:
        rng.shuffle(items)
    return tuple(Batch(index + 1, tuple(items)) for index, items in enumerate(contents))


def _even_over(total: int, count: int) -> list[int]:
    """``count`` sizes summing to ``total`` that differ by at most one, larger first."""
    small, extra = divmod(total, count)
    return [small + 1] * extra + [small] * (count - extra)


def _admits_distinct(counts: Sequence[int], capacities: Sequence[int]) -> bool:
    """Gale–Ryser: can each image put one item in each of ``count`` distinct batches?"""
    if sum(counts) != sum(capacities):
        return False
    largest_first = sorted(capacities, reverse=True)
    filled = 0
    for j, capacity in enumerate(largest_first, start=1):
        filled += capacity
        if filled > sum(min(count, j) for count in counts):
            return False
    return True


def duplicates_in_batch(batch: Batch) -> int:
    """Items beyond the first of each source image: 0 for a duplicate-free batch."""
    return len(batch.items) - len({item.image_id for item in batch.items})


def _span(values: Sequence[int]) -> dict[str, int]:
    return {"min": min(values), "max": max(values)} if values else {"min": 0, "max": 0}


def preview(plan: BulkLayout) -> dict[str, Any]:
    """Counts to show before a plan is written: bulks, batches, sizes, duplicates."""
    per_bulk: list[dict[str, Any]] = []
    for bulk in plan.bulks:
        sizes = [len(batch.items) for batch in bulk.batches]
        per_bulk.append(
            {
                "bulk": bulk.index,
                "codec_set": list(bulk.codec_set),
                "images": len(bulk.image_ids),
                "reconstructions": sum(sizes),
                "batches": len(bulk.batches),
                "items_per_batch": _span(sizes),
                "duplicates_in_batches": sum(duplicates_in_batch(b) for b in bulk.batches),
            }
        )
    all_sizes = [len(batch.items) for bulk in plan.bulks for batch in bulk.batches]
    return {
        "seed": plan.seed,
        "bulk_size_images": plan.bulk_size_images,
        "batch_size": plan.batch_size,
        "leftover": plan.leftover,
        "bulks": len(plan.bulks),
        "images": sum(row["images"] for row in per_bulk),
        "reconstructions": sum(all_sizes),
        "batches": len(all_sizes),
        "batches_per_bulk": _span([row["batches"] for row in per_bulk]),
        "images_per_bulk": _span([row["images"] for row in per_bulk]),
        "items_per_batch": _span(all_sizes),
        "duplicates_in_batches": sum(row["duplicates_in_batches"] for row in per_bulk),
        "per_bulk": per_bulk,
    }


def check_plan(plan: BulkLayout, recons: Iterable[Reconstruction] | None = None) -> list[str]:
    """Every broken planning rule, as readable lines; an empty list for a sound plan.

    Checks that each reconstruction appears once (and, given ``recons``, exactly those), that
    an image's reconstructions share one bulk whose codec set matches, that bulk and batch
    sizes respect the limits, and that no batch repeats a source image.
    """
    problems: list[str] = []
    placed = Counter(plan.reconstructions())
    problems += [f"{item} placed {n} times" for item, n in placed.items() if n > 1]
    if recons is not None:
        expected = {Reconstruction(*item) for item in recons}
        problems += [f"{item} missing" for item in expected - placed.keys()]
        problems += [f"{item} not requested" for item in placed.keys() - expected]
    bulk_of: dict[ImageId, int] = {}
    for bulk in plan.bulks:
        if len(bulk.image_ids) > plan.bulk_size_images:
            problems.append(f"bulk {bulk.index} holds {len(bulk.image_ids)} images")
        members = set(bulk.image_ids)
        for batch in bulk.batches:
            where = f"bulk {bulk.index} batch {batch.index}"
            if len(batch.items) > plan.batch_size:
                problems.append(f"{where} holds {len(batch.items)} items")
            if duplicates_in_batch(batch):
                problems.append(f"{where} repeats a source image")
            for item in batch.items:
                if item.image_id not in members:
                    problems.append(f"{where}: image {item.image_id!r} not in the bulk")
                if item.codec_id not in bulk.codec_set:
                    problems.append(f"{where}: codec {item.codec_id} not in the bulk's set")
                previous = bulk_of.setdefault(item.image_id, bulk.index)
                if previous != bulk.index:
                    problems.append(f"image {item.image_id!r} in bulks {previous} and {bulk.index}")
    return problems
