from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session

from backend.api.deps import LabelerUser, SessionDep
from backend.api.routes.batches import review_out
from backend.models import Annotation, Reconstruction, Review, User
from backend.schemas import AnnotationOut, BoxIn, BoxPatch, ListOf, ReviewIn, ReviewOut
from backend.services import access, labeling

router = APIRouter(tags=["annotations"])

BlindName = Annotated[str, Path(pattern=r"^[0-9a-f]{40}$")]
PublicId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def annotation_out(ann: Annotation) -> AnnotationOut:
    return AnnotationOut(id=ann.public_id, x=ann.x, y=ann.y, w=ann.w, h=ann.h, version=ann.version)


def _item(session: Session, user: User, blind_name: str) -> Reconstruction:
    found = access.item_for_user(session, user, blind_name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
    return found.recon


def _writable_item(session: Session, user: User, blind_name: str) -> access.ItemAccess:
    found = access.item_for_user(session, user, blind_name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
    if not found.assigned:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this item is not in one of your batches")
    if not found.writable:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED)
    return found


LOCKED = "this batch was finished and locked by an admin"


def _conflict(current: Annotation | Review | None) -> JSONResponse:
    body: dict[str, object] = {"detail": "changed elsewhere: reload and try again"}
    if isinstance(current, Annotation):
        body["current"] = annotation_out(current).model_dump()
    elif isinstance(current, Review):
        body["current"] = review_out(current).model_dump()
    else:
        body["current"] = None
    return JSONResponse(body, status_code=status.HTTP_409_CONFLICT)


@router.get("/items/{blind_name}/annotations", response_model=ListOf[AnnotationOut])
def list_annotations(
    blind_name: BlindName, session: SessionDep, user: LabelerUser
) -> ListOf[AnnotationOut]:
    recon = _item(session, user, blind_name)
    data = [annotation_out(a) for a in labeling.list_boxes(session, user, recon)]
    return ListOf(data=data, count=len(data))


@router.post(
    "/items/{blind_name}/annotations",
    response_model=AnnotationOut,
    status_code=status.HTTP_201_CREATED,
)
def create_annotation(
    blind_name: BlindName, box: BoxIn, session: SessionDep, user: LabelerUser
) -> AnnotationOut:
    item = _writable_item(session, user, blind_name)
    try:
        return annotation_out(labeling.create_box(session, user, item, box))
    except labeling.BoxOutsideImageError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _own(session: Session, user: User, annotation_id: str) -> tuple[Annotation, access.ItemAccess]:
    found = access.box_for_user(session, user, annotation_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such annotation")
    if not found[1].writable:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED)
    return found


@router.patch("/annotations/{annotation_id}", response_model=AnnotationOut)
def patch_annotation(
    annotation_id: PublicId, body: BoxPatch, session: SessionDep, user: LabelerUser
) -> AnnotationOut | JSONResponse:
    ann, item = _own(session, user, annotation_id)
    box = BoxIn(x=body.x, y=body.y, w=body.w, h=body.h)
    try:
        ann = labeling.change_box(session, user, ann, item, expected_version=body.version, box=box)
    except labeling.Conflict as exc:
        return _conflict(exc.current)
    except labeling.BoxOutsideImageError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return annotation_out(ann)


@router.delete("/annotations/{annotation_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_annotation(
    annotation_id: PublicId,
    version: Annotated[int, Query(ge=0)],
    session: SessionDep,
    user: LabelerUser,
) -> Response:
    ann, item = _own(session, user, annotation_id)
    try:
        labeling.change_box(session, user, ann, item, expected_version=version, box=None)
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
