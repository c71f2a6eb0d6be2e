"""Signed-in clients for the admin page tests."""

from __future__ import annotations

import pytest

from backend.models import Role
from tests.utils.factories import login, make_user


@pytest.fixture()
def admin(client, session):  # type: ignore[no-untyped-def]
    """An admin, signed in on ``client`` (the CSRF header is set for every request)."""
    user = make_user(session, "boss", Role.admin)
    login(client, "boss")
    return user


def csrf_of(client) -> str:  # type: ignore[no-untyped-def]
    return client.headers["X-CSRF-Token"]


def without_csrf(client):  # type: ignore[no-untyped-def]
    """The client with its CSRF header removed (a cross-site form post looks like this)."""
    client.headers.pop("X-CSRF-Token", None)
    return client


def squash(html: str) -> str:
    """The text with every run of white space made one space, to match wrapped template lines."""
    return " ".join(html.split())
