"""HTML pages for labelers: login, my batches, the workspace. Forms work without JavaScript."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.api.deps import (
    SESSION_COOKIE,
    Principal,
    SessionDep,
    get_optional_principal,
    set_session_cookie,
)
from backend.models import Role
from backend.services import auth as auth_service
from backend.services import batches as batch_service
from backend.services import labeling
from backend.views.errors import error_page
from backend.views.templating import templates
from backend.views.workspace import render_workspace

router = APIRouter(include_in_schema=False)

OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status.HTTP_303_SEE_OTHER)


def _context(principal: Principal | None, **extra: object) -> dict[str, object]:
    return {
        "user": principal.user if principal else None,
        "csrf_token": principal.csrf_token if principal else "",
        **extra,
    }


@router.get("/", response_model=None)
def home(principal: OptionalPrincipal) -> RedirectResponse:
    if principal is None:
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    if principal.user.role == Role.admin:
        return RedirectResponse("/admin", status.HTTP_303_SEE_OTHER)
    if principal.user.role == Role.researcher:
        return RedirectResponse("/admin/prescreen", status.HTTP_303_SEE_OTHER)
    return RedirectResponse("/batches", status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, principal: OptionalPrincipal) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        _context(principal, error=None, next=request.query_params.get("next", "")),
    )


@router.post("/login", response_model=None)
def login_submit(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    user = auth_service.authenticate(session, username, password)
    if user is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            _context(None, error="Wrong username or password.", next=next),
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    key, _ = auth_service.open_session(session, user)
    # Only local paths, so the form cannot be used to bounce users to another site.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, key)
    return response


@router.post("/logout", response_model=None)
def logout_submit(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    key = request.cookies.get(SESSION_COOKIE)
    if principal is not None and key and csrf_token == principal.csrf_token:
        auth_service.close_session(session, key)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, session: SessionDep, principal: OptionalPrincipal) -> Response:
    if principal is None:
        return _login_redirect(request)
    batches = [b.model_dump() for b in batch_service.batches_for(session, principal.user)]
    template = "partials/batch_rows.html" if request.headers.get("HX-Request") else "batches.html"
    return templates.TemplateResponse(request, template, _context(principal, batches=batches))


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def workspace_page(
    batch_id: int, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """The labeler's own batch. An admin who holds no assignment on it is sent to the
    read-only review of the labeler's work instead of an editable copy of her own."""
    if principal is None:
        return _login_redirect(request)
    found = labeling.batch_for_user(session, principal.user, batch_id)
    if found is None:
        return error_page(request, status.HTTP_404_NOT_FOUND, "No such batch.")
    batch, assignment = found
    if assignment is None:
        held = batch_service.assignments_of_batch(session, batch_id)
        if len(held) == 1:
            return RedirectResponse(
                f"/admin/assignments/{held[0].assignment.id}/review", status.HTTP_303_SEE_OTHER
            )
        return templates.TemplateResponse(
            request, "admin/review_choice.html", _context(principal, batch=batch, held=held)
        )
    n_items, _ = labeling.batch_progress(session, batch_id, principal.user.id)  # type: ignore[arg-type]
    return render_workspace(request, principal, batch, n_items=n_items)
