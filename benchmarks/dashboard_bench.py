"""The admin side at the paper's size: planning 12,504 reconstructions, the dashboard, the CSV.

Paper, section 3.1 and appendix 1.3: 1563 images (appendix table 1) × 4 codecs × 2 settings =
12,504 reconstructions in 8 bulks of 64 batches of 25, annotated by three labelers who drew
18,019 boxes (section 3.4). The benchmark seeds a scratch PostgreSQL database with bulk inserts,
then times, through the platform's own services:

* saving the plan version (split and preview), starting its compression (12,504 jobs written,
  none sent), the cut preview and writing the cut (planning 12,504 reconstructions through the
  database path, with every rule checked);
* the even split among three labelers;
* with about 80 % of the batches worked on (reviews, ~18,000 boxes, active time), the dashboard
  page, its htmx fragment, the assignment page and the CSV progress file over HTTP from a real
  uvicorn server.

Target (issue 4): dashboard page ≤ 200 ms. Prints figures; asserts nothing.

Run: ``.venv/bin/python benchmarks/dashboard_bench.py [--requests N]``
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._server import percentile, scratch_database, uvicorn_server  # noqa: E402

# Appendix, table 1: selected images per source dataset (CLIC parts together).
DATASETS = {"CLIC": 379 + 81 + 29 + 27, "DIV2K": 603 + 62, "RAISE": 382}
LABELERS = ("lab1", "lab2", "lab3")
PASSWORD = "bench-password"
ANNOTATIONS_TARGET = 18_019


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def seed_sources() -> None:
    from sqlalchemy import insert
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.models import SourceDataset, SourceImage, SourceStatus

    with Session(get_engine()) as session:
        rows = []
        for name, count in DATASETS.items():
            dataset = SourceDataset(name=name, scale=0.4 if name == "RAISE" else None)
            session.add(dataset)
            session.flush()
            rows += [
                {
                    "dataset_id": dataset.id,
                    "original_name": f"{name}-{i:04d}.png",
                    "original_path": f"originals/{name}-{i}.png",
                    "original_sha256": _hex(f"o-{name}-{i}", 64),
                    "prepared_sha1": _hex(f"p-{name}-{i}", 40),
                    "prepared_path": f"sources/{name}-{i}.png",
                    "width": 2048,
                    "height": 1360,
                    "status": SourceStatus.prepared,
                    "notes": "",
                }
                for i in range(count)
            ]
        session.execute(insert(SourceImage), rows)
        session.commit()


def seed_reconstructions(plan_id: int) -> int:
    from sqlalchemy import insert
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.models import Plan, RateSetting, Reconstruction
    from backend.services import plans

    with Session(get_engine()) as session:
        plan = session.get(Plan, plan_id)
        params = plans.PlanParams.from_row(plan)
        rows = [
            {
                "source_image_id": i,
                "codec_id": c,
                "setting": RateSetting(s),
                "params": {},
                "versions": {},
                "blind_name": _hex(f"r-{i}-{c}-{s}", 40),
                "png_path": f"reconstructions/{i}-{c}-{s}.png",
                "width": 2048,
                "height": 1360,
                "bpp": 0.25 if s == "low" else 0.75,
            }
            for i, h in plans.halves_of(plan).items()
            for c in params.codec_sets[h]
            for s in params.settings
        ]
        session.execute(insert(Reconstruction), rows)
        session.commit()
        return len(rows)


def simulate_work(rng: random.Random) -> tuple[int, int]:
    """Mark ~75 % of the batches done and ~10 % in progress, with reviews, boxes and time."""
    from sqlalchemy import insert, update
    from sqlmodel import Session, col, select

    from backend.core.db import get_engine
    from backend.models import (
        Annotation,
        Assignment,
        AssignmentStatus,
        BatchItem,
        Review,
        new_public_id,
    )

    now = datetime.now(UTC)
    with Session(get_engine()) as session:
        assignments = session.exec(select(Assignment).order_by(col(Assignment.id))).all()
        items: dict[int, list[int]] = {}
        for batch_id, recon_id in session.exec(
            select(BatchItem.batch_id, BatchItem.reconstruction_id)
        ).all():
            items.setdefault(batch_id, []).append(recon_id)
        reviews, boxes, updates = [], [], []
        worked = [(a, rng.random()) for a in assignments]
        reviewed_items = sum(
            len(items[a.batch_id]) if u < 0.75 else len(items[a.batch_id]) // 2
            for a, u in worked
            if u < 0.85
        )
        mean_boxes = ANNOTATIONS_TARGET / max(1, reviewed_items)
        for a, u in worked:
            if u >= 0.85:
                continue
            done = u < 0.75
            started = now - timedelta(days=rng.randint(1, 300))
            todo = items[a.batch_id] if done else items[a.batch_id][: len(items[a.batch_id]) // 2]
            for recon_id in todo:
                reviews.append(
                    {
                        "labeler_id": a.labeler_id,
                        "reconstruction_id": recon_id,
                        "done": True,
                        "done_at": started,
                        "multi": rng.random() < 0.05,
                        "multi_types": [],
                        "appearance_note": "",
                        "note": "",
                        "version": 1,
                        "updated_at": started,
                    }
                )
                for _ in range(_poisson(rng, mean_boxes)):
                    x, y = rng.randrange(0, 1900), rng.randrange(0, 1200)
                    boxes.append(
                        {
                            "public_id": new_public_id(),
                            "reconstruction_id": recon_id,
                            "labeler_id": a.labeler_id,
                            "x": x,
                            "y": y,
                            "w": rng.randint(8, 140),
                            "h": rng.randint(8, 140),
                            "version": 1,
                            "deleted": rng.random() < 0.03,
                            "created_at": started,
                            "updated_at": started,
                        }
                    )
            updates.append(
                {
                    "b_id": a.id,
                    "status": (
                        AssignmentStatus.done if done else AssignmentStatus.in_progress
                    ).value,
                    "started_at": started,
                    "finished_at": started + timedelta(hours=3) if done else None,
                    "active_seconds": rng.uniform(1800, 3 * 3600) * (1 if done else 0.5),
                }
            )
        session.execute(insert(Review), reviews)
        session.execute(insert(Annotation), boxes)
        from sqlalchemy import bindparam

        session.connection().execute(
            update(Assignment.__table__)  # type: ignore[attr-defined]
            .where(Assignment.__table__.c.id == bindparam("b_id"))  # type: ignore[attr-defined]
            .values(
                status=bindparam("status"),
                started_at=bindparam("started_at"),
                finished_at=bindparam("finished_at"),
                active_seconds=bindparam("active_seconds"),
            ),
            updates,
        )
        session.commit()
        return len(reviews), len(boxes)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"  {label:<46} {1000 * (time.perf_counter() - started):9.1f} ms")
    return result


def http_timings(base: str, requests: int) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/api/v1/auth/login", json={"username": "boss", "password": PASSWORD})
        r.raise_for_status()
        for label, path, headers in (
            ("dashboard page", "/admin/dashboard", {}),
            ("dashboard fragment (htmx refresh)", "/admin/dashboard", {"HX-Request": "true"}),
            ("dashboard, one bulk", "/admin/dashboard?bulk=1", {}),
            ("progress file (CSV)", "/admin/dashboard.csv", {}),
            ("assignment page", "/admin/assignments", {}),
            ("overview page", "/admin", {}),
        ):
            client.get(path, headers=headers).raise_for_status()  # warm up
            times, size = [], 0
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append(1000 * (time.perf_counter() - started))
                response.raise_for_status()
                size = len(response.content)
            print(
                f"  {label:<38} p50 {percentile(times, 50):7.1f} ms  "
                f"p95 {percentile(times, 95):7.1f} ms  ({size / 1024:.0f} KiB)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(2024)
    with scratch_database():
        from sqlalchemy import func, text
        from sqlmodel import Session, select

        from backend.core.db import get_engine
        from backend.models import Batch, BatchItem, Bulk, Plan, Role
        from backend.services import assignments, dashboard, plan_cuts, plans
        from backend.services.auth import create_user

        print("seeding (bulk inserts)")
        timed("1563 source images", seed_sources)
        with Session(get_engine(), expire_on_commit=False) as session:
            boss = create_user(session, "boss", PASSWORD, Role.admin)
            labelers = [create_user(session, name, PASSWORD, Role.labeler) for name in LABELERS]
            print("planning through the database")
            plan, _ = timed(
                "save plan version (split + preview)",
                plans.save_plan,
                session,
                plans.PlanParams(seed=1),
                boss.id,
            )
            # Jobs are written but not sent: the benchmark has no worker and no images.
            plans.compression.start_jobs = lambda job_ids: None
            queued = timed(
                "start compression (jobs, nothing sent)",
                plans.start_compression,
                session,
                plan,
                boss.id,
            )
            print(f"    {queued} compression jobs")
            timed(
                "start compression again (adds nothing)",
                plans.start_compression,
                session,
                plan,
                boss.id,
            )
        n = timed("12,504 reconstruction rows (bulk insert)", seed_reconstructions, plan.id)
        with Session(get_engine(), expire_on_commit=False) as session:
            plan = session.get(Plan, plan.id)
            cut = timed("cut preview (nothing written)", plan_cuts.prepare_cut, session, plan)
            print(f"    {cut.ready_images} images ready, {len(cut.recon_ids)} reconstructions")
            timed(f"cut {n} reconstructions (write)", plan_cuts.cut_bulks, session, plan, boss.id)
            bulks = session.exec(select(func.count()).select_from(Bulk)).one()
            batches = session.exec(select(func.count()).select_from(Batch)).one()
            items = session.exec(select(func.count()).select_from(BatchItem)).one()
            print(f"    {bulks} bulks, {batches} batches, {items} batch items")
            timed("plan progress (version page)", plans.plan_progress, session, plan)
            split = timed(
                "even split among 3 labelers",
                assignments.even_split,
                session,
                [u.id for u in labelers],
                boss.id,
            )
            print(f"    images per labeler: {split.images_per_labeler}")
        reviews, boxes = timed("simulated work (reviews, boxes, time)", simulate_work, rng)
        print(f"    {reviews} finished reviews, {boxes} boxes")
        print("dashboard in process")
        with Session(get_engine()) as session:
            # Right after bulk inserts PostgreSQL has no statistics yet and plans the joins
            # blind; autovacuum's ANALYZE fixes that within a minute on a running server.
            timed("dashboard.dashboard(), before ANALYZE", dashboard.dashboard, session)
            timed("ANALYZE", lambda: session.connection().execute(text("ANALYZE")))
            session.commit()
            for _ in range(3):
                board = timed(
                    "dashboard.dashboard() (4 grouped queries)", dashboard.dashboard, session
                )
            timed("progress_csv()", dashboard.progress_csv, board.rows)
            print(f"    {len(board.rows)} batch rows, {board.total.annotations} boxes counted")
        print(f"over HTTP (uvicorn, 1 worker, {args.requests} requests each)")
        with uvicorn_server() as (base, _process):
            http_timings(base, args.requests)


if __name__ == "__main__":
    main()
