"""Request and response bodies of the JSON API (labeler-facing ones carry neutral ids only)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.models import AssignmentStatus, MultiType, Role

T = TypeVar("T")

# Strict: "12" and 12.5 and true are refused, not coerced, so a broken client is noticed.
Coordinate = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
Side = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Version = Annotated[int, Field(strict=True, ge=0)]


class ListOf(BaseModel, Generic[T]):
    data: list[T]
    count: int


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserOut(BaseModel):
    id: int
    username: str
    role: Role


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class BoxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: Coordinate
    y: Coordinate
    w: Side
    h: Side


class BoxPatch(BoxIn):
    version: Version


class AnnotationOut(BaseModel):
    id: str
    x: int
    y: int
    w: int
    h: int
    version: int


class AnnotationSaved(AnnotationOut):
    """The stored annotation after a write; ``clipped`` when the box ran past the image and was
    cut to its edge, with ``message`` saying so in words the labeler can be shown."""

    clipped: bool = False
    message: str | None = None


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done: bool = False
    multi: bool = False
    multi_types: list[MultiType] = Field(default_factory=list, max_length=len(MultiType))
    appearance_note: Annotated[str, StringConstraints(max_length=10_000)] = ""
    note: Annotated[str, StringConstraints(max_length=10_000)] = ""
    version: Version


class ReviewOut(BaseModel):
    done: bool
    multi: bool
    multi_types: list[str]
    appearance_note: str
    note: str
    version: int


class ItemOut(BaseModel):
    blind_name: str
    position: int
    width: int
    height: int
    reconstruction_info: str
    original_info: str
    diff_info: str
    review: ReviewOut
    # Its pixels were removed on a data-subject request: nothing to show, nothing to label.
    removed: bool = False


class ReviewedItemOut(ItemOut):
    """An item of a labeler's batch as an admin reviews it: her review and her annotations."""

    annotations: list[AnnotationOut]


class AssignmentWorkOut(BaseModel):
    """One labeler's work on one batch, read only, for an admin."""

    assignment_id: int
    batch_id: int
    batch_name: str
    labeler: str
    status: AssignmentStatus
    locked: bool
    annotate_all_instances: bool
    items: list[ReviewedItemOut]


class BatchOut(BaseModel):
    id: int
    name: str
    n_items: int
    n_done: int
    status: AssignmentStatus | None
    annotate_all_instances: bool
    labeler: str | None = None
    # For admins: the assignment this row is, whose work they can review.
    assignment_id: int | None = None
