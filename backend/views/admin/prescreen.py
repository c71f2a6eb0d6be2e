"""Prescreening pages for admins and researchers: one image at a time, one key per rating.

Paper, section 3.1: each prepared image is rated include, borderline or exclude by raters working
independently, with the inclusion criteria next to the image; an image that every rater (at
least two) rated borderline or exclude is removed. The page shows the next image the signed-in
rater has not rated; a rating is sent by a key press (1/2/3 or I/B/E) and the reply is the card
of the next image, so the rater never waits for a full page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from backend.api.deps import Principal, SessionDep
from backend.models import PrescreenRating, PrescreenVote, SourceImage
from backend.services import prescreen
from backend.services.images import preview_url
from backend.views.admin import router
from backend.views.admin.common import (
    StaffForm,
    StaffPage,
    back,
    is_htmx,
    page_or_fragment,
    render,
)

KEYS = {
    PrescreenRating.include: ("1", "i"),
    PrescreenRating.borderline: ("2", "b"),
    PrescreenRating.exclude: ("3", "e"),
}


def _last_rated(session: Session, rater_id: int) -> int | None:
    return session.exec(
        select(PrescreenVote.source_image_id)
        .where(PrescreenVote.rater_id == rater_id)
        .order_by(col(PrescreenVote.created_at).desc(), col(PrescreenVote.id).desc())
        .limit(1)
    ).first()


def _card(session: Session, principal: Principal, image: SourceImage | None) -> dict[str, Any]:
    rater_id = principal.user.id
    assert rater_id is not None
    upcoming = None
    if image is not None:
        upcoming = prescreen.next_image(session, rater_id, after_id=image.id or 0)
    return {
        "image": image,
        "image_url": preview_url(image) if image else "",
        "dataset": prescreen.dataset_name(session, image) if image else "",
        "mine": prescreen.my_rating(session, rater_id, image.id) if image and image.id else None,
        "prefetch": preview_url(upcoming) if upcoming else "",
        "previous": _last_rated(session, rater_id),
        "overview": prescreen.overview(session, rater_id),
        "criteria": prescreen.CRITERIA,
        "exclude_also": prescreen.EXCLUDE_ALSO,
        "ratings": [(r.value, KEYS[r]) for r in prescreen.RATINGS],
    }


@router.get("/prescreen", response_class=HTMLResponse)
def prescreen_page(
    request: Request,
    session: SessionDep,
    principal: StaffPage,
    source: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """The next unrated image, or image ``source`` to look at or change one's rating."""
    if source is not None:
        image = prescreen.screenable(session, source)
        if image is None:
            return render(
                request,
                "admin/denied.html",
                principal,
                status_code=status.HTTP_404_NOT_FOUND,
                message=f"No image #{source} to prescreen.",
            )
    else:
        image = prescreen.next_image(session, principal.user.id)  # type: ignore[arg-type]
    return page_or_fragment(
        request,
        "admin/prescreen.html",
        "admin/partials/prescreen_card.html",
        principal,
        nav="prescreen",
        **_card(session, principal, image),
    )


@router.post("/prescreen/{source_id}", response_model=None)
def prescreen_vote(
    source_id: int,
    request: Request,
    session: SessionDep,
    principal: StaffForm,
    rating: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        chosen = PrescreenRating(rating)
    except ValueError:
        return render(
            request,
            "admin/denied.html",
            principal,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            message="Rate the image include, borderline or exclude.",
        )
    try:
        prescreen.vote(session, principal.user, source_id, chosen)
    except prescreen.PrescreenError as exc:
        return render(
            request,
            "admin/denied.html",
            principal,
            status_code=status.HTTP_404_NOT_FOUND,
            message=str(exc),
        )
    if is_htmx(request):
        upcoming = prescreen.next_image(session, principal.user.id)  # type: ignore[arg-type]
        return render(
            request,
            "admin/partials/prescreen_card.html",
            principal,
            **_card(session, principal, upcoming),
        )
    return back("/admin/prescreen")


@router.get("/prescreen/agreement", response_class=HTMLResponse)
def prescreen_agreement(
    request: Request, session: SessionDep, principal: StaffPage
) -> HTMLResponse:
    """Agreement between the raters: percent, Cohen's κ per pair, Fleiss' κ over all."""
    return render(
        request,
        "admin/prescreen_agreement.html",
        principal,
        nav="prescreen",
        scales=prescreen.agreement(session),
        overview=prescreen.overview(session, principal.user.id),  # type: ignore[arg-type]
    )
