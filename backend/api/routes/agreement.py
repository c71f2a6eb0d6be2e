"""Agreement studies through the JSON API."""

from fastapi import APIRouter

router = APIRouter(tags=["agreement"])
