"""The ASGI application: JSON API under /api/v1, HTML views, IIIF image service, static files."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from backend.api.main import api_router
from backend.core.config import get_settings
from backend.iiif import TileService, legend_png
from backend.iiif.routes import build_iiif_app
from backend.services.image_access import IDENTIFIER_RE, ImageAccess
from backend.views import admin, errors, labeler
from backend.views.admin import agreement as agreement_views
from backend.views.templating import STATIC_DIR, VENDOR_DIRS

log = logging.getLogger("sclic")


def announce_mode() -> None:
    settings = get_settings()
    if settings.embedded:
        log.warning(
            "EMBEDDED MODE: no DATABASE_URL set, using SQLite at %s; no REDIS_URL, so codec "
            "and tiling tasks run in-process in the web server. Set DATABASE_URL and REDIS_URL "
            "for PostgreSQL, Redis and Celery workers.",
            settings.effective_database_url.removeprefix("sqlite:///"),
        )
    elif not settings.redis_url:
        log.warning("No REDIS_URL set: tasks run in-process, not on Celery workers.")
    else:
        log.info("Database and Redis configured: tasks go to Celery workers.")


def create_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    announce_mode()
    app = FastAPI(
        title="sclic", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json"
    )
    # First in the route list: the router stops at the first match, and a warm tile costs less
    # than walking every API and page route ahead of it.
    _mount_iiif(app)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(labeler.router)
    app.include_router(admin.router)
    app.include_router(agreement_views.router)
    errors.register(app)
    for name, folder in VENDOR_DIRS.items():
        if folder.is_dir():
            app.mount(
                f"/static/vendor/{name}", StaticFiles(directory=folder), name=f"vendor-{name}"
            )
        else:
            log.warning("front-end library %s missing at %s: run `make install`", name, folder)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def tile_service() -> TileService:
    settings = get_settings()
    return TileService(settings.tile_cache_dir, tile_size=settings.tile_size)


def _mount_iiif(app: FastAPI) -> None:
    service = tile_service()
    image_access = ImageAccess()
    app.state.tile_service = service
    app.state.image_access = image_access
    legend = legend_png()

    @app.get("/iiif/legend.png", include_in_schema=False)
    def difference_legend() -> Response:
        return Response(legend, media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    # A plain mount: tiles pass through the application's routing like every other request, and
    # a 401 from the resolver is rendered by the application's own handlers.
    app.mount("/iiif/3", build_iiif_app(service, image_access, identifier_pattern=IDENTIFIER_RE))
