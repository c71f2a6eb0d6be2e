"""The codec page: which codecs can run, as each worker last reported it, with its age.

The web host has no GPU and no weights; what a codec needs (weights, a program, a package, a
GPU) is known only where it runs. Each worker writes its report at start and then every
minute (:mod:`backend.services.worker_reports`); a worker stopped or silent for longer than
``worker_report_stale_s`` shows as gone, and its codecs no longer count as offered.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from backend.api.deps import SessionDep
from backend.core.config import get_settings
from backend.services import worker_reports
from backend.views.admin import router
from backend.views.admin.common import AdminPage, render


@router.get("/codecs", response_class=HTMLResponse)
def codecs_page(request: Request, session: SessionDep, principal: AdminPage) -> HTMLResponse:
    settings = get_settings()
    return render(
        request,
        "admin/codecs.html",
        principal,
        nav="codecs",
        codecs=list(worker_reports.codec_offers(session).values()),
        workers=worker_reports.workers(session),
        interval_s=settings.worker_report_interval_s,
        stale_s=settings.worker_report_stale_s,
    )
