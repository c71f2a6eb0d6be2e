"""Fast rows for admin-side tests: source images and reconstructions inserted in bulk.

Planning and progress tests need hundreds of source images and thousands of reconstructions;
their pixels do not matter there, so rows point at files that do not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import insert
from sqlmodel import Session, col, select

from backend.models import (
    Plan,
    RateSetting,
    Reconstruction,
    SourceDataset,
    SourceImage,
    SourceStatus,
)


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def fake_sources(
    session: Session,
    n: int,
    datasets: Sequence[str] = ("CLIC", "DIV2K", "RAISE"),
    tag: str = "",
) -> list[int]:
    """``n`` prepared source images spread round-robin over ``datasets``; returns their ids."""
    ids_of: dict[str, int] = {}
    for name in datasets:
        found = session.exec(select(SourceDataset).where(SourceDataset.name == name)).first()
        if found is None:
            found = SourceDataset(name=name)
            session.add(found)
            session.flush()
        ids_of[name] = found.id  # type: ignore[assignment]
    rows = [
        {
            "dataset_id": ids_of[datasets[i % len(datasets)]],
            "original_name": f"img-{tag}{i:05d}.png",
            "original_path": f"originals/xx/{tag}{i}.png",
            "original_sha256": _hex(f"orig-{tag}{i}", 64),
            "prepared_sha1": _hex(f"prep-{tag}{i}", 40),
            "prepared_path": f"sources/xx/{tag}{i}.png",
            "width": 768,
            "height": 512,
            "status": SourceStatus.prepared,
            "notes": "",
        }
        for i in range(n)
    ]
    session.execute(insert(SourceImage), rows)
    session.commit()
    hashes = [r["original_sha256"] for r in rows]
    return list(
        session.exec(
            select(SourceImage.id)
            .where(col(SourceImage.original_sha256).in_(hashes))
            .order_by(col(SourceImage.id))
        ).all()
    )


def fake_reconstructions(
    session: Session, triples: Iterable[tuple[int, str, str]]
) -> dict[tuple[int, str, str], int]:
    """Rows for ``(source id, codec id, setting)``; returns their ids by triple."""
    rows = [
        {
            "source_image_id": source_id,
            "codec_id": codec_id,
            "setting": RateSetting(setting),
            "params": {},
            "versions": {},
            "blind_name": _hex(f"recon-{source_id}-{codec_id}-{setting}", 40),
            "png_path": f"reconstructions/xx/{source_id}-{codec_id}-{setting}.png",
            "width": 768,
            "height": 512,
        }
        for source_id, codec_id, setting in triples
    ]
    if rows:
        session.execute(insert(Reconstruction), rows)
        session.commit()
    found = session.exec(
        select(
            Reconstruction.id,
            Reconstruction.source_image_id,
            Reconstruction.codec_id,
            Reconstruction.setting,
        )
    ).all()
    return {(s, c, RateSetting(x).value): i for i, s, c, x in found}


def planned_triples(plan: Plan) -> list[tuple[int, str, str]]:
    """``(source id, codec id, setting)`` of every reconstruction that ``plan`` asks for."""
    from backend.services import plans

    params = plans.PlanParams.from_row(plan)
    return [
        (i, c, s)
        for i, h in plans.halves_of(plan).items()
        for c in params.codec_sets[h]
        for s in params.settings
    ]


def fake_study(session: Session, n_sources: int = 20, batch_size: int = 8, seed: int = 0) -> int:
    """Fake sources, a saved plan, all its reconstructions, cut into bulks; returns the plan id."""
    from backend.services import plan_cuts, plans

    fake_sources(session, n_sources)
    params = plans.PlanParams(seed=seed, bulk_size=200, batch_size=batch_size)
    plan, _ = plans.save_plan(session, params, None)
    fake_reconstructions(session, planned_triples(plan))
    plan_cuts.cut_bulks(session, plan, None)
    return plan.id  # type: ignore[return-value]
