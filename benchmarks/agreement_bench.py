"""Timing of the inter-labeler agreement measure (paper, section 3.2.4, Table 1).

Prints figures and asserts nothing. Two studies are measured with all five grid sizes and 1,000
bootstrap resamples: the paper's scale (50 images, 3 labelers; target ≤ 1 s) and a large one
(2,000 images, 5 labelers; target ≤ 10 s). Then Krippendorff's α alone is timed per call against
the ``krippendorff`` package on the same binary unit data (target ≥ 30× faster).

Boxes follow the paper's setting: 2304 × 1536 images, each with a few true miscompressions that
every labeler finds with some probability and outlines with some jitter, plus a few boxes of her
own, 0–8 boxes per labeler and image, sides 10–200 px.

Run from the repository root: ``python benchmarks/agreement_bench.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import krippendorff
import numpy as np

from backend.agreement import (
    DEFAULT_GRIDS,
    Box,
    ImageSpec,
    alpha_from_counts,
    alpha_from_reliability,
    compute_agreement,
    unit_markings,
)

WIDTH, HEIGHT = 2304, 1536
RESAMPLES = 1000


def _box(rng: np.random.Generator, cx: float, cy: float, w: float, h: float) -> tuple[float, ...]:
    w = float(np.clip(w, 10, 200))
    h = float(np.clip(h, 10, 200))
    x = float(np.clip(cx - w / 2, 0, WIDTH - w))
    y = float(np.clip(cy - h / 2, 0, HEIGHT - h))
    return (round(x), round(y), round(w), round(h))


def make_study(
    n_images: int, n_labelers: int, seed: int = 0
) -> tuple[list[ImageSpec], list[Box], list[str]]:
    """Random images and boxes with agreement well above chance, as in a real study."""
    rng = np.random.default_rng(seed)
    labelers = [f"L{k}" for k in range(n_labelers)]
    images = [ImageSpec(f"img{i:05d}", WIDTH, HEIGHT) for i in range(n_images)]
    boxes: list[Box] = []
    for spec in images:
        truths = [
            (rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), *rng.uniform(10, 200, 2))
            for _ in range(int(rng.integers(0, 5)))
        ]
        for name in labelers:
            drawn = []
            for cx, cy, w, h in truths:
                if rng.random() < 0.7:
                    jitter = rng.normal(0, 8, 4)
                    drawn.append(
                        _box(rng, cx + jitter[0], cy + jitter[1], w + jitter[2], h + jitter[3])
                    )
            for _ in range(int(rng.integers(0, 3))):
                drawn.append(
                    _box(
                        rng, rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), *rng.uniform(10, 200, 2)
                    )
                )
            boxes.extend(Box(spec.image, name, *b) for b in drawn[:8])
    return images, boxes, labelers


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    return min(timed(call)[0] for _ in range(repeats))


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time of one call, in seconds.

    CPU time is printed too because on a shared machine the wall time also counts the time other
    processes held the cores.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def reliability_matrix(
    images: list[ImageSpec], boxes: list[Box], labelers: list[str], n: int
) -> np.ndarray:
    """(labelers × units) 0/1 matrix of all images at grid size n, as the package expects."""
    by_image: dict[str, list[Box]] = {}
    for box in boxes:
        by_image.setdefault(box.image, []).append(box)
    blocks = [
        unit_markings(spec, by_image.get(spec.image, []), labelers, n).marks for spec in images
    ]
    return np.hstack(blocks).astype(float)


def bench_study(n_images: int, n_labelers: int, target_s: float) -> None:
    images, boxes, labelers = make_study(n_images, n_labelers)
    runs = [
        timed(lambda: compute_agreement(images, boxes, labelers, bootstrap=RESAMPLES, seed=0))
        for _ in range(3 if n_images <= 100 else 1)
    ]
    elapsed, cpu = min(runs)
    results = compute_agreement(images, boxes, labelers, grids=(1, 16), bootstrap=0)
    alphas = ", ".join(f"n={r.n}: α={r.alpha.value:.3f}" for r in results)
    print(
        f"{n_images} images × {n_labelers} labelers, {len(boxes)} boxes, grids "
        f"{','.join(map(str, DEFAULT_GRIDS))}, {RESAMPLES} resamples: {elapsed:.2f} s wall, "
        f"{cpu:.2f} s CPU (target ≤ {target_s:g} s) [{alphas}]"
    )


def bench_alpha(n_images: int, n_labelers: int, n: int) -> None:
    images, boxes, labelers = make_study(n_images, n_labelers)
    data = reliability_matrix(images, boxes, labelers, n)
    ones = data.sum(axis=0)
    values = np.full(data.shape[1], data.shape[0])
    ours = alpha_from_reliability(data)
    theirs = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    repeats = 20
    t_matrix = best_of(repeats, lambda: alpha_from_reliability(data))
    t_counts = best_of(repeats, lambda: alpha_from_counts(ones, values))
    t_package = best_of(
        max(3, repeats // 4),
        lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"),
    )
    print(
        f"α on {data.shape[0]} × {data.shape[1]} units (n={n}): ours {ours:.6f}, package "
        f"{theirs:.6f}; from the matrix {t_matrix * 1e3:.3f} ms, from unit counts "
        f"{t_counts * 1e3:.3f} ms, package {t_package * 1e3:.3f} ms → "
        f"{t_package / t_matrix:.0f}× / {t_package / t_counts:.0f}× faster (target ≥ 30×)"
    )


def main() -> None:
    bench_study(50, 3, target_s=1.0)
    bench_study(2000, 5, target_s=10.0)
    bench_alpha(50, 3, n=16)
    bench_alpha(2000, 5, n=4)


if __name__ == "__main__":
    main()
