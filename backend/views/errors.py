"""Error answers in the form the asker reads: HTML pages for people, JSON for the API.

A person who follows a bad link (``/batches/abc``, an id that does not exist, a page of another
role) gets a page of the site that says what went wrong and where to go next, not a raw JSON
body; ``/api/...`` keeps FastAPI's JSON errors, which the workspace script and API clients
read; the IIIF service and static files keep their own plain answers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api.deps import SESSION_COOKIE
from backend.core.db import get_engine
from backend.models import User
from backend.services import auth as auth_service
from backend.views.templating import templates

log = logging.getLogger("sclic")

# Paths whose clients read machine answers, not pages.
MACHINE_PREFIXES = ("/api/", "/iiif/", "/static/")

HINTS = {
    status.HTTP_401_UNAUTHORIZED: "Please log in.",
    status.HTTP_403_FORBIDDEN: "Your account may not open this page.",
    status.HTTP_404_NOT_FOUND: "There is nothing at this address.",
    status.HTTP_422_UNPROCESSABLE_CONTENT: "This address or form is not valid.",
    status.HTTP_500_INTERNAL_SERVER_ERROR: (
        "Something went wrong on our side. Nothing you did caused it; the error was logged."
    ),
}


def wants_page(request: Request) -> bool:
    return not request.url.path.startswith(MACHINE_PREFIXES)


def _user(request: Request) -> tuple[User | None, str]:
    """Who is signed in, so the error page keeps the site's header; nobody if that fails."""
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None, ""
    try:
        with Session(get_engine()) as session:
            found = auth_service.session_for_key(session, key)
            if found is None:
                return None, ""
            login_session, user = found
            session.expunge(user)
            return user, login_session.csrf_token
    except Exception:  # the page must render even when the database is what failed
        log.exception("could not look up the user for an error page")
        return None, ""


def error_page(
    request: Request,
    status_code: int,
    message: str = "",
    *,
    details: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The site's error page for ``status_code``, with ``message`` (or a general hint)."""
    user, csrf_token = _user(request) if status_code < 500 else (None, "")
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": user,
            "csrf_token": csrf_token,
            "status_code": status_code,
            "title": HTTPStatus(status_code).phrase,
            "message": message or HINTS.get(status_code, ""),
            "details": details or [],
        },
        status_code=status_code,
        headers=dict(headers or {}),
    )


def _field(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("path", "query", "body")]
    return ".".join(parts) or "request"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not wants_page(request):
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == status.HTTP_404_NOT_FOUND and detail == "Not Found":
        detail = ""  # the router's generic text; the page's hint says it better
    return error_page(request, exc.status_code, detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not wants_page(request):
        return await request_validation_exception_handler(request, exc)
    details = [f"{_field(e.get('loc', ()))}: {e.get('msg', 'not valid')}" for e in exc.errors()]
    return error_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT, details=details)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback and re-raises after this answer is sent.
    if not wants_page(request):
        return JSONResponse(
            {"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    return error_page(request, status.HTTP_500_INTERNAL_SERVER_ERROR)


def register(app: FastAPI) -> None:
    """Answer errors of HTML routes with pages; keep JSON for the API."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
