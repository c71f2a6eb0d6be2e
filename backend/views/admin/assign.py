"""Assignment page: bulks and single batches to labelers, an even split, reassign, lock.

Paper, appendix 2.1: labelers work independently with no overlap, and batches are assigned
"roughly evenly" so each labeler views about the same number of images (section 3.2). See
:mod:`backend.services.assignments` for the rules (reassign only unstarted batches, lock only
finished ones).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from backend.api.deps import Principal, SessionDep
from backend.models import Bulk
from backend.services import assignments, dashboard, labeling
from backend.services import batches as batch_service
from backend.views.admin import router
from backend.views.admin.common import AdminForm, AdminPage, FormError, back, int_field, render
from backend.views.errors import error_page
from backend.views.workspace import render_workspace

FormList = Annotated[list[str] | None, Form()]
Id = Annotated[str, Form(max_length=12)]
MAX_ID = 2**31 - 1


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    bulk: int | None,
    *,
    error: str = "",
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    everything = dashboard.batch_rows(session)
    bulks = list(session.exec(select(Bulk).order_by(col(Bulk.number))).all())
    totals = {t.key: t for t in dashboard.per_bulk(everything)}
    people = assignments.labelers(session)
    load = assignments.images_per_labeler(session, [u.id for u in people])  # type: ignore[misc]
    rows = [r for r in everything if bulk is None or r.bulk_id == bulk]
    return render(
        request,
        "admin/assignments.html",
        principal,
        status_code=status_code,
        nav="assign",
        bulks=[(b, totals.get(f"Bulk {b.number}")) for b in bulks],
        labelers=people,
        load=load,
        rows=rows,
        bulk=bulk,
        error=error,
    )


@router.get("/assignments", response_class=HTMLResponse)
def assignments_page(
    request: Request,
    session: SessionDep,
    principal: AdminPage,
    bulk: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    return _page(request, session, principal, bulk)


@router.get("/assignments/{assignment_id}/review", response_class=HTMLResponse)
def assignment_review(
    assignment_id: int, request: Request, session: SessionDep, principal: AdminPage
) -> HTMLResponse:
    """A labeler's work on her batch in the workspace, read only and marked as hers: her
    boxes, flags, notes and done state, as she saved them."""
    found = batch_service.find_assignment(session, assignment_id)
    if found is None:
        return error_page(request, status.HTTP_404_NOT_FOUND, "No such assignment.")
    n_items, _ = labeling.batch_progress(session, found.batch.id, found.labeler.id)  # type: ignore[arg-type]
    return render_workspace(request, principal, found.batch, n_items=n_items, reviewing=found)


def _return_bulk(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


def _done(
    request: Request,
    session: Session,
    principal: Principal,
    return_bulk: str,
    action: Callable[[], str],
) -> Response:
    """Run an assignment change; success goes back to the page, a refusal re-renders it."""
    bulk = _return_bulk(return_bulk)
    try:
        message = action()
    except (assignments.AssignError, FormError) as exc:
        session.rollback()
        if isinstance(exc, FormError):
            text, code = exc.message, status.HTTP_422_UNPROCESSABLE_CONTENT
        else:
            text, code = str(exc), status.HTTP_409_CONFLICT
        return _page(request, session, principal, bulk, error=text, status_code=code)
    return back("/admin/assignments", message, bulk=bulk)


@router.post("/assignments/split", response_model=None)
def assignments_split(
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    labeler_ids: FormList = None,
    bulk_ids: FormList = None,
    return_bulk: Id = "",
) -> Response:
    def act() -> str:
        people = [int_field({"v": v}, "v", "A labeler", 1, MAX_ID) for v in labeler_ids or []]
        scope = [int_field({"v": v}, "v", "A bulk", 1, MAX_ID) for v in bulk_ids or []] or None
        result = assignments.even_split(session, people, principal.user.id, scope)
        shares = ", ".join(f"{k}: {v}" for k, v in result.images_per_labeler.items())
        return f"{result.batches} batches handed out; images per labeler now {shares}."

    return _done(request, session, principal, return_bulk, act)


@router.post("/assignments/bulk/{bulk_id}", response_model=None)
def assignments_bulk(
    bulk_id: int,
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    labeler_id: Id = "",
    return_bulk: Id = "",
) -> Response:
    def act() -> str:
        labeler = int_field({"v": labeler_id}, "v", "The labeler", 1, MAX_ID)
        n = assignments.assign_bulk(session, bulk_id, labeler, principal.user.id)
        return f"{n} unassigned batches of the bulk assigned."

    return _done(request, session, principal, return_bulk, act)


@router.post("/assignments/batch/{batch_id}", response_model=None)
def assignments_batch(
    batch_id: int,
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    labeler_id: Id = "",
    return_bulk: Id = "",
) -> Response:
    def act() -> str:
        labeler = int_field({"v": labeler_id}, "v", "The labeler", 1, MAX_ID)
        return assignments.assign(session, batch_id, labeler, principal.user.id)

    return _done(request, session, principal, return_bulk, act)


@router.post("/assignments/batch/{batch_id}/unassign", response_model=None)
def assignments_unassign(
    batch_id: int,
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    return_bulk: Id = "",
) -> Response:
    return _done(
        request,
        session,
        principal,
        return_bulk,
        lambda: assignments.unassign(session, batch_id, principal.user.id),
    )


@router.post("/assignments/batch/{batch_id}/lock", response_model=None)
def assignments_lock(
    batch_id: int,
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    return_bulk: Id = "",
) -> Response:
    return _done(
        request,
        session,
        principal,
        return_bulk,
        lambda: assignments.set_locked(session, batch_id, True, principal.user.id),
    )


@router.post("/assignments/batch/{batch_id}/unlock", response_model=None)
def assignments_unlock(
    batch_id: int,
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    return_bulk: Id = "",
) -> Response:
    return _done(
        request,
        session,
        principal,
        return_bulk,
        lambda: assignments.set_locked(session, batch_id, False, principal.user.id),
    )
