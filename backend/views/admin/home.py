"""The admin overview: where the study stands, one line per step of the paper's pipeline.

Paper, figure 1 and section 3: prepare (ingest), prescreen, compress, cut into bulks and
batches, assign, annotate. Each count links to the page that moves it forward.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.api.deps import SessionDep
from backend.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Batch,
    Bulk,
    CompressionJob,
    JobStatus,
    Reconstruction,
    SourceImage,
    SourceStatus,
)
from backend.services import plans
from backend.views.admin import router
from backend.views.admin.common import AdminPage, render


def _grouped(session: Session, column: object) -> dict[str, int]:
    rows = session.exec(select(column, func.count()).group_by(column)).all()  # type: ignore[call-overload]
    return {getattr(k, "value", str(k)): int(n) for k, n in rows}


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


@router.get("", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, principal: AdminPage) -> HTMLResponse:
    sources = _grouped(session, SourceImage.status)
    jobs = _grouped(session, CompressionJob.status)
    assignments = _grouped(session, Assignment.status)
    latest = plans.latest(session)
    return render(
        request,
        "admin/home.html",
        principal,
        nav="home",
        sources={s.value: sources.get(s.value, 0) for s in SourceStatus},
        jobs={s.value: jobs.get(s.value, 0) for s in JobStatus},
        reconstructions=_count(session, Reconstruction),
        bulks=_count(session, Bulk),
        batches=_count(session, Batch),
        assignments={s.value: assignments.get(s.value, 0) for s in AssignmentStatus},
        annotations=int(
            session.exec(
                select(func.count())
                .select_from(Annotation)
                .where(col(Annotation.deleted).is_(False))
            ).one()
        ),
        plan=latest,
    )
