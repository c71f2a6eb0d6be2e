"""Time to plan the paper's workload: 1563 images × 4 codecs × 2 settings = 12,504.

Paper, section 3.1 and appendix 1.3: two halves, eight bulks, batches of 25. Times the split,
the reconstruction list, bulk and batch planning, the rule check and the JSON round trip, and
prints the preview counts. Asserts nothing.

Run: ``.venv/bin/python benchmarks/plan_bench.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import time

from backend.plans.bulks import BulkLayout, check_plan, plan_bulks_and_batches, preview
from backend.plans.halves import reconstructions_for, split_halves

# Appendix, table 1: selected images per source dataset.
DATASETS = {"clic": 379 + 81 + 29 + 27, "div2k": 603 + 62, "raise": 382}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    images = [
        (f"{dataset}-{index:04d}", dataset)
        for dataset, count in DATASETS.items()
        for index in range(count)
    ]
    for leftover in ("last", "even"):
        timings: dict[str, float] = {}
        plan: BulkLayout | None = None
        for seed in range(args.repeat):
            steps = []
            started = time.perf_counter()
            halves = split_halves(images, seed)
            recons = reconstructions_for(halves)
            steps.append(("split + reconstructions", time.perf_counter()))
            plan = plan_bulks_and_batches(recons, seed=seed, leftover=leftover)
            steps.append(("bulks + batches", time.perf_counter()))
            problems = check_plan(plan, recons)
            steps.append(("check_plan", time.perf_counter()))
            assert not problems, problems[:3]
            BulkLayout.from_json(plan.to_json())
            steps.append(("JSON round trip", time.perf_counter()))
            previous = started
            for name, moment in steps:
                timings[name] = max(timings.get(name, 0.0), moment - previous)
                previous = moment
        assert plan is not None
        counts = preview(plan)
        print(f"leftover={leftover}: {counts['reconstructions']} reconstructions")
        for name, seconds in timings.items():
            print(f"  {name:<24} {seconds * 1000:7.1f} ms (slowest of {args.repeat})")
        print(
            f"  {counts['bulks']} bulks, {counts['batches']} batches, "
            f"images per bulk {counts['images_per_bulk']}, "
            f"batches per bulk {counts['batches_per_bulk']}, "
            f"items per batch {counts['items_per_batch']}, "
            f"duplicates in batches {counts['duplicates_in_batches']}"
        )
        for row in counts["per_bulk"]:
            print(
                f"    bulk {row['bulk']}: codecs {','.join(row['codec_set'])}, "
                f"{row['images']} images, {row['reconstructions']} reconstructions, "
                f"{row['batches']} batches of {row['items_per_batch']['min']}–"
                f"{row['items_per_batch']['max']}"
            )


if __name__ == "__main__":
    main()
