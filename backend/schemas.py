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


class BatchOut(BaseModel):
    id: int
    name: str
    n_items: int
    n_done: int
    status: AssignmentStatus | None
    annotate_all_instances: bool
    labeler: str | None = None
