from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session

from backend.api.deps import LabelerUser, SessionDep
from backend.models import Annotation, Review, User
from backend.schemas import (
    AnnotationOut,
    AnnotationSaved,
    BoxIn,
    BoxPatch,
    ListOf,
    ReviewIn,
    ReviewOut,
)
from backend.services import access, labeling
from backend.services.batches import annotation_out, review_out

router = APIRouter(tags=["annotations"])

BlindName = Annotated[str, Path(pattern=r"^[0-9a-f]{40}$")]
PublicId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]

LOCKED = "this batch was finished and locked by an admin"


def _saved(saved: labeling.Saved) -> AnnotationSaved:
    placement = saved.placement
    return AnnotationSaved(
        **annotation_out(saved.annotation).model_dump(),
        clipped=bool(placement and placement.clipped),
        message=placement.message if placement else None,
    )


def _not_removed(session: Session, item: access.ItemAccess) -> access.ItemAccess:
    """410 Gone, with the reason, for an item whose pixels were removed on request: the
    workspace tells the labeler so and moves on instead of retrying."""
    try:
        labeling.ensure_not_removed(session, item.recon)
    except labeling.ImageRemoved as exc:
        raise HTTPException(status.HTTP_410_GONE, str(exc)) from None
    return item


def _item(session: Session, user: User, blind_name: str) -> access.ItemAccess:
    found = access.item_for_user(session, user, blind_name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
    return _not_removed(session, found)


def _writable_item(session: Session, user: User, blind_name: str) -> access.ItemAccess:
    found = _item(session, user, blind_name)
    if not found.assigned:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this item is not in one of your batches")
    if not found.writable:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED)
    return found


def _conflict(current: Annotation | Review | None) -> JSONResponse:
    body: dict[str, object] = {"detail": "changed elsewhere: reload and try again"}
    if isinstance(current, Annotation):
        body["current"] = annotation_out(current).model_dump()
    elif isinstance(current, Review):
        body["current"] = review_out(current).model_dump()
    else:
        body["current"] = None
    return JSONResponse(body, status_code=status.HTTP_409_CONFLICT)


def _refused(exc: labeling.AnnotationRefused) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("/items/{blind_name}/annotations", response_model=ListOf[AnnotationOut])
def list_annotations(
    blind_name: BlindName, session: SessionDep, user: LabelerUser
) -> ListOf[AnnotationOut]:
    recon = _item(session, user, blind_name).recon
    data = [annotation_out(a) for a in labeling.list_annotations(session, user, recon)]
    return ListOf(data=data, count=len(data))


@router.post(
    "/items/{blind_name}/annotations",
    response_model=AnnotationSaved,
    status_code=status.HTTP_201_CREATED,
)
def create_annotation(
    blind_name: BlindName, box: BoxIn, session: SessionDep, user: LabelerUser
) -> AnnotationSaved:
    item = _writable_item(session, user, blind_name)
    try:
        return _saved(labeling.create_annotation(session, user, item, box))
    except labeling.AnnotationRefused as exc:
        raise _refused(exc) from None


def _own(session: Session, user: User, annotation_id: str) -> tuple[Annotation, access.ItemAccess]:
    found = access.annotation_for_user(session, user, annotation_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such annotation")
    annotation, item = found
    if not item.writable:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED)
    return annotation, _not_removed(session, item)


@router.patch("/annotations/{annotation_id}", response_model=AnnotationSaved)
def patch_annotation(
    annotation_id: PublicId, body: BoxPatch, session: SessionDep, user: LabelerUser
) -> AnnotationSaved | JSONResponse:
    annotation, item = _own(session, user, annotation_id)
    box = BoxIn(x=body.x, y=body.y, w=body.w, h=body.h)
    try:
        saved = labeling.change_annotation(
            session, user, annotation, item, expected_version=body.version, box=box
        )
    except labeling.Conflict as exc:
        return _conflict(exc.current)
    except labeling.AnnotationRefused as exc:
        raise _refused(exc) from None
    return _saved(saved)


@router.delete("/annotations/{annotation_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_annotation(
    annotation_id: PublicId,
    version: Annotated[int, Query(ge=0)],
    session: SessionDep,
    user: LabelerUser,
) -> Response:
    annotation, item = _own(session, user, annotation_id)
    try:
        labeling.change_annotation(
            session, user, annotation, item, expected_version=version, box=None
        )
    except labeling.Conflict as exc:
        return _conflict(exc.current)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/items/{blind_name}/review", response_model=ReviewOut)
def put_review(
    blind_name: BlindName, body: ReviewIn, session: SessionDep, user: LabelerUser
) -> ReviewOut | JSONResponse:
    item = _writable_item(session, user, blind_name)
    try:
        return review_out(labeling.put_review(session, user, item, body))
    except labeling.Conflict as exc:
        return _conflict(exc.current)
