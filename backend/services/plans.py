"""Study plans: halves, codec sets, bulk and batch sizes, saved as versions and carried out.

Paper, section 3.1 and appendix 1.3: the prepared images were split in half, each half
compressed with four codecs (A: C1, C3, C5, C6; B: C2, C3, C4, C6) at a low and a high setting,
and the 12,504 reconstructions were cut into 8 bulks of 200 source images, each in 64 batches of
25. A plan records those choices; every change saves a new :class:`~backend.models.Plan`
version (never an overwrite), with the seeded split itself, so what was compressed and cut can
always be traced to the version that asked for it.

Carrying a plan out has two steps, each safe to repeat: *start compression* (here) adds the
missing compression jobs, and *cut bulks and batches* (:mod:`backend.services.plan_cuts`) places
every source image whose planned reconstructions all exist and is not in a bulk yet. The
planning itself is :mod:`backend.plans` (pure); this module feeds it rows and writes its
result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session, col, select

from backend.models import (
    AuditEntry,
    CompressionJob,
    JobStatus,
    Plan,
    RateSetting,
    Reconstruction,
    SourceDataset,
    SourceImage,
    SourceStatus,
)
from backend.plans.bulks import check_plan, plan_bulks_and_batches, preview
from backend.plans.halves import CODEC_SETS, HALVES, SETTINGS, Half, split_halves
from backend.plans.halves import Reconstruction as Planned
from backend.services import compression, worker_reports

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

    @property
    def codecs(self) -> list[str]:
        """Every codec of the plan, each once, in the order the halves name them."""
        return list(dict.fromkeys(c for h in HALVES for c in self.codec_sets.get(h, ())))

    def problems(self, known_codecs: Collection[str]) -> list[str]:
        """Every reason to refuse these choices, as readable lines. ``known_codecs``: the ids
        the platform knows (the paper's and those any worker reported)."""
        out: list[str] = []
        if not 0 <= self.seed <= MAX_SEED:
            out.append(f"the seed must be between 0 and {MAX_SEED}")
        for half in HALVES:
            codecs = self.codec_sets.get(half, ())
            if not codecs:
                out.append(f"half {half} needs at least one codec")
            unknown = [c for c in codecs if c not in known_codecs]
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

    def codec_settings(self, half: Half) -> list[tuple[str, RateSetting]]:
        return [(c, RateSetting(s)) for c in self.codec_sets[half] for s in self.settings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "codec_sets": {h: list(self.codec_sets[h]) for h in HALVES},
            "settings": list(self.settings),
            "bulk_size": self.bulk_size,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_row(cls, plan: Plan) -> PlanParams:
        p = plan.params
        sets = p.get("codec_sets", {})
        return cls(
            seed=plan.seed,
            codec_sets={h: tuple(sets.get(h, CODEC_SETS[h])) for h in HALVES},
            settings=tuple(p.get("settings", SETTINGS)),
            bulk_size=int(p.get("bulk_size", 200)),
            batch_size=int(p.get("batch_size", 25)),
        )


def default_params(offered: Collection[str]) -> PlanParams:
    """The paper's choices, less the codecs that no live worker offers: a fresh form never
    preselects a codec that cannot run (the admin may still tick it; the plan then says so)."""
    return PlanParams(
        codec_sets={h: tuple(c for c in CODEC_SETS[h] if c in offered) for h in HALVES}
    )


def codec_warnings(session: Session, params: PlanParams) -> list[str]:
    """One line per codec of the plan that no live worker offers yet (not a refusal: a plan may
    name a codec before its worker runs; starting its compression is refused until then)."""
    return [
        f"codec {o.codec_id} ({o.name}): {o.reason}"
        for o in worker_reports.unoffered(session, params.codecs)
    ]


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
    warnings: list[str] = field(default_factory=list)


def preview_plan(session: Session, params: PlanParams) -> PlanPreview:
    """Split the eligible images and lay out the would-be bulks and batches."""
    problems = params.problems(worker_reports.codec_offers(session))
    sources = eligible_sources(session)
    halves: dict[int, Half] = {}
    if not problems:
        halves = {int(i): h for i, h in split_halves(sources, params.seed).items()}
    found = _preview(sources, halves, params, problems)
    return replace(found, warnings=codec_warnings(session, params))


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


def latest(session: Session, name: str = DEFAULT_NAME) -> Plan | None:
    return session.exec(
        select(Plan).where(Plan.name == name).order_by(col(Plan.version).desc())
    ).first()


def versions(session: Session, name: str = DEFAULT_NAME) -> list[Plan]:
    return list(
        session.exec(select(Plan).where(Plan.name == name).order_by(col(Plan.version).desc())).all()
    )


def halves_of(plan: Plan) -> dict[int, Half]:
    stored = plan.params.get("halves", {})
    return {int(i): half for half in HALVES for i in stored.get(half, [])}


def save_plan(
    session: Session, params: PlanParams, user_id: int | None, name: str = DEFAULT_NAME
) -> tuple[Plan, bool]:
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
    plan = Plan(
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


def start_compression(session: Session, plan: Plan, user_id: int | None) -> int:
    """Add the plan's missing compression jobs and queue them; returns how many were queued.

    Images removed or anonymised since the version was saved are left out. Raises
    :class:`~backend.services.worker_reports.CodecNotOfferedError`, adding nothing, when a
    codec that still lacks jobs is one no live worker offers.
    """
    params = PlanParams.from_row(plan)
    halves = halves_of(plan)
    still = {i for i, _ in eligible_sources(session)}
    # One query for the jobs that exist, so a repeated start only visits images that lack one.
    existing = {
        (int(i), c, RateSetting(x).value)
        for i, c, x in session.exec(
            select(
                col(CompressionJob.source_image_id),
                col(CompressionJob.codec_id),
                col(CompressionJob.setting),
            )
        ).all()
    }
    wanted: dict[Half, list[int]] = {}
    lacking: set[str] = set()
    for half in HALVES:
        pairs = params.codec_settings(half)
        for i, h in halves.items():
            if h == half and i in still:
                absent = {c for c, x in pairs if (i, c, x.value) not in existing}
                if absent:
                    wanted.setdefault(half, []).append(i)
                    lacking |= absent
    worker_reports.require_offered(session, sorted(lacking))
    new_ids: list[int] = []
    for half, ids in wanted.items():
        new_ids += compression.create_jobs(session, ids, params.codec_settings(half))
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


def plan_progress(session: Session, plan: Plan) -> PlanProgress:
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
        if (i, c, RateSetting(s).value) in wanted
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
        if (i, c, RateSetting(s).value) in wanted:
            jobs[JobStatus(status).value] += 1
    images = len({i for i, _, _ in wanted})
    return PlanProgress(images, len(wanted), existing, dict(jobs))
