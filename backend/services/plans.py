"""Study plans: halves, codec sets, bulk and batch sizes, saved as versions and carried out.

Paper, section 3.1 and appendix 1.3: the prepared images were split in half, each half
compressed with four codecs (A: C1, C3, C5, C6; B: C2, C3, C4, C6) at a low and a high setting,
and the 12,504 reconstructions were cut into 8 bulks of 200 source images, each in 64 batches of
25. A plan records those choices; every change saves a new :class:`~backend.models.StudyPlan`
version (never an overwrite), with the seeded split itself, so what was compressed and cut can
always be traced to the version that asked for it.

Carrying a plan out has two steps, each safe to repeat: *start compression* adds the missing
compression jobs, and *cut bulks and batches* places every source image whose planned
reconstructions all exist and that is not in a bulk yet, after :func:`check_plan` found no broken
rule. The planning itself is :mod:`backend.planning` (pure); this module feeds it rows and
writes its result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, text
from sqlmodel import Session, col, select

from backend.models import (
    AuditEntry,
    Batch,
    BatchItem,
    Bulk,
    CompressionJob,
    JobStatus,
    Reconstruction,
    Setting,
    SourceDataset,
    SourceImage,
    SourceStatus,
    StudyPlan,
)
from backend.planning.bulks import Plan, check_plan, plan_bulks_and_batches, preview
from backend.planning.halves import CODEC_SETS, HALVES, SETTINGS, Half, split_halves
from backend.planning.halves import Reconstruction as Planned
from backend.services import compression
from workers.codecs.registry import REGISTRY

DEFAULT_NAME = "study"
MAX_SEED = 2**31 - 1
MAX_BULK_SIZE = 100_000
MAX_BATCH_SIZE = 10_000


class PlanError(ValueError):
    """A plan that cannot be saved or carried out; the message says why."""


@dataclass(frozen=True)
class PlanParams:
    """The choices of one plan version (defaults: the paper's)."""

    seed: int = 0
    codec_sets: Mapping[Half, tuple[str, ...]] = field(default_factory=lambda: dict(CODEC_SETS))
    settings: tuple[str, ...] = SETTINGS
    bulk_size: int = 200
    batch_size: int = 25

    def problems(self) -> list[str]:
        """Every reason to refuse these choices, as readable lines."""
        out: list[str] = []
        if not 0 <= self.seed <= MAX_SEED:
            out.append(f"the seed must be between 0 and {MAX_SEED}")
        for half in HALVES:
            codecs = self.codec_sets.get(half, ())
            if not codecs:
                out.append(f"half {half} needs at least one codec")
            unknown = [c for c in codecs if c not in REGISTRY]
            if unknown:
                out.append(f"half {half}: unknown codec ids {', '.join(unknown)}")
            if len(set(codecs)) != len(codecs):
                out.append(f"half {half} lists a codec twice")
        if not self.settings or any(s not in SETTINGS for s in self.settings):
            out.append("choose low, high or both settings")
        if not 1 <= self.bulk_size <= MAX_BULK_SIZE:
            out.append(f"the bulk size must be between 1 and {MAX_BULK_SIZE} images")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            out.append(f"the batch size must be between 1 and {MAX_BATCH_SIZE} images")
        return out

    def codec_settings(self, half: Half) -> list[tuple[str, Setting]]:
        return [(c, Setting(s)) for c in self.codec_sets[half] for s in self.settings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "codec_sets": {h: list(self.codec_sets[h]) for h in HALVES},
            "settings": list(self.settings),
            "bulk_size": self.bulk_size,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_row(cls, plan: StudyPlan) -> PlanParams:
        p = plan.params
        sets = p.get("codec_sets", {})
        return cls(
            seed=plan.seed,
            codec_sets={h: tuple(sets.get(h, CODEC_SETS[h])) for h in HALVES},
            settings=tuple(p.get("settings", SETTINGS)),
            bulk_size=int(p.get("bulk_size", 200)),
            batch_size=int(p.get("batch_size", 25)),
        )


def eligible_sources(session: Session) -> list[tuple[int, str]]:
    """``(source id, dataset name)`` of the prepared images: not removed by prescreening and not
    anonymised."""
    rows = session.exec(
        select(col(SourceImage.id), col(SourceDataset.name))
        .join(SourceDataset, col(SourceDataset.id) == col(SourceImage.dataset_id))
        .where(col(SourceImage.status) == SourceStatus.prepared)
        .order_by(col(SourceImage.id))
    ).all()
    return [(int(i or 0), str(n)) for i, n in rows]


@dataclass(frozen=True)
class PlanPreview:
    """Counts shown before a plan version is saved or carried out; nothing written."""

    images: int
    per_half: dict[str, dict[str, int]]
    per_model: dict[str, int]
    reconstructions: int
    layout: dict[str, Any]
    problems: list[str]
    halves: dict[int, Half]


def preview_plan(session: Session, params: PlanParams) -> PlanPreview:
    """Split the eligible images and lay out the would-be bulks and batches."""
    problems = params.problems()
    sources = eligible_sources(session)
    halves: dict[int, Half] = {}
    if not problems:
        halves = {int(i): h for i, h in split_halves(sources, params.seed).items()}
    return _preview(sources, halves, params, problems)


def _preview(
    sources: Sequence[tuple[int, str]],
    halves: Mapping[int, Half],
    params: PlanParams,
    problems: list[str],
) -> PlanPreview:
    dataset_of = dict(sources)
    per_half: dict[str, dict[str, int]] = {h: {} for h in HALVES}
    for image_id, half in halves.items():
        name = dataset_of.get(image_id, "?")
        per_half[half][name] = per_half[half].get(name, 0) + 1
    planned = _planned(halves, params)
    per_model = Counter(f"{r.codec_id}{'L' if r.setting == 'low' else 'H'}" for r in planned)
    layout: dict[str, Any] = {}
    if planned and not problems:
        plan = plan_bulks_and_batches(
            planned,
            bulk_size_images=params.bulk_size,
            batch_size=params.batch_size,
            seed=params.seed,
        )
        layout = {k: v for k, v in preview(plan).items() if k != "per_bulk"}
        problems = check_plan(plan, planned)
    return PlanPreview(
        images=len(halves),
        per_half={h: dict(sorted(c.items())) for h, c in per_half.items()},
        per_model=dict(sorted(per_model.items())),
        reconstructions=len(planned),
        layout=layout,
        problems=problems,
        halves=dict(halves),
    )


def _planned(halves: Mapping[int, Half], params: PlanParams) -> list[Planned]:
    return [
        Planned(image_id, codec, setting)
        for image_id in sorted(halves)
        for codec in params.codec_sets[halves[image_id]]
        for setting in params.settings
    ]


def latest(session: Session, name: str = DEFAULT_NAME) -> StudyPlan | None:
    return session.exec(
        select(StudyPlan).where(StudyPlan.name == name).order_by(col(StudyPlan.version).desc())
    ).first()


def versions(session: Session, name: str = DEFAULT_NAME) -> list[StudyPlan]:
    return list(
        session.exec(
            select(StudyPlan).where(StudyPlan.name == name).order_by(col(StudyPlan.version).desc())
        ).all()
    )


def halves_of(plan: StudyPlan) -> dict[int, Half]:
    stored = plan.params.get("halves", {})
    return {int(i): half for half in HALVES for i in stored.get(half, [])}


def save_plan(
    session: Session, params: PlanParams, user_id: int | None, name: str = DEFAULT_NAME
) -> tuple[StudyPlan, bool]:
    """Save a new version with the current split; returns (version, created).

    Saving what the latest version already holds (same choices, same split) adds nothing.
    """
    found = preview_plan(session, params)
    if found.problems:
        raise PlanError("; ".join(found.problems))
    halves = {h: sorted(i for i, x in found.halves.items() if x == h) for h in HALVES}
    body = {**params.to_dict(), "halves": halves, "per_half": found.per_half}
    previous = latest(session, name)
    if previous is not None and previous.seed == params.seed and previous.params == body:
        return previous, False
    plan = StudyPlan(
        name=name,
        version=(previous.version + 1) if previous else 1,
        seed=params.seed,
        params=body,
        created_by=user_id,
    )
    session.add(plan)
    session.add(
        AuditEntry(
            actor_id=user_id,
            action="save_plan",
            target=f"studyplan:{name}:v{plan.version}",
            detail={**params.to_dict(), "seed": params.seed, "images": found.images},
        )
    )
    session.commit()
    session.refresh(plan)
    return plan, True


def start_compression(session: Session, plan: StudyPlan, user_id: int | None) -> int:
    """Add the plan's missing compression jobs and queue them; returns how many were queued.

    Images removed or anonymised since the version was saved are left out.
    """
    params = PlanParams.from_row(plan)
    halves = halves_of(plan)
    still = {i for i, _ in eligible_sources(session)}
    # One query for the jobs that exist, so a repeated start only visits images that lack one.
    existing = {
        (int(i), c, Setting(x).value)
        for i, c, x in session.exec(
            select(
                col(CompressionJob.source_image_id),
                col(CompressionJob.codec_id),
                col(CompressionJob.setting),
            )
        ).all()
    }
    new_ids: list[int] = []
    for half in HALVES:
        pairs = params.codec_settings(half)
        ids = [
            i
            for i, h in halves.items()
            if h == half and i in still and any((i, c, x.value) not in existing for c, x in pairs)
        ]
        if ids:
            new_ids += compression.create_jobs(session, ids, pairs)
    session.add(
        AuditEntry(
            actor_id=user_id,
            action="start_compression",
            target=f"studyplan:{plan.name}:v{plan.version}",
            detail={"jobs_queued": len(new_ids)},
        )
    )
    session.commit()
    compression.start_jobs(new_ids)
    return len(new_ids)


# --- cutting bulks and batches -------------------------------------------------------------------


@dataclass
class Cut:
    """The would-be (or written) bulks and batches of one plan version."""

    planned_images: int
    ready_images: int
    waiting_images: int
    placed_images: int
    plan: Plan | None
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


def prepare_cut(session: Session, plan: StudyPlan) -> Cut:
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
        key = (codec_id, Setting(setting).value)
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


def cut_bulks(session: Session, plan: StudyPlan, user_id: int | None) -> Cut:
    """Write the cut in one transaction, or nothing when a rule is broken or nothing is ready.

    Cuts are serialised by locking the plan rows, so two admins pressing the button at once
    cannot place an image twice; a repeated cut finds the images placed and adds nothing.
    """
    session.exec(select(StudyPlan.id).with_for_update()).all()
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


@dataclass(frozen=True)
class PlanProgress:
    """How far compression has come for one plan version."""

    images: int
    expected: int
    existing: int
    jobs: dict[str, int]

    @property
    def complete(self) -> bool:
        return self.expected > 0 and self.existing >= self.expected


def plan_progress(session: Session, plan: StudyPlan) -> PlanProgress:
    """Planned reconstructions of the still-eligible images, how many exist, jobs by status."""
    params = PlanParams.from_row(plan)
    still = {i for i, _ in eligible_sources(session)}
    wanted = {
        (i, c, s)
        for i, h in halves_of(plan).items()
        if i in still
        for c in params.codec_sets[h]
        for s in params.settings
    }
    existing = sum(
        1
        for i, c, s in session.exec(
            select(Reconstruction.source_image_id, Reconstruction.codec_id, Reconstruction.setting)
        ).all()
        if (i, c, Setting(s).value) in wanted
    )
    jobs: Counter[str] = Counter()
    for i, c, s, status in session.exec(
        select(
            CompressionJob.source_image_id,
            CompressionJob.codec_id,
            CompressionJob.setting,
            CompressionJob.status,
        )
    ).all():
        if (i, c, Setting(s).value) in wanted:
            jobs[JobStatus(status).value] += 1
    images = len({i for i, _, _ in wanted})
    return PlanProgress(images, len(wanted), existing, dict(jobs))
