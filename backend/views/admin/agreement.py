"""Agreement-study pages (paper, section 3.2.4 and appendix 2.4)."""

from fastapi import APIRouter

router = APIRouter(prefix="/admin/agreement", include_in_schema=False)
