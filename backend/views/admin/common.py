"""What every admin page shares: who may see it, CSRF on forms, rendering, form parsing.

Anonymous visitors are sent to the login page (303), signed-in users without the role get a
403 page; both are raised from dependencies and turned into responses by :class:`AdminRoute`, so
a page function only runs for someone allowed to see it. Forms post a ``csrf_token`` field (or
htmx sends the ``X-CSRF-Token`` header from the page's meta tag); a cookie-authenticated change
without it is refused before anything is read or written.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from backend.api.deps import CSRF_HEADER, Principal, get_optional_principal
from backend.models import Role
from backend.views.templating import templates

OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


class LoginRequired(Exception):
    """Nobody is signed in: the page answers with a redirect to the login form."""


class Denied(Exception):
    """Signed in, but not allowed (role, or a form without its CSRF token)."""

    def __init__(self, principal: Principal | None, message: str) -> None:
        super().__init__(message)
        self.principal = principal
        self.message = message


class AdminRoute(APIRoute):
    """Turns :class:`LoginRequired` and :class:`Denied` into the login redirect and 403 page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = "/login?next=" + quote(request.url.path, safe="/")
                if is_htmx(request):
                    return Response(status_code=status.HTTP_200_OK, headers={"HX-Redirect": target})
                return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
            except Denied as exc:
                return render(
                    request,
                    "admin/denied.html",
                    exc.principal,
                    status_code=status.HTTP_403_FORBIDDEN,
                    message=exc.message,
                )

        return guarded


ADMIN = frozenset({Role.admin})
STAFF = frozenset({Role.admin, Role.researcher})


def _allowed(principal: Principal | None, roles: frozenset[Role], what: str) -> Principal:
    if principal is None:
        raise LoginRequired
    if principal.user.role not in roles:
        raise Denied(principal, f"This page is for {what} only.")
    return principal


def admin_page(principal: OptionalPrincipal) -> Principal:
    return _allowed(principal, ADMIN, "admins")


def staff_page(principal: OptionalPrincipal) -> Principal:
    return _allowed(principal, STAFF, "admins and researchers")


AdminPage = Annotated[Principal, Depends(admin_page)]
StaffPage = Annotated[Principal, Depends(staff_page)]


def check_csrf(request: Request, principal: Principal, form_token: str) -> None:
    """Cookie sessions must echo their CSRF token (form field or header); bearer tokens need
    none, as a browser never sends them by itself."""
    if principal.csrf_token is None:
        return
    sent = request.headers.get(CSRF_HEADER) or form_token
    if not sent or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise Denied(
            principal,
            "The form arrived without its security token (CSRF). Nothing was changed; "
            "reload the page and send it again.",
        )


def admin_form(
    request: Request, principal: AdminPage, csrf_token: Annotated[str, Form()] = ""
) -> Principal:
    check_csrf(request, principal, csrf_token)
    return principal


def staff_form(
    request: Request, principal: StaffPage, csrf_token: Annotated[str, Form()] = ""
) -> Principal:
    check_csrf(request, principal, csrf_token)
    return principal


AdminForm = Annotated[Principal, Depends(admin_form)]
StaffForm = Annotated[Principal, Depends(staff_form)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def context(principal: Principal | None, **extra: Any) -> dict[str, Any]:
    return {
        "user": principal.user if principal else None,
        "csrf_token": (principal.csrf_token or "") if principal else "",
        **extra,
    }


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status_code: int = status.HTTP_200_OK,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        context(principal, **{"msg": request.query_params.get("msg", "")[:300], **extra}),
        status_code=status_code,
        headers=dict(headers or {}),
    )


def page_or_fragment(
    request: Request, page: str, fragment: str, principal: Principal, **extra: Any
) -> HTMLResponse:
    """The same URL gives the whole page, or only the fragment that htmx asked for."""
    return render(request, fragment if is_htmx(request) else page, principal, **extra)


def back(path: str, msg: str = "", **params: object) -> RedirectResponse:
    """Post/redirect/get: after a change, show the page again with a short message."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if msg:
        query["msg"] = msg
    target = path + ("?" + urlencode(query) if query else "")
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


class FormError(ValueError):
    """A form value that cannot be used; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def int_field(values: Mapping[str, str], name: str, label: str, low: int, high: int) -> int:
    """A whole number within [low, high], read from a text field, with a clear message."""
    raw = (values.get(name) or "").strip()
    if not raw:
        raise FormError(name, f"{label} is missing")
    try:
        value = int(raw)
    except ValueError:
        raise FormError(name, f"{label} must be a whole number, not {raw[:20]!r}") from None
    if not low <= value <= high:
        raise FormError(name, f"{label} must be between {low} and {high}")
    return value


def float_field(
    values: Mapping[str, str], name: str, label: str, low: float, high: float
) -> float | None:
    """An optional number within (low, high]; empty means none."""
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormError(name, f"{label} must be a number, not {raw[:20]!r}") from None
    if not low < value <= high:
        raise FormError(name, f"{label} must be greater than {low} and at most {high}")
    return value
