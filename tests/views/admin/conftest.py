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


# The plan form as the paper filled it (section 3.1): two halves of four codecs each, C3 and C6
# in both, both settings.
PAPER_PLAN_FORM = {
    "seed": "0",
    "bulk_size": "200",
    "batch_size": "25",
    "codecs_A": ["01", "03", "05", "06"],
    "codecs_B": ["02", "03", "04", "06"],
    "settings": ["low", "high"],
}
