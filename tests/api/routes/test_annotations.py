import pytest
from sqlmodel import select

from backend.models import Annotation, AnnotationRevision, Assignment, AssignmentStatus, Role
from tests.utils.factories import PASSWORD, login, make_batch, make_user


@pytest.fixture()
def labeled(client, session):
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=2)
    login(client, "ana")
    return fixture


def _url(recon):
    return f"/api/v1/items/{recon.blind_name}/annotations"


def test_box_round_trip(client, labeled):
    recon = labeled.items[0]
    created = client.post(_url(recon), json={"x": 10, "y": 20, "w": 30, "h": 40})
    assert created.status_code == 201
    box = created.json()
    assert (box["x"], box["y"], box["w"], box["h"], box["version"]) == (10, 20, 30, 40, 1)
    assert len(box["id"]) == 16
    assert (box.pop("clipped"), box.pop("message")) == (False, None)
    listed = client.get(_url(recon)).json()
    assert listed["count"] == 1 and listed["data"][0] == box


def test_box_is_clipped_to_the_image_and_says_so(client, labeled):
    recon = labeled.items[0]
    box = client.post(
        _url(recon), json={"x": recon.width - 5, "y": recon.height - 7, "w": 100, "h": 100}
    ).json()
    assert (box["w"], box["h"]) == (5, 7)
    assert box["clipped"] is True and "5×7" in box["message"]
    moved = client.patch(
        f"/api/v1/annotations/{box['id']}",
        json={"x": recon.width - 9, "y": 0, "w": 40, "h": 9, "version": 1},
    ).json()
    assert (moved["w"], moved["h"], moved["clipped"]) == (9, 9, True)


@pytest.mark.parametrize(
    "box",
    [
        lambda w, h: (10, 10, 1, 10),
        lambda w, h: (10, 10, 10, 1),
        # Past the edge only one pixel of the box stays inside the image.
        lambda w, h: (w - 1, 10, 30, 30),
        lambda w, h: (10, h - 1, 30, 30),
    ],
    ids=["narrow", "flat", "one-column-inside", "one-row-inside"],
)
def test_boxes_under_the_minimum_side_are_refused_with_the_rule(client, labeled, session, box):
    """One rule: at least MIN_ANNOTATION_SIDE px on each side, after clipping to the image."""
    from backend.services.labeling import MIN_ANNOTATION_SIDE

    recon = labeled.items[0]
    x, y, w, h = box(recon.width, recon.height)
    response = client.post(_url(recon), json={"x": x, "y": y, "w": w, "h": h})
    assert response.status_code == 422
    assert f"at least {MIN_ANNOTATION_SIDE} px" in response.json()["detail"]
    assert session.exec(select(Annotation)).all() == []


def test_a_move_under_the_minimum_is_refused_and_changes_nothing(client, labeled):
    recon = labeled.items[0]
    box = client.post(_url(recon), json={"x": 1, "y": 2, "w": 3, "h": 4}).json()
    response = client.patch(
        f"/api/v1/annotations/{box['id']}", json={"x": 1, "y": 2, "w": 1, "h": 4, "version": 1}
    )
    assert response.status_code == 422 and "at least 2 px" in response.json()["detail"]
    [stored] = client.get(_url(recon)).json()["data"]
    assert (stored["w"], stored["version"]) == (3, 1)


def test_the_workspace_page_carries_the_same_minimum(client, labeled):
    from backend.services.labeling import MIN_ANNOTATION_SIDE

    client.post("/login", data={"username": "ana", "password": PASSWORD})
    page = client.get(f"/batches/{labeled.batch.id}").text
    assert f'data-min-annotation-side="{MIN_ANNOTATION_SIDE}"' in page


