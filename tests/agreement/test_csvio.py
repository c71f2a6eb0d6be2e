"""Reading IMAGES.csv and BOXES.csv, and rejecting bad files with the row at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.agreement.csvio import read_agreement_input
from backend.agreement.units import AgreementInputError, Box, ImageSpec

IMAGES = "image,width,height\nfig5,200,100\nempty,64,64\n"
BOXES = "image,labeler,x,y,w,h\nfig5,R,120,10,30,20\nfig5,G,130,10,30,20\nfig5,B,10,60,40,30\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(tmp_path: Path, boxes: str = BOXES, images: str = IMAGES, labelers: tuple[str, ...] = ()):
    return read_agreement_input(
        write(tmp_path, "BOXES.csv", boxes), write(tmp_path, "IMAGES.csv", images), labelers
    )


def test_reads_images_boxes_and_labelers(tmp_path: Path) -> None:
    data = read(tmp_path, labelers=("Q", "R"))
    assert data.images == (ImageSpec("fig5", 200.0, 100.0), ImageSpec("empty", 64.0, 64.0))
    assert data.boxes[0] == Box("fig5", "R", 120.0, 10.0, 30.0, 20.0)
    assert len(data.boxes) == 3
    assert data.labelers == ("Q", "R", "G", "B")


def test_tolerates_bom_spaces_extra_columns_reordering_and_blank_lines(tmp_path: Path) -> None:
    images = "\ufeffheight, width ,image,source\n100,200,fig5,kodak\n\n"
    boxes = "labeler,image,h,w,y,x,note\n R ,fig5,20,30,10,120.5,\nG,fig5,1,1,0,0,x\n"
    data = read(tmp_path, boxes=boxes, images=images)
    assert data.images == (ImageSpec("fig5", 200.0, 100.0),)
    assert data.boxes[0] == Box("fig5", "R", 120.5, 10.0, 30.0, 20.0)
    assert data.labelers == ("R", "G")


def test_header_only_boxes_with_named_labelers(tmp_path: Path) -> None:
    data = read(tmp_path, boxes="image,labeler,x,y,w,h\n", labelers=("A", "B"))
    assert data.boxes == () and data.labelers == ("A", "B")


BAD_IMAGES = [
    ("", "IMAGES.csv, row 1: the file is empty"),
    ("image,width\na,10\n", "IMAGES.csv, row 1: missing column(s) height"),
    ("image,width,height\n", "IMAGES.csv: the file lists no images"),
    ("image,width,height\na,10,10\nb,ten,10\n", "IMAGES.csv, row 3: width is not a number"),
    ("image,width,height\na,10,nan\n", "IMAGES.csv, row 2: height is not finite"),
    ("image,width,height\na,10,10\nb,0,10\n", "IMAGES.csv, row 3: width and height must be"),
    ("image,width,height\na,10,-4\n", "IMAGES.csv, row 2: width and height must be positive"),
    ("image,width,height\na,10,10\n\na,20,20\n", "IMAGES.csv, row 4: image 'a' is listed twice"),
    ("image,width,height\na,10\n", "IMAGES.csv, row 2: 2 fields"),
    ("image,width,height\n,10,10\n", "IMAGES.csv, row 2: image is empty"),
]


@pytest.mark.parametrize(("images", "message"), BAD_IMAGES)
def test_bad_images_csv(tmp_path: Path, images: str, message: str) -> None:
    with pytest.raises(AgreementInputError) as excinfo:
        read(tmp_path, images=images)
    assert message in str(excinfo.value)
    assert str(tmp_path / "IMAGES.csv") in str(excinfo.value)


HEAD = "image,labeler,x,y,w,h\n"
BAD_BOXES = [
    ("", "BOXES.csv, row 1: the file is empty"),
    ("image,labeler,x,y,w\n", "BOXES.csv, row 1: missing column(s) h"),
    (HEAD + "fig5,R,1,1,5,5\nfig5,G,1,one,5,5\n", "BOXES.csv, row 3: y is not a number"),
    (HEAD + "fig5,R,1,1,0,5\n", "BOXES.csv, row 2: box width and height must be positive"),
    (HEAD + "fig5,R,1,1,5,-5\n", "BOXES.csv, row 2: box width and height must be positive"),
    (HEAD + "fig5,R,-1,1,5,5\n", "BOXES.csv, row 2: box (x=-1"),
    (HEAD + "fig5,R,1,1,5,5\nfig5,R,190,10,20,5\n", "BOXES.csv, row 3: box (x=190"),
    (HEAD + "fig5,R,0,96,5,5\n", "lies partly outside the image (200 × 100)"),
    (HEAD + "fig5,R,1,1,5,5\n\nmoon,R,1,1,5,5\n", "BOXES.csv, row 4: unknown image 'moon'"),
    (HEAD + "fig5,,1,1,5,5\n", "BOXES.csv, row 2: labeler is empty"),
    (HEAD + "fig5,R,1,1,5,5,9\n", "BOXES.csv, row 2: 7 fields"),
    (HEAD + "fig5,R,1,1,inf,5\n", "BOXES.csv, row 2: w is not finite"),
]


@pytest.mark.parametrize(("boxes", "message"), BAD_BOXES)
def test_bad_boxes_csv(tmp_path: Path, boxes: str, message: str) -> None:
    with pytest.raises(AgreementInputError) as excinfo:
        read(tmp_path, boxes=boxes, labelers=("R", "G"))
    assert message in str(excinfo.value)


def test_box_touching_the_far_edges_is_inside(tmp_path: Path) -> None:
    data = read(tmp_path, boxes=HEAD + "fig5,R,195,95,5,5\nempty,G,0,0,64,64\n")
    assert len(data.boxes) == 2


def test_fewer_than_two_labelers(tmp_path: Path) -> None:
    with pytest.raises(AgreementInputError, match="at least two labelers"):
        read(tmp_path, boxes=HEAD + "fig5,R,1,1,5,5\n")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(AgreementInputError, match="cannot be read"):
        read_agreement_input(tmp_path / "nope.csv", write(tmp_path, "IMAGES.csv", IMAGES))
