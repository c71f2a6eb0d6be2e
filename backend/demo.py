"""Demo data: real photographs from scikit-image, reconstructed by codecs that run offline,
arranged in one bulk of batches assigned to demo labelers.

Demo accounts (``admin``, ``labeler1``–``labeler3``, ``researcher``) are flagged as demo users
and can log in only while the platform runs in demo mode.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from backend.imaging.png import encode as encode_png
from backend.models import (
    Assignment,
    Batch,
    BatchItem,
    Bulk,
    CompressionJob,
    JobStatus,
    RateSetting,
    Role,
    SourceImage,
    User,
)
from backend.services import auth as auth_service
from backend.services.compression import create_jobs
from backend.services.images import find_reconstruction, get_or_create_dataset, register_source

log = logging.getLogger("sclic.demo")

DEMO_USERS: tuple[tuple[str, Role], ...] = (
    ("admin", Role.admin),
    ("labeler1", Role.labeler),
    ("labeler2", Role.labeler),
    ("labeler3", Role.labeler),
    ("researcher", Role.researcher),
)
DEMO_DATASET = "skimage-photographs"


def demo_photographs() -> Iterator[tuple[str, np.ndarray]]:
    """Colour photographs that scikit-image ships (no download needed)."""
    import skimage.data as data

    yield "astronaut", data.astronaut()
    yield "chelsea", data.chelsea()
    yield "coffee", data.coffee()
    yield "rocket", data.rocket()
    yield "motorcycle_left", data.stereo_motorcycle()[0]
    yield "hubble_deep_field", data.hubble_deep_field()
    yield "immunohistochemistry", data.immunohistochemistry()
    yield "retina", data.retina()


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def center_crop_multiple(rgb: np.ndarray, multiple: int = 16) -> np.ndarray:
    h, w = rgb.shape[:2]
    nh, nw = h - h % multiple, w - w % multiple
    top, left = (h - nh) // 2, (w - nw) // 2
    return np.ascontiguousarray(rgb[top : top + nh, left : left + nw])


def ensure_demo_users(session: Session, password: str) -> None:
    for username, role in DEMO_USERS:
        if session.exec(select(User).where(User.username == username)).first() is None:
            auth_service.create_user(session, username, password, role, is_demo=True)


# (codec id, setting) pairs the demo shows: the demo neural codec at both settings and the
# JPEG control at the low setting.
DEMO_CODECS: tuple[tuple[str, RateSetting], ...] = (
    ("90", RateSetting.low),
    ("90", RateSetting.high),
    ("91", RateSetting.low),
)

RunJob = Callable[[int], object]


def load_demo_data(
    session: Session,
    *,
    password: str,
    run_job: RunJob,
    progress: Callable[[str], None] = lambda _msg: None,
) -> None:
    """Idempotent: a second call finds everything in place and adds nothing.

    Reconstructions go through the real compression pipeline: ``run_job`` runs one
    ``CompressionJob`` by id (the Celery task's body, in-process).
    """
    ensure_demo_users(session, password)
    dataset = get_or_create_dataset(session, DEMO_DATASET)
    sources: list[SourceImage] = []
    for name, rgb in demo_photographs():
        progress(f"preparing {name}")
        prepared = center_crop_multiple(rgb)
        source, _ = register_source(
            session,
            dataset,
            original_name=f"{name}.png",
            original_bytes=png_bytes(rgb),
            original_suffix=".png",
            prepared_png=encode_png(prepared),
            width=prepared.shape[1],
            height=prepared.shape[0],
        )
        sources.append(source)
    create_jobs(session, [s.id for s in sources], DEMO_CODECS)  # type: ignore[misc]
    jobs = session.exec(select(CompressionJob).order_by(col(CompressionJob.id))).all()
    for number, job in enumerate(jobs, 1):
        if job.status != JobStatus.done:
            progress(f"compressing {number}/{len(jobs)} (codec {job.codec_id} {job.setting.value})")
            run_job(job.id)  # type: ignore[arg-type]
    session.expire_all()
    recon_ids: list[tuple[int, int]] = []
    for source in sources:
        for codec_id, setting in DEMO_CODECS:
            recon = find_reconstruction(session, source.id, codec_id, setting)  # type: ignore[arg-type]
            if recon is None:
                job = session.exec(
                    select(CompressionJob).where(
                        CompressionJob.source_image_id == source.id,
                        CompressionJob.codec_id == codec_id,
                        CompressionJob.setting == setting,
                    )
                ).one()
                raise RuntimeError(f"demo compression failed: {job.error}")
            recon_ids.append((source.id, recon.id))  # type: ignore[arg-type]
    _demo_batches(session, recon_ids)


def _demo_batches(session: Session, recon_ids: list[tuple[int, int]]) -> None:
    if session.exec(select(Bulk).where(Bulk.name == "Demo bulk")).first() is not None:
        return
    bulk = Bulk(number=1, name="Demo bulk")
    session.add(bulk)
    session.flush()
    # One reconstruction per source image in each batch: batch k takes the k-th codec of
    # every image, shuffled with a fixed seed so the order reveals nothing.
    rng = np.random.default_rng(0)
    per_codec = len(DEMO_CODECS)
    labelers = session.exec(
        select(User).where(User.role == Role.labeler, User.is_demo).order_by(User.username)
    ).all()
    for k in range(per_codec):
        items = [recon for i, (_, recon) in enumerate(recon_ids) if i % per_codec == k]
        rng.shuffle(items)
        batch = Batch(bulk_id=bulk.id, number=k + 1, name=f"Demo batch {k + 1}")
        session.add(batch)
        session.flush()
        for position, recon_id in enumerate(items):
            session.add(BatchItem(batch_id=batch.id, position=position, reconstruction_id=recon_id))  # type: ignore[arg-type]
        if labelers:
            labeler = labelers[k % len(labelers)]
            session.add(Assignment(batch_id=batch.id, labeler_id=labeler.id))  # type: ignore[arg-type]
    session.commit()
