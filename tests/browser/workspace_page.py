"""Reading and driving the workspace page in the browser tests."""

from __future__ import annotations


def image_point(page, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Where image pixel (x, y) of the main viewer is on the page."""
    point = page.evaluate("([x, y]) => window.sclicWorkspace.imageToClient(x, y)", [x, y])
    return point["x"], point["y"]


def annotation_boxes(page, with_ids: bool = False) -> list[dict[str, int]]:  # type: ignore[no-untyped-def]
    """The annotations drawn on the main viewer, as image-pixel boxes."""
    found = page.eval_on_selector_all(
        ".annotation-box",
        "els => els.map(e => ({id: e.dataset.id, x: +e.dataset.x, y: +e.dataset.y,"
        " w: +e.dataset.w, h: +e.dataset.h}))",
    )
    if not with_ids:
        for box in found:
            box.pop("id")
    return found


def wait_viewer_ready(page) -> None:  # type: ignore[no-untyped-def]
    """Until both images of the main viewer are open and the shown one is fully loaded."""
    page.wait_for_function(
        "() => window.sclicWorkspace && window.sclicWorkspace.mainViewer"
        " && window.sclicWorkspace.mainViewer.world.getItemCount() >= 2"
        " && window.sclicWorkspace.mainViewer.world.getItemAt(0).getFullyLoaded()"
    )


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    """Press at image pixel ``start``, move in steps, release at ``end``."""
    x0, y0 = image_point(page, *start)
    x1, y1 = image_point(page, *end)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
