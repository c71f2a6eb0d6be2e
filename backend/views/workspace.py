"""The workspace page, shared by the labeler's own batch and an admin's read-only review."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from backend.api.deps import Principal
from backend.models import Batch
from backend.services import labeling
from backend.services.batches import AssignmentView
from backend.views.templating import templates


def render_workspace(
    request: Request,
    principal: Principal,
    batch: Batch,
    *,
    n_items: int,
    reviewing: AssignmentView | None = None,
) -> HTMLResponse:
    """The workspace for ``batch``; with ``reviewing``, that labeler's work, read only."""
    try:
        start_index = max(0, int(request.query_params.get("i", "0")))
    except ValueError:
        start_index = 0
    review = None
    if reviewing is not None:
        review = {
            "assignment_id": reviewing.assignment.id,
            "labeler": reviewing.labeler.username,
            "items_url": f"/api/v1/assignments/{reviewing.assignment.id}/work",
        }
    return templates.TemplateResponse(
        request,
        "workspace.html",
        {
            "user": principal.user,
            "csrf_token": principal.csrf_token or "",
            "batch": {
                "id": batch.id,
                "name": batch.name,
                "n_items": n_items,
                "annotate_all_instances": batch.annotate_all_instances,
            },
            "start_index": start_index,
            "diff_scale": request.app.state.tile_service.diff_scale,
            "min_annotation_side": labeling.MIN_ANNOTATION_SIDE,
            "review": review,
        },
    )
