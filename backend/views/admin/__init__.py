"""Admin pages under /admin. Each module adds its routes to ``router``; the app includes it once.

Every route on ``router`` goes through :class:`~backend.views.admin.common.AdminRoute`, which
answers anonymous visitors with the login redirect and other roles with a 403 page. The
agreement study pages (``agreement``) have a router of their own, included by the app.
"""

from importlib import import_module

from fastapi import APIRouter

from backend.views.admin.common import AdminRoute

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=AdminRoute)

_PAGES = (
    "home",
    "ingest",
    "prescreen",
    "plans",
    "codecs",
    "compression",
    "assign",
    "dashboard",
    "sources",
)

for _name in _PAGES:
    import_module(f"{__name__}.{_name}")
