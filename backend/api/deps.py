"""Dependencies as named types: a route declares ``session: SessionDep, user: CurrentUser``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from sqlmodel import Session

from backend.core.config import get_settings
from backend.core.db import get_session
from backend.core.security import CSRF_HEADER, SESSION_COOKIE, Principal
from backend.models import Role, User
from backend.services import auth as auth_service

SessionDep = Annotated[Session, Depends(get_session)]

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def set_session_cookie(response: Response, key: str) -> None:
    """Give the browser its session key (HTTP only, same-site lax), for the API and the pages."""
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        key,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def get_optional_principal(request: Request, session: SessionDep) -> Principal | None:
    token = _bearer(request)
    if token:
        user = auth_service.user_for_api_token(session, token)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token")
        return Principal(user, None)
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    found = auth_service.session_for_key(session, key)
    if found is None:
        return None
    login_session, user = found
    return Principal(user, login_session.csrf_token)


# Dependencies without I/O are coroutines so they run on the event loop, not in the thread
# pool: each thread hop costs more than the check itself.
async def get_principal(
    request: Request, principal: Annotated[Principal | None, Depends(get_optional_principal)]
) -> Principal:
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    if principal.csrf_token is not None and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent != principal.csrf_token:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_current_user(principal: PrincipalDep) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def _require(*roles: Role):  # type: ignore[no-untyped-def]
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed for your role")
        return user

    return check


AdminUser = Annotated[User, Depends(_require(Role.admin))]
LabelerUser = Annotated[User, Depends(_require(Role.labeler, Role.admin))]
StaffUser = Annotated[User, Depends(_require(Role.admin, Role.researcher))]
