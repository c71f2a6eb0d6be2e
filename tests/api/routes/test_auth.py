from backend.models import Role
from tests.utils.factories import PASSWORD, login, make_user


def test_login_sets_cookie_and_returns_csrf(client, session):
    make_user(session, "ana")
    response = client.post("/api/v1/auth/login", json={"username": "ana", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == "ana" and body["user"]["role"] == "labeler"
    assert len(body["csrf_token"]) >= 32
    assert "sclic_session" in response.cookies
    assert client.get("/api/v1/me").json()["username"] == "ana"


def test_wrong_password_and_unknown_user_look_the_same(client, session):
    make_user(session, "ana")
    wrong = client.post("/api/v1/auth/login", json={"username": "ana", "password": "nope"})
    unknown = client.post("/api/v1/auth/login", json={"username": "bob", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_malformed_login_bodies_are_422(client, session):
    for body in (
        {},
        {"username": "a"},
        {"username": 5, "password": []},
        {"username": "", "password": "x"},
    ):
        assert client.post("/api/v1/auth/login", json=body).status_code == 422


def test_anonymous_gets_nothing(client, session):
    for path in ("/api/v1/me", "/api/v1/batches", "/api/v1/batches/1/items"):
        assert client.get(path).status_code == 401


def test_state_change_needs_csrf_token(client, session):
    make_user(session, "ana")
    login(client, "ana")
    del client.headers["X-CSRF-Token"]
    assert client.post("/api/v1/auth/logout").status_code == 403
    client.headers["X-CSRF-Token"] = "wrong"
    assert client.post("/api/v1/auth/logout").status_code == 403


def test_logout_ends_the_session(client, session):
    make_user(session, "ana")
    login(client, "ana")
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_demo_accounts_only_log_in_in_demo_mode(client, session, monkeypatch):
    from backend.core.config import get_settings
    from backend.services.auth import create_user

    create_user(session, "labeler1", "demo", Role.labeler, is_demo=True)
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "labeler1", "password": "demo"}
        ).status_code
        == 401
    )
    monkeypatch.setenv("SCLIC_DEMO_MODE", "1")
    get_settings.cache_clear()
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "labeler1", "password": "demo"}
        ).status_code
        == 200
    )


def test_bearer_token_authenticates_without_csrf(client, session):
    from backend.services.auth import create_api_token

    user = make_user(session, "rita", Role.researcher)
    token = create_api_token(session, user, "scripts")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "researcher"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer sclic_nope"})
    assert bad.status_code == 401
