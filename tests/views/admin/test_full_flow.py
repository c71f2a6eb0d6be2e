"""The admin's whole study on scikit-image photographs and generated images, through the pages.

Ingest (with broken, grayscale, RGBA, 16-bit, oversized and duplicate files), prescreening by
two raters, a plan with the JPEG and WebP controls (run in-process), the cut into bulks and
batches, an even split between two labelers, the dashboard and the progress file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlmodel import select

from backend.core.config import get_settings
from backend.demo import png_bytes
from backend.models import (
    Assignment,
    Batch,
    BatchItem,
    CompressionJob,
    JobStatus,
    Reconstruction,
    Role,
    SourceImage,
    SourceStatus,
)
from backend.services import plans as plan_service
from backend.services.tasks import drain_local_tasks
from tests.ingest.factories import encode, png16, png_bomb
from tests.services.test_ingest_db import gradient
from tests.utils.factories import login, make_user
from tests.views.admin.conftest import squash
from workers.embedded import install_runner

HX = {"HX-Request": "true"}
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


def make_folder(folder: Path) -> None:
    import skimage.data as data

    for name in PHOTOS:
        (folder / f"{name}.png").write_bytes(png_bytes(getattr(data, name)()))
    (folder / "generated").mkdir()
    stripes = np.zeros((480, 640, 3), np.uint8)
    stripes[:, ::8] = (250, 30, 30)
    (folder / "generated" / "stripes.png").write_bytes(png_bytes(stripes))
    (folder / "generated" / "large.png").write_bytes(png_bytes(gradient(2600, 1800)))
    (folder / "bad").mkdir()
    jpeg = encode(data.coffee(), "JPEG")
    (folder / "bad" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "bad" / "gray.png").write_bytes(encode(data.camera(), "PNG"))
    rgba = np.dstack([data.astronaut(), np.full((512, 512), 200, np.uint8)])
    (folder / "bad" / "translucent.png").write_bytes(encode(rgba, "PNG", mode="RGBA"))
    (folder / "bad" / "deep.png").write_bytes(png16(gradient(96, 64).astype(np.uint16) * 257))
    (folder / "bad" / "bomb.png").write_bytes(png_bomb())
    (folder / "bad" / "again.png").write_bytes(png_bytes(data.astronaut()))


def test_admin_runs_a_whole_study(client, admin, session, tmp_path, monkeypatch):
    folder = tmp_path / "sources"
    folder.mkdir()
    make_folder(folder)

    # 1. Ingest the folder from the page (the task in-process here) and read the report.
    with monkeypatch.context() as here:
        here.delenv("REDIS_URL", raising=False)
        get_settings.cache_clear()
        install_runner()
        response = client.post(
            "/admin/ingest/folder",
            data={"dataset": "skimage", "folder": str(folder), "recursive": "on"},
            follow_redirects=False,
        )
        drain_local_tasks()
    get_settings.cache_clear()
    run_id = int(re.search(r"/runs/(\d+)", response.headers["location"])[1])
    report = squash(client.get(f"/admin/ingest/runs/{run_id}").text)
    assert "14 of 14 files: 8 taken, 6 refused" in report
    for code in (
        "corrupt",
        "not_three_channels",
        "not_eight_bit",
        "decompression_bomb",
        "duplicate",
    ):
        assert code in report
    sources = session.exec(select(SourceImage).order_by(SourceImage.id)).all()
    assert len(sources) == 8
    assert all(s.width % 16 == 0 and s.height % 16 == 0 for s in sources)
    assert all(max(s.width, s.height) <= 2304 for s in sources)
    large = next(s for s in sources if s.original_name == "generated/large.png")
    assert large.width == 2304

    # 2. Two raters prescreen; both reject the two generated images.
    rejected = {s.id for s in sources if s.original_name.startswith("generated/")}
    for rating_of_rejected in ("exclude", "borderline"):
        for _ in sources:
            card = client.get("/admin/prescreen", headers=HX).text
            source_id = int(re.search(r'data-source-id="(\d+)"', card)[1])
            rating = rating_of_rejected if source_id in rejected else "include"
            client.post(f"/admin/prescreen/{source_id}", data={"rating": rating}, headers=HX)
        assert 'id="prescreen-done"' in client.get("/admin/prescreen", headers=HX).text
        if rating_of_rejected == "exclude":
            make_user(session, "rui", Role.researcher)
            login(client, "rui")
    login(client, "boss")
    session.expire_all()
    kept = [
        s.id for s in session.exec(select(SourceImage)).all() if s.status == SourceStatus.prepared
    ]
    assert sorted(set(s.id for s in sources) - set(kept)) == sorted(rejected)
    assert "Cohen" in client.get("/admin/prescreen/agreement").text

    # 3. A plan with the conventional controls, so the codecs run here without weights; this
    # process's worker reports that it can run them, as the embedded server's does at start.
    from workers import reports

    reports.report_once("embedded@test", reports.EMBEDDED_QUEUES)
    form = {
        "seed": "3",
        "bulk_size": "200",
        "batch_size": "25",
        "codecs_A": ["91"],
        "codecs_B": ["92"],
        "settings": ["low", "high"],
    }
    preview = squash(client.post("/admin/plans/preview", data=form, headers=HX).text)
    assert "6 images → 12 reconstructions" in preview
    saved = client.post("/admin/plans", data=form, follow_redirects=False)
    plan_id = int(re.search(r"/admin/plans/(\d+)", saved.headers["location"])[1])

    # 4. Compress: the page queues the jobs; run them here as a worker would.
    queued: list[int] = []
    monkeypatch.setattr(plan_service.compression, "start_jobs", queued.extend)
    client.post(f"/admin/plans/{plan_id}/compress")
    assert len(queued) == 12
    from workers.tasks import compress

    for job_id in queued:
        assert compress.run(job_id) == "done"
    status = client.get("/admin/compression", headers=HX).text
    assert "hx-trigger" not in status and "All jobs have finished." in status
    session.expire_all()
    assert all(j.status == JobStatus.done for j in session.exec(select(CompressionJob)).all())

    # 5. Cut bulks and batches, then check the paper's rules in the database.
    assert "6 of 6 images are ready" in squash(client.get(f"/admin/plans/{plan_id}/cut").text)
    client.post(f"/admin/plans/{plan_id}/cut")
    rows = session.exec(
        select(Batch.bulk_id, Batch.id, Reconstruction.source_image_id, Reconstruction.codec_id)
        .join(BatchItem, BatchItem.batch_id == Batch.id)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)
    ).all()
    assert len(rows) == 12
    bulk_of, in_batch, codecs = defaultdict(set), defaultdict(list), defaultdict(set)
    for bulk_id, batch_id, image, codec in rows:
        bulk_of[image].add(bulk_id)
        in_batch[batch_id].append(image)
        codecs[bulk_id].add(codec)
    assert all(len(b) == 1 for b in bulk_of.values())
    assert all(len(set(images)) == len(images) for images in in_batch.values())
    assert sorted(map(sorted, codecs.values())) == [["91"], ["92"]]

    # 6. Two labelers, an even split, the dashboard and the progress file.
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    client.post("/admin/assignments/split", data={"labeler_ids": [str(ana.id), str(ben.id)]})
    held = defaultdict(int)
    for assignment in session.exec(select(Assignment)).all():
        held[assignment.labeler_id] += len(in_batch[assignment.batch_id])
    assert sorted(held.values()) == [6, 6]
    board = client.get("/admin/dashboard").text
    assert ">ana<" in board and ">ben<" in board
    progress = list(csv.DictReader(io.StringIO(client.get("/admin/dashboard.csv").text)))
    assert {r["labeler"] for r in progress} == {"ana", "ben"}
    assert sum(int(r["images"]) for r in progress) == 12

    # 7. A labeler sees her batches with blind names only.
    login(client, "ana")
    batches = client.get("/api/v1/batches").json()["data"]
    assert batches and all(b["labeler"] is None for b in batches)
    items = client.get(f"/api/v1/batches/{batches[0]['id']}/items").json()["data"]
    assert all(re.fullmatch(r"[0-9a-f]{40}", item["blind_name"]) for item in items)
    assert not any({"codec_id", "setting", "model_id", "source"} & set(item) for item in items)
    assert "skimage" not in str(items) and ".png" not in str(items)
