"""Analyses of an agreement study: its finished boxes measured at chosen grid sizes and stored.

Each run keeps its parameters and inputs as an :class:`AgreementRun` row, so a later run never
replaces an earlier one (paper, section 3.2.4 and appendix 2.4: total agreement and
Krippendorff's α over an n × n grid of units, with bootstrap intervals). An image counts for a
labeler once her review of it is done; until then the pair is missing rather than "nothing
marked" (``compute_agreement``'s ``missing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from backend.agreement import (
    DEFAULT_GRIDS,
    AgreementInputError,
    Box,
    ImageSpec,
    UnitRule,
    compute_agreement,
)
from backend.models import AgreementRun, AgreementStudy, Annotation, User
from backend.services.agreement_study import (
    MAX_GRID,
    StudyInputError,
    labeler_names,
    study_rows,
)

MAX_GRIDS = 8
MAX_BOOTSTRAP = 10_000
MAX_SEED = 2**32 - 1
MAX_DRAWS = 500_000_000
"""Upper bound on bootstrap unit draws (resamples × units, summed over grid sizes) of one run.

Runs are computed inside the web request; at a few ten million draws per second this keeps a
run under half a minute. The paper's set-up (two batches, grids up to 16, 1,000 resamples) needs
well under a tenth of it.
"""


@dataclass(frozen=True, slots=True)
class StudyInput:
    """What the measure sees: images by blind name, labelers by username, finished boxes only."""

    images: tuple[ImageSpec, ...]
    labelers: tuple[str, ...]
    boxes: tuple[Box, ...]
    missing: frozenset[tuple[str, str]]


def study_input(session: Session, study: AgreementStudy) -> StudyInput:
    """The study's images, labelers, boxes and missing pairs, ready for ``compute_agreement``.

    Boxes of an image whose review is not done are left out together with the image's value:
    unfinished work is missing, not negative.
    """
    rows = study_rows(session, study)
    names = labeler_names(study, rows)
    images = rows.images()
    by_id = {r.id: r for r in images}
    annotations = session.exec(
        select(Annotation)
        .where(
            col(Annotation.reconstruction_id).in_(list(by_id)),
            col(Annotation.labeler_id).in_(list(names)),
            col(Annotation.deleted).is_(False),
        )
        .order_by(col(Annotation.id))
    ).all()
    boxes = tuple(
        Box(
            image=by_id[a.reconstruction_id].blind_name,
            labeler=names[a.labeler_id],
            x=a.x,
            y=a.y,
            w=a.w,
            h=a.h,
        )
        for a in annotations
        if (a.labeler_id, a.reconstruction_id) in rows.done
    )
    missing = frozenset(
        (r.blind_name, names[i])
        for r in images
        for i in study.labeler_ids
        if (i, r.id) not in rows.done
    )
    return StudyInput(
        images=tuple(ImageSpec(r.blind_name, r.width, r.height) for r in images),
        labelers=tuple(names[i] for i in study.labeler_ids),
        boxes=boxes,
        missing=missing,
    )


@dataclass(frozen=True, slots=True)
class RunParams:
    """Parameters of one analysis; stored with its result."""

    grids: tuple[int, ...] = DEFAULT_GRIDS
    rule: UnitRule = UnitRule.PAPER
    bootstrap: int = 1000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "grids": list(self.grids),
            "rule": self.rule.value,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
        }


def _bounded_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StudyInputError(f"{what} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise StudyInputError(f"{what} must lie between {low:,} and {high:,}, got {value:,}")
    return value


def run_params(
    grids: Sequence[object] = DEFAULT_GRIDS,
    rule: object = UnitRule.PAPER,
    bootstrap: object = 1000,
    seed: object = 0,
) -> RunParams:
    """Checked run parameters; grid sizes are sorted so the table reads like the paper's."""
    sizes = [_bounded_int(n, "grid size", 1, MAX_GRID) for n in grids]
    if not sizes:
        raise StudyInputError("choose at least one grid size")
    if len(set(sizes)) != len(sizes):
        raise StudyInputError("a grid size is listed twice")
    if len(sizes) > MAX_GRIDS:
        raise StudyInputError(f"at most {MAX_GRIDS} grid sizes per run")
    try:
        unit_rule = UnitRule(rule)  # type: ignore[arg-type]
    except ValueError:
        names = ", ".join(r.value for r in UnitRule)
        raise StudyInputError(f"unknown unit rule {rule!r}; use one of {names}") from None
    return RunParams(
        grids=tuple(sorted(sizes)),
        rule=unit_rule,
        bootstrap=_bounded_int(bootstrap, "bootstrap resamples", 0, MAX_BOOTSTRAP),
        seed=_bounded_int(seed, "seed", 0, MAX_SEED),
    )


def run_analysis(
    session: Session, study: AgreementStudy, params: RunParams, created_by: User | None
) -> AgreementRun:
    """Measure agreement on the study as it stands now and keep the result as a new run.

    The result is exactly ``compute_agreement(...)`` as JSON (``GridResult.to_dict``), the same
    numbers as ``sclic agreement compute``. The run also records which labelers, how many boxes
    and which (image, labeler) pairs were missing, since a run made before the copies are done
    differs from a later one.
    """
    data = study_input(session, study)
    draws = params.bootstrap * len(data.images) * sum(n * n for n in params.grids)
    if draws > MAX_DRAWS:
        raise StudyInputError(
            f"this run would draw {draws:,} bootstrap units (limit {MAX_DRAWS:,}); "
            "use fewer resamples or smaller grids"
        )
    try:
        results = compute_agreement(
            data.images,
            data.boxes,
            data.labelers,
            grids=params.grids,
            rule=params.rule,
            bootstrap=params.bootstrap,
            seed=params.seed,
            missing=data.missing,
        )
    except AgreementInputError as exc:
        raise StudyInputError(f"cannot measure agreement yet: {exc}") from None
    run = AgreementRun(
        study_id=study.id,  # type: ignore[arg-type]
        params={
            **params.to_dict(),
            "inputs": {
                "images": len(data.images),
                "labelers": list(data.labelers),
                "boxes": len(data.boxes),
                "missing": sorted([image, labeler] for image, labeler in data.missing),
            },
        },
        result=[r.to_dict() for r in results],
        created_by=created_by.id if created_by else None,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def list_runs(session: Session, study: AgreementStudy) -> list[AgreementRun]:
    """The study's runs, newest first."""
    return list(
        session.exec(
            select(AgreementRun)
            .where(AgreementRun.study_id == study.id)
            .order_by(col(AgreementRun.id).desc())
        )
    )


def get_run(session: Session, study: AgreementStudy, run_id: int) -> AgreementRun | None:
    run = session.get(AgreementRun, run_id)
    return run if run is not None and run.study_id == study.id else None
