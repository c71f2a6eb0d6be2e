"""The cut of a study plan into bulks and batches (paper, section 3.1 and appendix 1.3).

A plan's reconstructions were cut into bulks of 200 source images, each in batches of 25, so
that each labeler sees every version of an image in one bulk and never one image twice in a
batch. Cutting is safe to repeat: it places every source image whose planned reconstructions
all exist and that is not in a bulk yet, after :func:`~backend.plans.bulks.check_plan`
found no broken rule, and writes all of it or nothing. The layout itself is
:mod:`backend.plans.bulks` (pure); this module feeds it rows and writes its result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, text
from sqlmodel import Session, col, select

from backend.models import (
    AuditEntry,
    Batch,
    BatchItem,
    Bulk,
    Plan,
    RateSetting,
    Reconstruction,
    SourceImage,
    SourceStatus,
)
from backend.plans.bulks import BulkLayout, check_plan, plan_bulks_and_batches, preview
from backend.plans.halves import Reconstruction as Planned
from backend.services.plans import PlanError, PlanParams, eligible_sources, halves_of


@dataclass
class Cut:
    """The would-be (or written) bulks and batches of one plan version."""

    planned_images: int
    ready_images: int
    waiting_images: int
    placed_images: int
    plan: BulkLayout | None
    problems: list[str]
    recon_ids: dict[Planned, int]
    bulk_offset: int = 0
    written_bulks: list[int] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        layout = {} if self.plan is None else preview(self.plan)
        return {
            "planned_images": self.planned_images,
            "ready_images": self.ready_images,
            "waiting_images": self.waiting_images,
            "placed_images": self.placed_images,
            **{k: v for k, v in layout.items() if k != "per_bulk"},
            "per_bulk": [
                {**row, "bulk": row["bulk"] + self.bulk_offset}
                for row in layout.get("per_bulk", [])
            ],
        }


def _placed_reconstructions(session: Session) -> set[int]:
    """Reconstructions already in a bulk's batch (agreement batches outside bulks don't count)."""
    return set(
        session.exec(
            select(BatchItem.reconstruction_id)
            .join(Batch, Batch.id == BatchItem.batch_id)  # type: ignore[arg-type]
            .where(col(Batch.bulk_id).is_not(None))
        ).all()
    )


def prepare_cut(session: Session, plan: Plan) -> Cut:
    """Work out the cut without writing: which images are ready, the layout, broken rules."""
    params = PlanParams.from_row(plan)
    halves = halves_of(plan)
    still = {i for i, _ in eligible_sources(session)}
    halves = {i: h for i, h in halves.items() if i in still}
    wanted = {
        i: {(c, s) for c in params.codec_sets[h] for s in params.settings}
        for i, h in halves.items()
    }
    rows = session.exec(
        select(
            col(Reconstruction.id),
            col(Reconstruction.source_image_id),
            col(Reconstruction.codec_id),
            col(Reconstruction.setting),
        )
        .join(SourceImage, col(SourceImage.id) == col(Reconstruction.source_image_id))
        .where(col(SourceImage.status) == SourceStatus.prepared)
    ).all()
    placed = _placed_reconstructions(session)
    found: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    touched: set[int] = set()
    for recon_id, source_id, codec_id, setting in rows:
        key = (codec_id, RateSetting(setting).value)
        if key in wanted.get(source_id, ()):
            found[source_id][key] = int(recon_id or 0)
            if recon_id in placed:
                touched.add(source_id)
    ready = [i for i in sorted(wanted) if i not in touched and len(found[i]) == len(wanted[i])]
    recon_ids = {
        Planned(i, codec, setting): found[i][(codec, setting)]
        for i in ready
        for codec, setting in sorted(wanted[i])
    }
    waiting = len(wanted) - len(ready) - len(touched)
    plan_layout = None
    problems: list[str] = []
    if recon_ids:
        planned = list(recon_ids)
        plan_layout = plan_bulks_and_batches(
            planned,
            bulk_size_images=params.bulk_size,
            batch_size=params.batch_size,
            seed=plan.seed,
        )
        problems = check_plan(plan_layout, planned)
    offset = session.exec(select(func.max(Bulk.number))).one() or 0
    return Cut(
        planned_images=len(wanted),
        ready_images=len(ready),
        waiting_images=waiting,
        placed_images=len(touched),
        plan=plan_layout,
        problems=problems,
        recon_ids=recon_ids,
        bulk_offset=int(offset),
    )


def cut_bulks(session: Session, plan: Plan, user_id: int | None) -> Cut:
    """Write the cut in one transaction, or nothing when a rule is broken or nothing is ready.

    Cuts are serialised by locking the plan rows, so two admins pressing the button at once
    cannot place an image twice; a repeated cut finds the images placed and adds nothing.
    """
    session.exec(select(Plan.id).with_for_update()).all()
    cut = prepare_cut(session, plan)
    if cut.problems:
        session.rollback()
        raise PlanError("the cut breaks planning rules: " + "; ".join(cut.problems[:10]))
    if cut.plan is None:
        session.rollback()
        return cut
    items: list[dict[str, int]] = []
    for bulk in cut.plan.bulks:
        number = cut.bulk_offset + bulk.index
        bulk_row = Bulk(plan_id=plan.id, number=number, name=f"Bulk {number}")
        session.add(bulk_row)
        session.flush()
        batch_rows = [
            Batch(bulk_id=bulk_row.id, number=b.index, name=f"Bulk {number} · batch {b.index:02d}")
            for b in bulk.batches
        ]
        session.add_all(batch_rows)
        session.flush()
        for batch_row, batch in zip(batch_rows, bulk.batches, strict=True):
            items += [
                {
                    "batch_id": batch_row.id,  # type: ignore[dict-item]
                    "position": position,
                    "reconstruction_id": cut.recon_ids[item],
                }
                for position, item in enumerate(batch.items)
            ]
        cut.written_bulks.append(number)
    session.execute(insert(BatchItem), items)
    summary = cut.summary
    session.add(
        AuditEntry(
            actor_id=user_id,
            action="cut_bulks",
            target=f"studyplan:{plan.name}:v{plan.version}",
            detail={k: v for k, v in summary.items() if k != "per_bulk"},
        )
    )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # Thousands of rows arrived at once: refresh the planner's statistics now rather than
        # at autovacuum's next pass, so the progress queries are planned well right away.
        session.execute(text("ANALYZE bulk, batch, batchitem"))
        session.commit()
    return cut
