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
