"""Admin pages. Each module adds its routes to ``router``; the app includes it once."""

from fastapi import APIRouter

router = APIRouter(prefix="/admin", include_in_schema=False)
