"""Source image pages: find an image, see what was made from it, act on a data-subject request.

Paper, section 3.4.3: on objection the image data is removed or anonymised while annotations
and their coordinates are kept (see :mod:`backend.services.anonymise`). The request is carried
out from the image's page, with the request's reference recorded in the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, func, or_
from sqlmodel import col, select

from backend.api.deps import Principal, SessionDep
from backend.models import (
    Annotation,
    CompressionJob,
    JobStatus,
    PrescreenVote,
    Reconstruction,
    SourceDataset,
    SourceImage,
    SourceStatus,
    User,
)
from backend.services import anonymise
from backend.services.images import preview_url
from backend.views.admin import router
from backend.views.admin.common import AdminForm, AdminPage, back, render

PAGE_SIZE = 100


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request,
    session: SessionDep,
    principal: AdminPage,
    q: Annotated[str, Query(max_length=200)] = "",
    status_filter: Annotated[SourceStatus | None, Query(alias="status")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Sources by id, name or hash (original SHA-256 or prepared SHA-1 prefix)."""
    query = select(SourceImage, SourceDataset.name).join(
        SourceDataset,
        SourceDataset.id == SourceImage.dataset_id,  # type: ignore[arg-type]
    )
    text = q.strip()
    if text:
        conditions = [
            col(SourceImage.original_name).ilike(f"%{text}%"),
            col(SourceImage.original_sha256).startswith(text.lower()),
            col(SourceImage.prepared_sha1).startswith(text.lower()),
        ]
        if text.isdigit() and int(text) < 2**31:
            conditions.append(col(SourceImage.id) == int(text))
        query = query.where(or_(*conditions))
    if status_filter is not None:
        query = query.where(SourceImage.status == status_filter)
    rows = session.exec(
        query.order_by(col(SourceImage.id)).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    return render(
        request,
        "admin/sources.html",
        principal,
        nav="sources",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        q=text,
        status_filter=status_filter.value if status_filter else "",
        statuses=[s.value for s in SourceStatus],
        page=page,
    )


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    source_id: int, request: Request, session: SessionDep, principal: AdminPage
) -> HTMLResponse:
    return _source(request, session, principal, source_id)


def _source(
    request: Request,
    session: SessionDep,
    principal: Principal,
    source_id: int,
    *,
    error: str = "",
    reference: str = "",
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    source = session.get(SourceImage, source_id)
    if source is None:
        return render(
            request,
            "admin/denied.html",
            principal,
            status_code=status.HTTP_404_NOT_FOUND,
            message=f"No source image #{source_id}.",
        )
    dataset = session.get(SourceDataset, source.dataset_id)
    recons = session.exec(
        select(Reconstruction, func.count(col(Annotation.id)))
        .join(
            Annotation,
            and_(
                col(Annotation.reconstruction_id) == col(Reconstruction.id),
                col(Annotation.deleted).is_(False),
            ),
            isouter=True,
        )
        .where(Reconstruction.source_image_id == source_id)
        .group_by(col(Reconstruction.id))
        .order_by(col(Reconstruction.codec_id), col(Reconstruction.setting))
    ).all()
    votes = session.exec(
        select(User.username, PrescreenVote.rating)
        .join(User, User.id == PrescreenVote.rater_id)  # type: ignore[arg-type]
        .where(PrescreenVote.source_image_id == source_id)
        .order_by(col(User.username))
    ).all()
    running = session.exec(
        select(func.count())
        .select_from(CompressionJob)
        .where(
            CompressionJob.source_image_id == source_id, CompressionJob.status == JobStatus.running
        )
    ).one()
    return render(
        request,
        "admin/source.html",
        principal,
        status_code=status_code,
        nav="sources",
        source=source,
        dataset=dataset.name if dataset else "",
        image_url=preview_url(source) if source.status != SourceStatus.anonymised else "",
        recons=recons,
        votes=votes,
        running=int(running),
        history=anonymise.history(session, source_id),
        error=error,
        reference=reference,
    )


@router.post("/sources/{source_id}/anonymise", response_model=None)
def source_anonymise(
    source_id: int,
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    reference: Annotated[str, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Remove the image's pixels everywhere; annotations and coordinates stay."""
    if confirm != "yes":
        return _source(
            request,
            session,
            principal,
            source_id,
            reference=reference,
            error="Tick the box to confirm that the pixels are to be removed.",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    tiles = getattr(request.app.state, "tile_service", None)
    try:
        result = anonymise.anonymise_source(
            session, source_id, actor_id=principal.user.id, reference=reference, tiles=tiles
        )
    except anonymise.AnonymiseError as exc:
        return _source(
            request,
            session,
            principal,
            source_id,
            reference=reference,
            error=str(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    access = getattr(request.app.state, "image_access", None)
    if access is not None:
        access.forget()
    return back(
        f"/admin/sources/{source_id}",
        f"Removed {len(result.files_removed)} files and the tiles of "
        f"{len(result.identifiers)} images; annotations are kept.",
    )
