"""Users, login sessions and API tokens: the one place that writes them."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from backend.core.config import get_settings
from backend.core.security import (
    hash_password,
    new_api_token,
    new_secret,
    sha256_hex,
    verify_password,
)
from backend.models import ApiToken, LoginSession, Role, User, utcnow

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class UserExistsError(ValueError):
    pass


def create_user(
    session: Session, username: str, password: str, role: Role, *, is_demo: bool = False
) -> User:
    if session.exec(select(User).where(User.username == username)).first():
        raise UserExistsError(f"user {username!r} already exists")
    if not password:
        raise ValueError("password must not be empty")
    user = User(
        username=username, password_hash=hash_password(password), role=role, is_demo=is_demo
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        # Same work either way, so timing does not tell whether the name exists.
        verify_password(password, _DUMMY_HASH)
        return None
    if user.is_demo and not get_settings().demo_mode:
        return None
    return user if verify_password(password, user.password_hash) else None


_DUMMY_HASH = hash_password("not-a-real-password")


def open_session(session: Session, user: User) -> tuple[str, LoginSession]:
    key = new_secret()
    login = LoginSession(
        key_hash=sha256_hex(key),
        user_id=user.id,  # type: ignore[arg-type]
        csrf_token=new_secret(),
        expires_at=utcnow() + timedelta(seconds=get_settings().session_max_age_s),
    )
    session.add(login)
    session.commit()
    session.refresh(login)
    return key, login


def session_for_key(session: Session, key: str) -> tuple[LoginSession, User] | None:
    row = session.exec(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)  # type: ignore[arg-type]
        .where(LoginSession.key_hash == sha256_hex(key))
    ).first()
    if row is None:
        return None
    login, user = row
    if login.revoked or login.expires_at < utcnow() or not user.is_active:
        return None
    if user.is_demo and not get_settings().demo_mode:
        return None
    return login, user


def close_session(session: Session, key: str) -> None:
    login = session.exec(
        select(LoginSession).where(LoginSession.key_hash == sha256_hex(key))
    ).first()
    if login is not None:
        login.revoked = True
        session.add(login)
        session.commit()


def create_api_token(session: Session, user: User, name: str = "") -> str:
    token = new_api_token()
    session.add(ApiToken(user_id=user.id, token_hash=sha256_hex(token), name=name))  # type: ignore[arg-type]
    session.commit()
    return token


def user_for_api_token(session: Session, token: str) -> User | None:
    row = session.exec(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)  # type: ignore[arg-type]
        .where(ApiToken.token_hash == sha256_hex(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked or not user.is_active:
        return None
    return user
