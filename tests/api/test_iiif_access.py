"""IIIF images through the application: login required, labelers see only their batches."""

from fastapi.testclient import TestClient

from backend.models import Role
from tests.utils.factories import login, make_batch, make_user


def test_anonymous_gets_nothing(client, session):
    fixture = make_batch(session, make_user(session, "ana"), n_items=1)
    blind = fixture.items[0].blind_name
    assert client.get(f"/iiif/3/{blind}/info.json").status_code == 401
    assert client.get(f"/iiif/3/{blind}/full/max/0/default.jpg").status_code == 401


def test_labeler_sees_her_pair_and_diff(client, session):
    fixture = make_batch(session, make_user(session, "ana"), n_items=1)
    login(client, "ana")
    item = client.get(f"/api/v1/batches/{fixture.batch.id}/items").json()["data"][0]
    for key in ("reconstruction_info", "original_info", "diff_info"):
        info = client.get(item[key])
        assert info.status_code == 200, key
        body = info.json()
        assert (body["width"], body["height"]) == (item["width"], item["height"])
        tile_url = body["id"] + "/0,0,256,256/256,/0/default.jpg"
        tile = client.get(tile_url)
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/jpeg"
        assert tile.content[:2] == b"\xff\xd8"
    legend = client.get("/iiif/legend.png")
    assert legend.status_code == 200 and legend.content[:4] == b"\x89PNG"


def test_labeler_cannot_load_another_labelers_images(client, session):
    make_batch(session, make_user(session, "ana"), n_items=1)
    theirs = make_batch(session, make_user(session, "bob"), n_items=1, seed0=40).items[0]
    login(client, "ana")
    for identifier in (theirs.blind_name, f"{theirs.blind_name}-diff"):
        assert client.get(f"/iiif/3/{identifier}/info.json").status_code == 404
        assert client.get(f"/iiif/3/{identifier}/full/max/0/default.jpg").status_code == 404


def test_admin_sees_everything(client, session):
    theirs = make_batch(session, make_user(session, "bob"), n_items=1).items[0]
    make_user(session, "root", Role.admin)
    with TestClient(client.app) as admin:
        login(admin, "root")
        assert admin.get(f"/iiif/3/{theirs.blind_name}/info.json").status_code == 200


def test_bad_identifiers_never_reach_the_disk(client, session):
    make_batch(session, make_user(session, "ana"), n_items=1)
    login(client, "ana")
    for identifier in (
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "a" * 40,
        "0" * 40 + "-diff",
        "ABCDEF" + "0" * 34,
        "0" * 39,
        "0" * 40 + ".png",
    ):
        response = client.get(f"/iiif/3/{identifier}/info.json")
        assert response.status_code == 404, identifier
        assert b"root:" not in response.content


def test_headers_reveal_no_file_names(client, session):
    fixture = make_batch(session, make_user(session, "ana"), n_items=1)
    login(client, "ana")
    blind = fixture.items[0].blind_name
    response = client.get(f"/iiif/3/{blind}/full/max/0/default.jpg")
    text = str(dict(response.headers)).lower()
    for secret in ("secret-original-name", ".png", "store", "reconstructions", "test-set"):
        assert secret not in text
