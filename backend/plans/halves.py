"""Two halves of the source images, each compressed with its own set of four codecs.

Paper, section 3.1: "we split the dataset in half and compressed each half using four different
codecs", C3 and C6 in both halves, the others in one only; appendix 1.3 names the sets (bulks
1–4: C1, C3, C5, C6; bulks 5–8: C2, C3, C4, C6). Each codec runs at a low and a high setting,
so every source image yields eight reconstructions (1563 × 4 × 2 = 12,504).

The split is balanced per source dataset, so that both halves, and with them the codecs used on
only one half, see the same mix of CLIC, DIV2K and RAISE content.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple

ImageId = int | str
Half = Literal["A", "B"]
HALVES: tuple[Half, Half] = ("A", "B")
CODEC_SETS: Mapping[Half, tuple[str, ...]] = {
    "A": ("01", "03", "05", "06"),
    "B": ("02", "03", "04", "06"),
}
SETTINGS: tuple[str, ...] = ("low", "high")


class Reconstruction(NamedTuple):
    """One planned reconstruction: a source image through one codec at one setting."""

    image_id: ImageId
    codec_id: str
    setting: str


def id_order(image_id: ImageId) -> tuple[int, int, str]:
    """A total order over mixed integer and string ids, so that seeded shuffles reproduce."""
    if isinstance(image_id, int):
        return 0, image_id, ""
    return 1, 0, image_id


def seeded_rng(seed: int | str, purpose: str) -> random.Random:
    """A generator for one planning step; string seeds hash with SHA-512, stable across runs."""
    return random.Random(f"sclic:{purpose}:{seed}")


def split_halves(images: Sequence[tuple[ImageId, str]], seed: int | str) -> dict[ImageId, Half]:
    """Assign each ``(image_id, dataset)`` to half "A" or "B", seeded and balanced.

    Within every dataset the halves differ by at most one image, and so do the totals: a
    dataset with an odd count gives its extra image to the half that is smaller so far (a
    seeded coin decides ties). Datasets are taken in name order and ids in a fixed order before
    shuffling, so the input order does not change the result.
    """
    by_dataset: dict[str, list[ImageId]] = defaultdict(list)
    for image_id, dataset in images:
        by_dataset[dataset].append(image_id)
    all_ids = [image_id for ids in by_dataset.values() for image_id in ids]
    if len(set(all_ids)) != len(all_ids):
        raise ValueError("image ids must be unique")
    rng = seeded_rng(seed, "halves")
    halves: dict[ImageId, Half] = {}
    totals = {"A": 0, "B": 0}
    for dataset in sorted(by_dataset):
        ids = sorted(by_dataset[dataset], key=id_order)
        rng.shuffle(ids)
        half_count = len(ids) // 2
        for image_id in ids[:half_count]:
            halves[image_id] = "A"
        for image_id in ids[half_count : 2 * half_count]:
            halves[image_id] = "B"
        totals["A"] += half_count
        totals["B"] += half_count
        if len(ids) % 2:
            extra: Half
            if totals["A"] == totals["B"]:
                extra = rng.choice(HALVES)
            else:
                extra = "A" if totals["A"] < totals["B"] else "B"
            halves[ids[-1]] = extra
            totals[extra] += 1
    return halves


def reconstructions_for(
    halves: Mapping[ImageId, Half],
    codec_sets: Mapping[Half, Sequence[str]] = CODEC_SETS,
    settings: Iterable[str] = SETTINGS,
) -> list[Reconstruction]:
    """Every reconstruction to compute: each image through its half's codecs at each setting."""
    levels = tuple(settings)
    return [
        Reconstruction(image_id, codec_id, setting)
        for image_id in sorted(halves, key=id_order)
        for codec_id in codec_sets[halves[image_id]]
        for setting in levels
    ]
