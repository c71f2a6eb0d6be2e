"""The labeler's workspace in real headless Chromium: flip, draw, reload, navigate, delete."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.utils.factories import PASSWORD, make_batch, make_user

pytestmark = pytest.mark.browser


def image_point(page, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    point = page.evaluate("([x, y]) => window.sclicWorkspace.imageToClient(x, y)", [x, y])
    return point["x"], point["y"]


def boxes(page) -> list[dict[str, int]]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        ".annotation-box",
        "els => els.map(e => ({id: e.dataset.id, x: +e.dataset.x, y: +e.dataset.y,"
        " w: +e.dataset.w, h: +e.dataset.h}))",
    )


def wait_viewer_ready(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "() => window.sclicWorkspace && window.sclicWorkspace.mainViewer"
        " && window.sclicWorkspace.mainViewer.world.getItemCount() >= 2"
        " && window.sclicWorkspace.mainViewer.world.getItemAt(0).getFullyLoaded()"
    )


def test_labeler_flips_draws_reloads_navigates_and_deletes(live_server, browser_page, session):
    page = browser_page
    ana = make_user(session, "ana")
    fixture = make_batch(session, ana, n_items=2, name="Browser batch")
    first = sorted(fixture.items, key=lambda r: r.id)[0]

    login(page, live_server, "ana", PASSWORD)
    page.goto(live_server + "/batches")
    page.click(f"a[href='/batches/{fixture.batch.id}']")
    page.wait_for_url(f"**/batches/{fixture.batch.id}**")
    wait_viewer_ready(page)
    assert page.get_attribute("#position", "data-index") == "0"
    assert page.text_content("#blind-name").strip() == first.blind_name

    badge = page.locator("#view-badge")
    assert badge.get_attribute("data-showing") == "reconstruction"
    page.keyboard.press("Space")
    page.wait_for_selector("#view-badge[data-showing='original']")
    assert "original" in badge.text_content().lower()
    page.keyboard.press("Space")
    page.wait_for_selector("#view-badge[data-showing='reconstruction']")

    # Draw a box by dragging in drawing mode.
    page.keyboard.press("b")
    x0, y0 = image_point(page, 60, 80)
    x1, y1 = image_point(page, 180, 200)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    page.wait_for_selector(".annotation-box[data-id]:not([data-id=''])")
    page.wait_for_selector("#save-status[data-state='saved']")
    [drawn] = boxes(page)
    assert abs(drawn["x"] - 60) <= 3 and abs(drawn["y"] - 80) <= 3
    assert abs(drawn["w"] - 120) <= 4 and abs(drawn["h"] - 120) <= 4

    # The server has exactly what the page shows.
    stored = page.request.get(f"{live_server}/api/v1/items/{first.blind_name}/annotations").json()
    assert [{k: b[k] for k in ("id", "x", "y", "w", "h")} for b in stored["data"]] == [drawn]

    # Reload: the same box, with the same coordinates.
    page.reload()
    wait_viewer_ready(page)
    page.wait_for_selector(".annotation-box")
    assert boxes(page) == [drawn]

    # → reaches the next image, ← comes back.
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#position[data-index='1']")
    assert page.text_content("#blind-name").strip() != first.blind_name
    assert boxes(page) == []
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#position[data-index='0']")
    page.wait_for_selector(".annotation-box")

    # Select the box and delete it.
    if page.get_attribute("#btn-draw", "aria-pressed") == "true":
        page.keyboard.press("b")
    cx, cy = image_point(page, drawn["x"] + drawn["w"] / 2, drawn["y"] + drawn["h"] / 2)
    page.mouse.click(cx, cy)
    page.wait_for_selector(".annotation-box.selected")
    page.keyboard.press("Delete")
    page.wait_for_selector(".annotation-box", state="detached")
    page.wait_for_selector("#save-status[data-state='saved']")
    stored = page.request.get(f"{live_server}/api/v1/items/{first.blind_name}/annotations").json()
    assert stored["count"] == 0
