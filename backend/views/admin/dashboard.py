"""Progress dashboard per bulk, batch and labeler, and the progress file as CSV.

Paper, appendix 2.1: "A progress file listed all batches and their annotation status." The page
and the CSV come from the same grouped queries (see :mod:`backend.services.dashboard`); the
tables refresh themselves every 30 seconds while the page is open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from backend.api.deps import SessionDep
from backend.models import Bulk
from backend.services import dashboard
from backend.views.admin import router
from backend.views.admin.common import AdminPage, page_or_fragment


def hours(seconds: float) -> str:
    """Time spent as h:mm, the unit labelers' hours are counted in."""
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: SessionDep,
    principal: AdminPage,
    bulk: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """The whole page, or only its tables when htmx refreshes them."""
    board = dashboard.dashboard(session, bulk)
    bulks = session.exec(select(Bulk.id, Bulk.number).order_by(col(Bulk.number))).all()
    return page_or_fragment(
        request,
        "admin/dashboard.html",
        "admin/partials/dashboard_tables.html",
        principal,
        nav="dashboard",
        board=board,
        bulk=bulk,
        bulk_choices=bulks,
        hours=hours,
    )


@router.get("/dashboard.csv", response_model=None)
def dashboard_csv(session: SessionDep, principal: AdminPage) -> Response:
    """The progress file: one line per batch and labeler."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        dashboard.progress_csv(dashboard.batch_rows(session)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="progress-{stamp}.csv"'},
    )
