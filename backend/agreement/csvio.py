"""Reading the researchers' CSV input of the agreement measure.

``IMAGES.csv`` has the columns ``image,width,height`` and lists every image that was annotated,
including those on which nobody drew a box: they are all-negative units, and leaving them out
would inflate disagreement. ``BOXES.csv`` has the columns ``image,labeler,x,y,w,h`` with one box
per row in image pixels. Every labeler appearing in ``BOXES.csv`` or named explicitly is taken to
have annotated every image of ``IMAGES.csv``.

Rows are numbered as lines of the file, the header being row 1. Any problem raises
:class:`AgreementInputError` naming the file and the row, so a researcher can fix the file.
Extra columns are ignored.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.agreement.units import AgreementInputError, Box, ImageSpec, box_problem, image_problem

IMAGE_COLUMNS = ("image", "width", "height")
BOX_COLUMNS = ("image", "labeler", "x", "y", "w", "h")


@dataclass(frozen=True, slots=True)
class AgreementInput:
    """Images, boxes and labelers read from the CSV files, ready for ``compute_agreement``."""

    images: tuple[ImageSpec, ...]
    boxes: tuple[Box, ...]
    labelers: tuple[str, ...]


def _rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, stripped values of ``columns``) for each non-blank data row of ``path``."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise AgreementInputError(f"{path}: cannot be read ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise AgreementInputError(f"{path}, row 1: the file is empty (no header)")
            names = [cell.strip().lower() for cell in header]
            absent = [c for c in columns if c not in names]
            if absent:
                raise AgreementInputError(
                    f"{path}, row 1: missing column(s) {', '.join(absent)}; "
                    f"expected {','.join(columns)}"
                )
            position = {c: names.index(c) for c in columns}
            for row_number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(names):
                    raise AgreementInputError(
                        f"{path}, row {row_number}: {len(cells)} fields, "
                        f"the header has {len(names)}"
                    )
                yield row_number, {c: cells[i].strip() for c, i in position.items()}
        except csv.Error as exc:
            raise AgreementInputError(f"{path}, row {reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            raise AgreementInputError(f"{path}: not UTF-8 text") from None


def _number(path: Path, row: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AgreementInputError(
            f"{path}, row {row}: {column} is not a number ({text!r})"
        ) from None
    if not math.isfinite(value):
        raise AgreementInputError(f"{path}, row {row}: {column} is not finite ({text!r})")
    return value


def _name(path: Path, row: int, column: str, text: str) -> str:
    if not text:
        raise AgreementInputError(f"{path}, row {row}: {column} is empty")
    return text


def read_images(path: Path) -> tuple[ImageSpec, ...]:
    """The images listed in an ``IMAGES.csv`` file (at least one; names unique)."""
    images: dict[str, ImageSpec] = {}
    first_row: dict[str, int] = {}
    for row, cells in _rows(path, IMAGE_COLUMNS):
        name = _name(path, row, "image", cells["image"])
        if name in images:
            raise AgreementInputError(
                f"{path}, row {row}: image {name!r} is listed twice (first in row "
                f"{first_row[name]})"
            )
        width = _number(path, row, "width", cells["width"])
        height = _number(path, row, "height", cells["height"])
        problem = image_problem(width, height)
        if problem:
            raise AgreementInputError(f"{path}, row {row}: {problem}")
        images[name] = ImageSpec(name, width, height)
        first_row[name] = row
    if not images:
        raise AgreementInputError(f"{path}: the file lists no images")
    return tuple(images.values())


def read_boxes(path: Path, images: Sequence[ImageSpec]) -> tuple[Box, ...]:
    """The boxes of a ``BOXES.csv`` file, checked against ``images`` (may be none)."""
    by_name = {spec.image: spec for spec in images}
    boxes: list[Box] = []
    for row, cells in _rows(path, BOX_COLUMNS):
        name = _name(path, row, "image", cells["image"])
        labeler = _name(path, row, "labeler", cells["labeler"])
        x, y, w, h = (_number(path, row, c, cells[c]) for c in ("x", "y", "w", "h"))
        spec = by_name.get(name)
        if spec is None:
            raise AgreementInputError(
                f"{path}, row {row}: unknown image {name!r} (not in the images file)"
            )
        problem = box_problem(x, y, w, h, spec.width, spec.height)
        if problem:
            raise AgreementInputError(f"{path}, row {row}: {problem}")
        boxes.append(Box(name, labeler, x, y, w, h))
    return tuple(boxes)


def read_agreement_input(
    boxes_path: Path, images_path: Path, labelers: Sequence[str] = ()
) -> AgreementInput:
    """Images and boxes from the two CSV files; labelers are ``labelers`` then those in boxes.

    Raises :class:`AgreementInputError` when fewer than two labelers result, since agreement is
    undefined for one.
    """
    images = read_images(Path(images_path))
    boxes = read_boxes(Path(boxes_path), images)
    names: dict[str, None] = {}
    for name in labelers:
        if not name.strip():
            raise AgreementInputError("labeler names must not be empty")
        names.setdefault(name.strip(), None)
    for box in boxes:
        names.setdefault(box.labeler, None)
    if len(names) < 2:
        found = ", ".join(names) or "none"
        raise AgreementInputError(
            f"agreement needs at least two labelers (found: {found}); name any labeler "
            "without boxes with --labelers"
        )
    return AgreementInput(images=images, boxes=boxes, labelers=tuple(names))
