"""The workspace in real headless Chromium: an admin's read-only review of a labeler's work, an
image removed on request, and boxes the server clips or refuses, each told to the user."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from backend.models import Annotation, Assignment, Review, Role
from backend.services import anonymise
from tests.browser.conftest import login
from tests.browser.workspace_page import annotation_boxes, drag, wait_viewer_ready
from tests.utils.factories import PASSWORD, make_batch, make_user

pytestmark = pytest.mark.browser

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def test_admin_reviews_a_labelers_work_read_only(live_server, browser_page, session):
    page = browser_page
    labeler = make_user(session, "labeler2")
    make_user(session, "boss", Role.admin)
    fixture = make_batch(session, labeler, n_items=2, name="Reviewed batch")
    first = fixture.items[0]
    session.add(
        Annotation(reconstruction_id=first.id, labeler_id=labeler.id, x=40, y=50, w=90, h=70)
    )
    session.add(
        Review(
            labeler_id=labeler.id,
            reconstruction_id=first.id,
            done=True,
            multi=True,
            multi_types=["color"],
            note="the red car turns blue",
            version=1,
        )
    )
    session.commit()
    assignment = session.exec(select(Assignment)).one()
    login(page, live_server, "boss", PASSWORD)
    writes: list[str] = []
    page.on(
        "request", lambda r: writes.append(f"{r.method} {r.url}") if r.method in WRITES else None
    )
    page.goto(live_server + "/admin/dashboard")
    page.click(f"a[href='/admin/assignments/{assignment.id}/review']")
    page.wait_for_url(f"**/admin/assignments/{assignment.id}/review**")
    wait_viewer_ready(page)

    banner = page.text_content("#review-banner")
    assert "Reviewing labeler2's work — read only" in " ".join(banner.split())
    page.wait_for_selector(".annotation-box")
    assert annotation_boxes(page) == [{"x": 40, "y": 50, "w": 90, "h": 70}]
    assert page.is_checked("#review-done") and page.is_checked("#review-multi")
    assert page.input_value("#review-note") == "the red car turns blue"
    assert page.is_disabled("#review-note") and page.is_disabled("#review-done")

    # Neither drawing, nor a key, nor the buttons change anything.
    page.keyboard.press("b")
    drag(page, (200, 200), (300, 300))
    page.keyboard.press("m")
    page.keyboard.press("Enter")
    page.keyboard.press("Delete")
    assert page.is_disabled("#btn-draw")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#position[data-index='1']")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#position[data-index='0']")
    page.wait_for_selector(".annotation-box")
    assert annotation_boxes(page) == [{"x": 40, "y": 50, "w": 90, "h": 70}]
    assert page.get_attribute("#save-status", "data-state") == "saved"
    assert writes == []
    session.expire_all()
    assert len(session.exec(select(Annotation)).all()) == 1


def test_an_admin_on_a_labelers_batch_url_lands_in_the_review(live_server, browser_page, session):
    page = browser_page
    labeler = make_user(session, "labeler2")
    make_user(session, "boss", Role.admin)
    fixture = make_batch(session, labeler, n_items=1)
    login(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server}/batches/{fixture.batch.id}")
    page.wait_for_selector("#review-banner")
    assert "/review" in page.url


def test_a_removed_image_is_announced_and_skipped(live_server, browser_page, session):
    page = browser_page
    ana = make_user(session, "ana")
    boss = make_user(session, "boss", Role.admin)
    fixture = make_batch(session, ana, n_items=3)
    gone_before, gone_while_open = fixture.items[0], fixture.items[2]
    anonymise.anonymise_source(
        session, gone_before.source_image_id, actor_id=boss.id, reference="request 1"
    )
    info_requests: list[str] = []
    page.on("request", lambda r: info_requests.append(r.url) if "info.json" in r.url else None)

    login(page, live_server, "ana", PASSWORD)
    page.goto(f"{live_server}/batches/{fixture.batch.id}")
    # The first image was removed before the batch was opened: the workspace says so and
    # opens the second one.
    page.wait_for_selector("#position[data-index='1']")
    wait_viewer_ready(page)
    assert "removed on request" in page.text_content("#ws-notice")
    assert not any(gone_before.blind_name in url for url in info_requests)

    # The third is removed while the labeler works: opening it fails, the workspace learns
    # why from the API (410) and stops instead of retrying.
    anonymise.anonymise_source(
        session, gone_while_open.source_image_id, actor_id=boss.id, reference="request 2"
    )
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#ws-notice:not([hidden])")
    page.wait_for_function(
        "() => document.getElementById('ws-notice').textContent.includes('removed on request')"
    )
    page.wait_for_selector("#position[data-index='1']")
    wait_viewer_ready(page)
    text = page.inner_text("body")
    assert "[object Object]" not in text and "retrying" not in text.lower()
    assert page.text_content("#progress-text").strip() == "0 / 1 done"
    tried = [u for u in info_requests if gone_while_open.blind_name in u]
    # Back to the removed one: skipped at once, nothing requested again.
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#position[data-index='1']")
    assert [u for u in info_requests if gone_while_open.blind_name in u] == tried


def test_clipped_and_refused_boxes_are_told_to_the_user(live_server, browser_page, session):
    page = browser_page
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=1)
    recon = fixture.items[0]
    login(page, live_server, "ana", PASSWORD)
    page.goto(f"{live_server}/batches/{fixture.batch.id}")
    wait_viewer_ready(page)
    minimum = int(page.get_attribute("#workspace", "data-min-annotation-side"))

    # A drag thinner than the server's minimum is refused in the page, with the rule.
    page.keyboard.press("b")
    drag(page, (100, 100), (100.4, 200))
    page.wait_for_selector("#ws-notice:not([hidden])")
    assert f"at least {minimum} px" in page.text_content("#ws-notice")
    assert annotation_boxes(page) == []

    # What the server does to a box is told too: rewrite the next save so that it runs past
    # the image (the server clips it), then so that it is too thin (the server refuses it).
    rewrites = [
        {"x": recon.width - 20, "y": 10, "w": 200, "h": 50},
        {"x": 10, "y": 10, "w": 1, "h": 50},
    ]

    def rewrite(route, request):  # type: ignore[no-untyped-def]
        if request.method == "POST" and rewrites:
            route.continue_(post_data=json.dumps(rewrites.pop(0)))
        else:
            route.continue_()

    page.route("**/api/v1/items/*/annotations", rewrite)
    drag(page, (60, 80), (180, 200))
    page.wait_for_function(
        "() => document.getElementById('ws-notice').textContent.includes('cut to 20×50')"
    )
    page.wait_for_selector("#save-status[data-state='saved']")
    assert annotation_boxes(page) == [{"x": recon.width - 20, "y": 10, "w": 20, "h": 50}]

    drag(page, (60, 300), (180, 400))
    page.wait_for_function(
        f"() => document.getElementById('ws-notice').textContent.includes('at least {minimum} px')"
    )
    page.wait_for_function("() => document.querySelectorAll('.annotation-box').length === 1")
    session.expire_all()
    assert [(a.w, a.h) for a in session.exec(select(Annotation)).all()] == [(20, 50)]
