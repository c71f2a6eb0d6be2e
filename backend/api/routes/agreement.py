"""Agreement studies through the JSON API (paper, section 3.2.4 and appendix Table 4).

Admins and researchers read studies, their progress and their kept runs; a run's ``result`` is
the list of per-grid objects that ``sclic agreement compute --format json`` prints for the same
boxes. Only admins create studies and runs; the writes go through
:mod:`backend.services.agreement_study`, as the admin pages' do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlmodel import Session

from backend.agreement import DEFAULT_GRIDS
from backend.api.deps import AdminUser, SessionDep, StaffUser
from backend.models import AgreementRun, AgreementStudy
from backend.schemas import ListOf
from backend.services import agreement_runs as runs
from backend.services import agreement_study as studies

router = APIRouter(prefix="/agreement", tags=["agreement"])


class StudyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=studies.NAME_MAX)]
    batch_ids: list[StrictInt]
    labeler_ids: list[StrictInt]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grids: list[StrictInt] = Field(default_factory=lambda: list(DEFAULT_GRIDS))
    rule: Literal["paper", "largest-share"] = "paper"
    bootstrap: StrictInt = 1000
    seed: StrictInt = 0


class CopyOut(BaseModel):
    labeler_id: int
    labeler: str
    batch_id: int
    batch: str
    n_done: int
    n_items: int
    done: bool
    assignment_status: str | None


class RunSummaryOut(BaseModel):
    id: int
    params: dict[str, Any]
    created_by: int | None
    created_at: datetime


class RunOut(RunSummaryOut):
    study_id: int
    result: list[dict[str, Any]]


class StudyOut(BaseModel):
    id: int
    name: str
    batch_ids: list[int]
    labeler_ids: list[int]
    created_by: int | None
    created_at: datetime


class StudyDetailOut(StudyOut):
    n_images: int
    n_images_complete: int
    complete: bool
    copies: list[CopyOut]
    runs: list[RunSummaryOut]


def _study_out(study: AgreementStudy) -> StudyOut:
    return StudyOut(
        id=study.id,  # type: ignore[arg-type]
        name=study.name,
        batch_ids=list(study.batch_ids),
        labeler_ids=list(study.labeler_ids),
        created_by=study.created_by,
        created_at=study.created_at,
    )


def _summary(run: AgreementRun) -> RunSummaryOut:
    return RunSummaryOut(
        id=run.id,  # type: ignore[arg-type]
        params=run.params,
        created_by=run.created_by,
        created_at=run.created_at,
    )


def _run_out(run: AgreementRun) -> RunOut:
    return RunOut(**_summary(run).model_dump(), study_id=run.study_id, result=run.result)


def _detail(session: Session, study: AgreementStudy) -> StudyDetailOut:
    state = studies.study_status(session, study)
    copies = [
        CopyOut(
            labeler_id=c.labeler_id,
            labeler=c.labeler,
            batch_id=c.batch_id,
            batch=c.batch,
            n_done=c.n_done,
            n_items=c.n_items,
            done=c.done,
            assignment_status=c.assignment.value if c.assignment else None,
        )
        for c in state.copies
    ]
    return StudyDetailOut(
        **_study_out(study).model_dump(),
        n_images=state.n_images,
        n_images_complete=state.n_images_complete,
        complete=state.complete,
        copies=copies,
        runs=[_summary(r) for r in runs.list_runs(session, study)],
    )


def _study(session: Session, study_id: int) -> AgreementStudy:
    study = session.get(AgreementStudy, study_id)
    if study is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such agreement study")
    return study


def _refused(session: Session, exc: studies.StudyInputError) -> HTTPException:
    session.rollback()
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("/studies", response_model=ListOf[StudyOut])
def list_studies(session: SessionDep, user: StaffUser) -> ListOf[StudyOut]:
    data = [_study_out(s) for s in studies.list_studies(session)]
    return ListOf(data=data, count=len(data))


@router.post("/studies", response_model=StudyDetailOut, status_code=status.HTTP_201_CREATED)
def create_study(body: StudyIn, session: SessionDep, user: AdminUser) -> StudyDetailOut:
    try:
        study = studies.create_study(
            session,
            name=body.name,
            batch_ids=body.batch_ids,
            labeler_ids=body.labeler_ids,
            created_by=user,
        )
    except studies.StudyInputError as exc:
        raise _refused(session, exc) from None
    return _detail(session, study)


@router.get("/studies/{study_id}", response_model=StudyDetailOut)
def get_study(study_id: int, session: SessionDep, user: StaffUser) -> StudyDetailOut:
    return _detail(session, _study(session, study_id))


@router.post("/studies/{study_id}/runs", response_model=RunOut, status_code=status.HTTP_201_CREATED)
def create_run(study_id: int, body: RunIn, session: SessionDep, user: AdminUser) -> RunOut:
    study = _study(session, study_id)
    try:
        params = runs.run_params(body.grids, body.rule, body.bootstrap, body.seed)
        run = runs.run_analysis(session, study, params, user)
    except studies.StudyInputError as exc:
        raise _refused(session, exc) from None
    return _run_out(run)


@router.get("/studies/{study_id}/runs/{run_id}", response_model=RunOut)
def get_run(study_id: int, run_id: int, session: SessionDep, user: StaffUser) -> RunOut:
    run = runs.get_run(session, _study(session, study_id), run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such run in this study")
    return _run_out(run)
