from fastapi import APIRouter

from backend.api.routes import agreement, annotations, auth, batches

api_router = APIRouter()
api_router.include_router(auth.router)
api_router.include_router(batches.router)
api_router.include_router(annotations.router)
api_router.include_router(agreement.router)
