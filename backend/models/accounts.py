"""Users, their API tokens and browser sessions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.models.base import Role, enum_column, utcnow


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    password_hash: str = Field(max_length=256)
    role: Role = Field(sa_column=enum_column(Role, nullable=False))
    is_active: bool = True
    is_demo: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class UserPublic(SQLModel):
    id: int
    username: str
    role: Role


class ApiToken(SQLModel, table=True):
    """A researcher's bearer token; only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    name: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False


class LoginSession(SQLModel, table=True):
    """A browser session; the cookie carries the random key, the CSRF token is kept here."""

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked: bool = False
