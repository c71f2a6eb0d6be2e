"""Ingest pages: upload files or name a server folder, then follow the run and read its report.

Paper, section 3.1 and appendix 1.1: every source dataset is prepared the same way and the
refused files are counted with their reasons. A run is a background task (see
:mod:`backend.services.ingest_runs`); its page shows a progress widget that polls itself until the
run ends and then shows the report, or, when the run's worker stopped, says the run was
interrupted and offers to resume it. Uploads are limited to ``max_upload_bytes`` per request and
staged on disk, so nothing is stored before the run checks each file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from backend.api.deps import Principal, SessionDep
from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.models import IngestRun, JobStatus, SourceDataset, SourceImage
from backend.services import ingest_db, ingest_runs
from backend.views.admin import router
from backend.views.admin.common import (
    AdminForm,
    AdminPage,
    FormError,
    back,
    check_csrf,
    float_field,
    is_htmx,
    page_or_fragment,
    render,
)

MAX_FILES = 1000


def _datasets(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(
        select(SourceDataset, func.count(col(SourceImage.id)))
        .join(SourceImage, col(SourceImage.dataset_id) == col(SourceDataset.id), isouter=True)
        .group_by(col(SourceDataset.id))
        .order_by(col(SourceDataset.name))
    ).all()
    return [{"name": d.name, "scale": d.scale, "images": int(n)} for d, n in rows]


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    error: str = "",
    values: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        "admin/ingest.html",
        principal,
        status_code=status_code,
        nav="ingest",
        datasets=_datasets(session),
        runs=ingest_runs.recent_runs(session),
        interrupted=ingest_runs.is_interrupted,
        error=error,
        values=values or {},
        max_upload_mb=get_settings().max_upload_bytes // 2**20,
    )


@router.get("/ingest", response_class=HTMLResponse)
def ingest_page(request: Request, session: SessionDep, principal: AdminPage) -> HTMLResponse:
    if is_htmx(request):
        return render(
            request,
            "admin/partials/ingest_runs.html",
            principal,
            runs=ingest_runs.recent_runs(session),
            interrupted=ingest_runs.is_interrupted,
        )
    return _page(request, session, principal)


def _options(values: dict[str, str]) -> ingest_db.IngestOptions:
    return ingest_db.IngestOptions(
        scale=float_field(values, "scale", "The scale", 0.0, 1.0),
        convert=values.get("convert") in ("on", "true", "1"),
        recursive=values.get("recursive", "on") in ("on", "true", "1"),
    )


@router.post("/ingest/folder", response_model=None)
def ingest_folder(
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    dataset: Annotated[str, Form(max_length=200)] = "",
    folder: Annotated[str, Form(max_length=4096)] = "",
    scale: Annotated[str, Form(max_length=40)] = "",
    convert: Annotated[str, Form(max_length=10)] = "",
    recursive: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    values = {
        "dataset": dataset,
        "folder": folder,
        "scale": scale,
        "convert": convert,
        "recursive": recursive or "off",
    }
    try:
        options = _options(values)
        path = ingest_db.check_folder(folder.strip())
        ds = ingest_db.dataset_for(session, dataset, options.scale)
    except (FormError, ingest_db.IngestError) as exc:
        message = exc.message if isinstance(exc, FormError) else str(exc)
        return _page(
            request,
            session,
            principal,
            error=message,
            values=values,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    run = ingest_runs.create_run(
        session, ds, kind="folder", source=str(path), options=options, user_id=principal.user.id
    )
    ingest_runs.start_run(run.id)  # type: ignore[arg-type]
    return back(f"/admin/ingest/runs/{run.id}", "Ingest started.")


def _refuse(request: Request, principal: Principal, message: str, code: int) -> Response:
    with Session(get_engine()) as session:
        return _page(request, session, principal, error=message, status_code=code)


@router.post("/ingest/upload", response_model=None)
async def ingest_upload(request: Request, principal: AdminPage) -> Response:
    """Multipart upload of image files; the body is refused unread when it is over the limit."""
    limit = get_settings().max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return await run_in_threadpool(
            _refuse,
            request,
            principal,
            f"The upload has {int(declared)} bytes, more than the limit of {limit}. "
            "Send fewer files at once, or copy them to the server and ingest the folder.",
            status.HTTP_413_CONTENT_TOO_LARGE,
        )
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=50)
    except HTTPException as exc:
        return await run_in_threadpool(
            _refuse,
            request,
            principal,
            f"The upload could not be read: {exc.detail}",
            status.HTTP_400_BAD_REQUEST,
        )
    try:
        check_csrf(request, principal, str(form.get("csrf_token") or ""))
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        values = {k: str(form.get(k) or "") for k in ("dataset", "scale", "convert")}
        return await run_in_threadpool(_stage_upload, request, principal, files, values, limit)
    finally:
        await form.close()


def _stage_upload(
    request: Request,
    principal: Principal,
    files: list[UploadFile],
    values: dict[str, str],
    limit: int,
) -> Response:
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            if not files:
                raise FormError("files", "Choose at least one image file to upload.")
            total = sum(f.size or 0 for f in files)
            if total > limit:
                raise FormError("files", f"The files hold {total} bytes, more than {limit}.")
            options = _options(values)
            ds = ingest_db.dataset_for(session, values["dataset"], options.scale)
        except (FormError, ingest_db.IngestError) as exc:
            message = exc.message if isinstance(exc, FormError) else str(exc)
            code = (
                status.HTTP_413_CONTENT_TOO_LARGE
                if "more than" in message and isinstance(exc, FormError)
                else status.HTTP_422_UNPROCESSABLE_CONTENT
            )
            return _page(
                request, session, principal, error=message, values=values, status_code=code
            )
        uploads = [(f"{i:05d}", _upload_name(f.filename or "")) for i, f in enumerate(files)]
        run = ingest_runs.create_run(
            session,
            ds,
            kind="upload",
            source=f"{len(files)} uploaded file{'s' if len(files) != 1 else ''}",
            options=options,
            user_id=principal.user.id,
            uploads=uploads,
        )
        folder = ingest_runs.staging_dir(run.id)  # type: ignore[arg-type]
        folder.mkdir(parents=True, exist_ok=True)
        for (staged, _name), upload in zip(uploads, files, strict=True):
            upload.file.seek(0)
            with (folder / staged).open("wb") as out:
                shutil.copyfileobj(upload.file, out, length=1 << 20)
        ingest_runs.start_run(run.id)  # type: ignore[arg-type]
        return back(f"/admin/ingest/runs/{run.id}", "Upload received; ingest started.")


def _upload_name(name: str) -> str:
    """The name a browser sent, without any folder part a client may add."""
    cleaned = Path(name.replace("\\", "/")).name.strip()
    return (cleaned or "upload")[:255]


def _run(session: Session, run_id: int) -> tuple[IngestRun, str] | None:
    row = session.exec(
        select(IngestRun, SourceDataset.name)
        .join(SourceDataset, SourceDataset.id == IngestRun.dataset_id)  # type: ignore[arg-type]
        .where(IngestRun.id == run_id)
    ).first()
    return None if row is None else (row[0], row[1])


@router.get("/ingest/runs/{run_id}", response_class=HTMLResponse)
def ingest_run(
    run_id: int, request: Request, session: SessionDep, principal: AdminPage
) -> HTMLResponse:
    found = _run(session, run_id)
    if found is None:
        return render(
            request,
            "admin/denied.html",
            principal,
            status_code=404,
            message=f"No ingest run #{run_id}.",
        )
    run, dataset = found
    interrupted = ingest_runs.is_interrupted(run)
    polling = run.status in (JobStatus.queued, JobStatus.running) and not interrupted
    return page_or_fragment(
        request,
        "admin/ingest_run.html",
        "admin/partials/ingest_status.html",
        principal,
        nav="ingest",
        run=run,
        dataset=dataset,
        polling=polling,
        interrupted=interrupted,
        stale_minutes=f"{get_settings().task_stale_after_s / 60:g}",
        report=None if polling else ingest_runs.report_of(session, run_id),
    )


@router.post("/ingest/runs/{run_id}/resume", response_model=None)
def resume_ingest_run(run_id: int, session: SessionDep, principal: AdminForm) -> Response:
    """Queue an interrupted run again: it goes on with the files it has not done."""
    if ingest_runs.resume_run(session, run_id):
        return back(f"/admin/ingest/runs/{run_id}", "Ingest resumed.")
    return back(
        f"/admin/ingest/runs/{run_id}",
        "That run was not interrupted (it is running, finished, or gone); nothing was queued.",
    )


@router.get("/ingest/runs/{run_id}/report.csv", response_model=None)
def ingest_report_csv(run_id: int, session: SessionDep, principal: AdminPage) -> Response:
    run = session.get(IngestRun, run_id)
    if run is None:
        return Response("no such ingest run\n", status_code=404, media_type="text/plain")
    return Response(
        ingest_runs.report_of(session, run_id).to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ingest-{run_id}.csv"'},
    )