@pytest.mark.parametrize(
    "body",
    [
        {"x": -1, "y": 0, "w": 10, "h": 10},
        {"x": 0, "y": 0, "w": 0, "h": 10},
        {"x": 0, "y": 0, "w": 10, "h": -3},
        {"x": 0, "y": 0, "w": 10**12, "h": 10},
        {"x": 0, "y": 0, "w": "ten", "h": 10},
        {"x": 0, "y": 0, "w": "10", "h": 10},
        {"x": 0, "y": 0, "w": 10.5, "h": 10},
        {"x": 0, "y": 0, "w": True, "h": 10},
        {"x": 0, "y": 0, "w": None, "h": 10},
        {"x": 0, "y": 0, "w": 10},
        {"x": 0, "y": 0, "w": 10, "h": 10, "label": "extra"},
        {"x": 100_000, "y": 0, "w": 10, "h": 10},
    ],
)
def test_bad_boxes_are_422_and_store_nothing(client, labeled, session, body):
    response = client.post(_url(labeled.items[0]), json=body)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert session.exec(select(Annotation)).all() == []


def test_non_json_body_is_422(client, labeled):
    response = client.post(
        _url(labeled.items[0]),
        content=b"\x00\xffnot json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_edit_and_delete_keep_history(client, labeled, session):
    recon = labeled.items[0]
    box = client.post(_url(recon), json={"x": 1, "y": 2, "w": 3, "h": 4}).json()
    moved = client.patch(
        f"/api/v1/annotations/{box['id']}", json={"x": 5, "y": 6, "w": 7, "h": 8, "version": 1}
    )
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert client.delete(f"/api/v1/annotations/{box['id']}?version=2").status_code == 204
    assert client.get(_url(recon)).json()["count"] == 0
    revisions = session.exec(select(AnnotationRevision).order_by(AnnotationRevision.version)).all()
    assert [(r.version, r.x, r.deleted) for r in revisions] == [
        (1, 1, False),
        (2, 5, False),
        (3, 5, True),
    ]


def test_stale_version_is_a_conflict_not_a_lost_update(client, labeled):
    recon = labeled.items[0]
    box = client.post(_url(recon), json={"x": 1, "y": 2, "w": 3, "h": 4}).json()
    url = f"/api/v1/annotations/{box['id']}"
    first_tab = client.patch(url, json={"x": 9, "y": 9, "w": 9, "h": 9, "version": 1})
    second_tab = client.patch(url, json={"x": 1, "y": 1, "w": 2, "h": 2, "version": 1})
    assert first_tab.status_code == 200
    assert second_tab.status_code == 409
    assert second_tab.json()["current"]["x"] == 9
    assert client.delete(f"{url}?version=1").status_code == 409
    assert client.get(_url(recon)).json()["data"][0]["x"] == 9


def test_review_marks_done_and_finishes_the_batch(client, labeled, session):
    for i, recon in enumerate(labeled.items):
        response = client.put(
            f"/api/v1/items/{recon.blind_name}/review",
            json={
                "done": True,
                "multi": i == 0,
                "multi_types": ["color", "texture"] if i == 0 else [],
                "appearance_note": "sky darker",
                "note": "",
                "version": 0,
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1
    items = client.get(f"/api/v1/batches/{labeled.batch.id}/items").json()["data"]
    assert all(item["review"]["done"] for item in items)
    assert items[0]["review"]["multi_types"] in (["color", "texture"], [])
    batches = client.get("/api/v1/batches").json()["data"]
    assert batches[0]["n_done"] == 2 and batches[0]["status"] == "done"
    assignment = session.exec(select(Assignment)).one()
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.done and assignment.finished_at is not None


def test_review_rejects_unknown_types_and_stale_versions(client, labeled):
    url = f"/api/v1/items/{labeled.items[0].blind_name}/review"
    base = {"done": False, "multi": True, "appearance_note": "", "note": ""}
    assert (
        client.put(url, json={**base, "multi_types": ["sparkles"], "version": 0}).status_code == 422
    )
    assert client.put(url, json={**base, "multi_types": [], "version": 0}).status_code == 200
    assert client.put(url, json={**base, "multi_types": [], "version": 0}).status_code == 409


def test_items_are_in_order_and_blind(client, labeled):
    response = client.get(f"/api/v1/batches/{labeled.batch.id}/items")
    items = response.json()
    assert [i["position"] for i in items["data"]] == [0, 1]
    # Hex identifiers are blind by construction; what remains must name no codec, setting,
    # dataset or file.
    text = _without_hex(response.text + str(dict(response.headers))).lower()
    for secret in ("test-set", "secret-original-name", "low", "high", "codec", '"91', "bpp"):
        assert secret not in text


def _without_hex(text: str) -> str:
    import re

    return re.sub(r"[0-9a-f]{16,}", "", text)


def test_labeler_cannot_touch_another_labelers_batch(client, session, labeled):
    other = make_user(session, "bob")
    theirs = make_batch(session, other, n_items=1, name="Bob's", seed0=50)
    recon = theirs.items[0]
    assert client.get(f"/api/v1/batches/{theirs.batch.id}/items").status_code == 404
    assert client.get(_url(recon)).status_code == 404
    assert client.post(_url(recon), json={"x": 1, "y": 1, "w": 5, "h": 5}).status_code == 404
    assert (
        client.put(
            f"/api/v1/items/{recon.blind_name}/review",
            json={
                "done": True,
                "multi": False,
                "multi_types": [],
                "appearance_note": "",
                "note": "",
                "version": 0,
            },
        ).status_code
        == 404
    )
    assert [b["id"] for b in client.get("/api/v1/batches").json()["data"]] == [labeled.batch.id]


def test_labeler_cannot_edit_another_labelers_box(client, session, labeled):
    from fastapi.testclient import TestClient

    recon = labeled.items[0]
    box = client.post(_url(recon), json={"x": 1, "y": 2, "w": 3, "h": 4}).json()
    other = make_user(session, "bob")
    session.add(Assignment(batch_id=labeled.batch.id, labeler_id=other.id))
    session.commit()
    with TestClient(client.app) as bob:
        login(bob, "bob")
        assert bob.get(_url(recon)).json()["count"] == 0
        patch = bob.patch(
            f"/api/v1/annotations/{box['id']}", json={"x": 0, "y": 0, "w": 1, "h": 1, "version": 1}
        )
        assert patch.status_code == 404
        assert bob.delete(f"/api/v1/annotations/{box['id']}?version=1").status_code == 404


def test_researcher_is_not_a_labeler(client, session, labeled):
    from fastapi.testclient import TestClient

    make_user(session, "rita", Role.researcher)
    with TestClient(client.app) as rita:
        login(rita, "rita")
        assert rita.get("/api/v1/batches").status_code == 403
        assert rita.get(_url(labeled.items[0])).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/items/..%2F..%2Fetc%2Fpasswd/annotations",
        "/api/v1/items/../../etc/passwd/annotations",
        "/api/v1/items/" + "0" * 40 + "/annotations",
        "/api/v1/items/nothex/annotations",
    ],
)
def test_bad_identifiers_are_404_or_422(client, labeled, path):
    assert client.get(path).status_code in (404, 422)


def test_admin_sees_all_batches(client, session, labeled):
    from fastapi.testclient import TestClient

    make_user(session, "root", Role.admin)
    with TestClient(client.app) as admin:
        login(admin, "root")
        data = admin.get("/api/v1/batches").json()["data"]
        assert [(b["id"], b["labeler"]) for b in data] == [(labeled.batch.id, "ana")]


def test_locked_batch_refuses_every_write(client, labeled, session):
    recon = labeled.items[0]
    box = client.post(_url(recon), json={"x": 1, "y": 2, "w": 3, "h": 4}).json()
    labeled.batch.locked = True
    session.add(labeled.batch)
    session.commit()
    review = {"done": True, "multi": False, "multi_types": [], "appearance_note": "", "note": ""}
    responses = [
        client.post(_url(recon), json={"x": 5, "y": 5, "w": 5, "h": 5}),
        client.patch(
            f"/api/v1/annotations/{box['id']}", json={"x": 9, "y": 9, "w": 9, "h": 9, "version": 1}
        ),
        client.delete(f"/api/v1/annotations/{box['id']}?version=1"),
        client.put(f"/api/v1/items/{recon.blind_name}/review", json={**review, "version": 0}),
    ]
    assert [r.status_code for r in responses] == [423] * 4
    assert "locked" in responses[0].json()["detail"]
    # Reading still works, and nothing changed.
    assert client.get(_url(recon)).json()["data"] == [
        {k: v for k, v in box.items() if k not in ("clipped", "message")}
    ]


REVIEW = {"done": True, "multi": False, "multi_types": [], "appearance_note": "", "note": ""}


def test_a_removed_image_answers_410_with_the_reason(client, labeled, session):
    """After a data-subject removal the item says it is gone, so the workspace can move on."""
    from backend.services import anonymise

    recon = labeled.items[0]
    box = client.post(_url(recon), json={"x": 1, "y": 2, "w": 30, "h": 40}).json()
    boss = make_user(session, "boss", Role.admin)
    anonymise.anonymise_source(
        session, recon.source_image_id, actor_id=boss.id, reference="letter 7"
    )
    responses = [
        client.get(_url(recon)),
        client.post(_url(recon), json={"x": 5, "y": 5, "w": 5, "h": 5}),
        client.patch(
            f"/api/v1/annotations/{box['id']}", json={"x": 9, "y": 9, "w": 9, "h": 9, "version": 1}
        ),
        client.put(f"/api/v1/items/{recon.blind_name}/review", json={**REVIEW, "version": 0}),
    ]
    assert [r.status_code for r in responses] == [410] * 4
    assert all("removed on request" in r.json()["detail"] for r in responses)
    items = client.get(f"/api/v1/batches/{labeled.batch.id}/items").json()["data"]
    assert [i["removed"] for i in items] == [True, False]
    # The other image is untouched, and the removed one's annotation is kept.
    assert client.get(_url(labeled.items[1])).status_code == 200
    assert session.exec(select(Annotation)).one().w == 30


def test_admin_reads_one_labelers_work_read_only(client, session, labeled):
    from fastapi.testclient import TestClient

    recon = labeled.items[1]
    box = client.post(_url(recon), json={"x": 4, "y": 5, "w": 60, "h": 70}).json()
    client.put(
        f"/api/v1/items/{recon.blind_name}/review",
        json={**REVIEW, "multi": True, "multi_types": ["color"], "note": "two cars", "version": 0},
    )
    assignment = session.exec(select(Assignment)).one()
    url = f"/api/v1/assignments/{assignment.id}/work"
    assert client.get(url).status_code == 403  # labelers may not
    make_user(session, "root", Role.admin)
    with TestClient(client.app) as admin:
        login(admin, "root")
        work = admin.get(url).json()
        assert (work["labeler"], work["batch_id"], work["status"]) == (
            "ana",
            labeled.batch.id,
            "in_progress",
        )
        first, second = work["items"]
        assert first["annotations"] == [] and first["review"]["done"] is False
        assert [a["id"] for a in second["annotations"]] == [box["id"]]
        assert second["review"]["note"] == "two cars" and second["review"]["multi_types"] == [
            "color"
        ]
        assert admin.get("/api/v1/assignments/999999/work").status_code == 404
        listed = admin.get("/api/v1/batches").json()["data"]
        assert [b["assignment_id"] for b in listed] == [assignment.id]
        # The admin's own (empty) copy is not what the review shows, and stays empty.
        assert admin.get(_url(recon)).json()["count"] == 0
