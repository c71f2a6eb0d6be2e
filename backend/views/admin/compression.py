"""Compression page: start jobs for chosen images and codecs, follow them, retry failures.

Paper, section 3.1 and appendix 1.4: each image is compressed with each chosen codec at a low and
a high setting. Jobs run on the workers (see :mod:`backend.services.compression`); the page's
status widget shows progress per codec and setting, polls itself while anything is queued or
running and stops once all have finished, and lists failures with the codec's reason and a
retry button. Jobs that no worker is on any more (a worker stopped, the platform restarted) are
shown as interrupted, with a button that sends them again.

The codecs offered are those a live worker reported it can run (each worker's report is shown
with its age); the others are shown disabled with what is missing, and a request for them is
refused before any job is created or queued.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_
from sqlmodel import Session, col, select

from backend.api.deps import Principal, SessionDep
from backend.core.config import get_settings
from backend.models import (
    CompressionJob,
    JobStatus,
    RateSetting,
    SourceDataset,
    SourceImage,
    SourceStatus,
)
from backend.plans.halves import SETTINGS
from backend.services import compression, worker_reports
from backend.services.anonymise import CANCELLED
from backend.views.admin import router
from backend.views.admin.common import AdminForm, AdminPage, back, is_htmx, render

FormList = Annotated[list[str] | None, Form()]
MAX_IDS = 100_000
_RANGE = re.compile(r"^(\d{1,10})(?:\s*-\s*(\d{1,10}))?$")


class ChoiceError(ValueError):
    pass


def parse_ids(text: str) -> list[int]:
    """Source ids from "3, 7, 10-20" (ranges inclusive), refusing anything else."""
    ids: set[int] = set()
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        match = _RANGE.match(part)
        if match is None:
            raise ChoiceError(f"not an id or a range of ids: {part[:30]!r}")
        low = int(match[1])
        high = int(match[2] or match[1])
        if high < low or high - low >= MAX_IDS or len(ids) + high - low >= MAX_IDS:
            raise ChoiceError(f"the range {part[:30]!r} is empty or too large")
        ids.update(range(low, high + 1))
    return sorted(ids)


def _status_context(session: Session) -> dict[str, Any]:
    rows = compression.progress(session)
    names = {c: o.name for c, o in worker_reports.codec_offers(session).items()}
    failures = compression.failures(session, limit=100)
    return {
        "rows": rows,
        "names": names,
        "failures": failures,
        "metric_failures": compression.metric_failures(session, limit=100),
        "cancelled": CANCELLED,
        "polling": any(not r.finished for r in rows),
        "n_failed": sum(r.counts.get("failed", 0) for r in rows),
        "n_interrupted": sum(r.interrupted for r in rows),
        "stale_minutes": f"{get_settings().task_stale_after_s / 60:g}",
    }


def _datasets(session: Session) -> list[str]:
    return list(session.exec(select(SourceDataset.name).order_by(col(SourceDataset.name))).all())


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    values: dict[str, object] | None = None,
    error: str = "",
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        "admin/compression.html",
        principal,
        status_code=status_code,
        nav="compression",
        codecs=list(worker_reports.codec_offers(session).values()),
        workers=worker_reports.workers(session),
        settings=SETTINGS,
        datasets=_datasets(session),
        values=values or {"scope": "all", "codecs": [], "settings": list(SETTINGS)},
        error=error,
        **_status_context(session),
    )


@router.get("/compression", response_class=HTMLResponse)
def compression_page(request: Request, session: SessionDep, principal: AdminPage) -> HTMLResponse:
    """The page, or only the status widget when htmx polls it."""
    if is_htmx(request):
        return render(
            request,
            "admin/partials/compression_status.html",
            principal,
            **_status_context(session),
        )
    return _page(request, session, principal)


def _sources(session: Session, scope: str, dataset: str, ids: str) -> list[int]:
    query = select(SourceImage.id).where(SourceImage.status == SourceStatus.prepared)
    if scope == "dataset":
        found = session.exec(select(SourceDataset.id).where(SourceDataset.name == dataset)).first()
        if found is None:
            raise ChoiceError("choose one of the source datasets")
        query = query.where(SourceImage.dataset_id == found)
    elif scope == "ids":
        wanted = parse_ids(ids)
        if not wanted:
            raise ChoiceError("give at least one source id")
        wanted_set = set(wanted)
        chosen = [int(i) for i in session.exec(query).all() if i is not None and i in wanted_set]
        unknown = len(wanted) - len(chosen)
        if unknown:
            raise ChoiceError(f"{unknown} of the ids are not prepared source images")
        return chosen
    elif scope != "all":
        raise ChoiceError("choose which images to compress")
    return [int(i or 0) for i in session.exec(query.order_by(col(SourceImage.id))).all()]


@router.post("/compression", response_model=None)
def compression_start(
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    scope: Annotated[str, Form(max_length=10)] = "all",
    dataset: Annotated[str, Form(max_length=200)] = "",
    ids: Annotated[str, Form(max_length=20_000)] = "",
    codecs: FormList = None,
    settings: FormList = None,
) -> Response:
    """Queue a job per chosen image, codec and setting that has none yet."""
    values: dict[str, object] = {
        "scope": scope,
        "dataset": dataset,
        "ids": ids,
        "codecs": (codecs or [])[:20],
        "settings": (settings or [])[:4],
    }
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    try:
        chosen_codecs = list(dict.fromkeys(codecs or []))
        known = worker_reports.codec_offers(session)
        if not chosen_codecs or any(c not in known for c in chosen_codecs):
            raise ChoiceError("choose at least one registered codec")
        chosen_settings = [s for s in SETTINGS if s in (settings or [])]
        if not chosen_settings:
            raise ChoiceError("choose the low setting, the high setting or both")
        source_ids = _sources(session, scope, dataset, ids)
        if not source_ids:
            raise ChoiceError("no prepared source image matches")
        try:
            worker_reports.require_offered(session, chosen_codecs)
        except worker_reports.CodecNotOfferedError as exc:
            code = status.HTTP_409_CONFLICT
            raise ChoiceError(f"nothing queued: {exc}") from None
    except ChoiceError as exc:
        return _page(request, session, principal, values=values, error=str(exc), status_code=code)
    pairs = [(c, RateSetting(s)) for c in chosen_codecs for s in chosen_settings]
    new_ids = compression.create_jobs(session, source_ids, pairs)
    compression.start_jobs(new_ids)
    return back(
        "/admin/compression",
        f"{len(new_ids)} jobs queued for {len(source_ids)} images"
        + ("." if new_ids else " (they all exist already)."),
    )


@router.post("/compression/jobs/{job_id}/retry", response_model=None)
def compression_retry(
    job_id: int, request: Request, session: SessionDep, principal: AdminForm
) -> Response:
    job = session.get(CompressionJob, job_id)
    refused = [] if job is None else worker_reports.unoffered(session, [job.codec_id])
    if job is None or job.status != JobStatus.failed or job.error == CANCELLED:
        msg = f"Job {job_id} was not a failed job."
    elif refused:
        offer = refused[0]
        msg = f"Job {job_id} not queued again: codec {offer.codec_id} ({offer.name}): "
        msg += f"{offer.reason}."
    elif compression.retry_job(session, job_id):
        msg = f"Job {job_id} queued again."
    else:
        msg = f"Job {job_id} was not a failed job."
    return _status_or_back(request, session, principal, msg)


def _status_or_back(request: Request, session: Session, principal: Principal, msg: str) -> Response:
    """The refreshed status widget for htmx, else back to the page with the message."""
    if is_htmx(request):
        return render(
            request,
            "admin/partials/compression_status.html",
            principal,
            msg=msg,
            **_status_context(session),
        )
    return back("/admin/compression", msg)


@router.post("/compression/retry-failed", response_model=None)
def compression_retry_all(request: Request, session: SessionDep, principal: AdminForm) -> Response:
    failed = session.exec(
        select(CompressionJob.id, CompressionJob.codec_id).where(
            CompressionJob.status == JobStatus.failed,
            or_(col(CompressionJob.error).is_(None), col(CompressionJob.error) != CANCELLED),
        )
    ).all()
    refused = {o.codec_id: o for o in worker_reports.unoffered(session, {c for _, c in failed})}
    retried = len(
        [
            i
            for i, codec_id in failed
            if i is not None and codec_id not in refused and compression.retry_job(session, i)
        ]
    )
    msg = f"{retried} failed jobs queued again."
    left = sum(1 for _, codec_id in failed if codec_id in refused)
    if left:
        msg += f" {left} left as they are: " + "; ".join(
            f"codec {o.codec_id} ({o.name}): {o.reason}" for o in refused.values()
        )
    return back("/admin/compression", msg)


@router.post("/compression/resume-interrupted", response_model=None)
def compression_resume(request: Request, session: SessionDep, principal: AdminForm) -> Response:
    """Send the interrupted jobs again (but those of codecs that no live worker offers)."""
    waiting = {job.codec_id for job in compression.interrupted_jobs(session)}
    refused = {o.codec_id: o for o in worker_reports.unoffered(session, waiting)}
    resumed = compression.resume_interrupted(session, leave_codecs=refused)
    msg = f"{len(resumed)} interrupted jobs queued again."
    if refused:
        msg += " Left as they are: " + "; ".join(
            f"codec {o.codec_id} ({o.name}): {o.reason}" for o in refused.values()
        )
    return _status_or_back(request, session, principal, msg)


@router.post("/compression/reconstructions/{reconstruction_id}/measure", response_model=None)
def compression_measure_again(
    reconstruction_id: int, request: Request, session: SessionDep, principal: AdminForm
) -> Response:
    sent = compression.measure_again(session, reconstruction_id)
    msg = (
        f"Reconstruction {reconstruction_id} sent to be measured again."
        if sent
        else f"Reconstruction {reconstruction_id} is measured already or gone."
    )
    return _status_or_back(request, session, principal, msg)
