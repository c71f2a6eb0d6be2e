"""The ingest report in its three renderings."""

from __future__ import annotations

import csv
import io
import json

from backend.ingest.prepare import PrepareOptions, PrepareOutcome, prepare_many
from backend.ingest.report import CSV_COLUMNS, IngestReport
from backend.ingest.scan import scan_folder
from backend.ingest.validate import Rejection, RejectReason, SourceFormat
from tests.ingest.factories import encode, pixels


def sample_report() -> IngestReport:
    report = IngestReport()
    report.add(
        "clic/a.png",
        PrepareOutcome(
            png=b"\x89PNG",
            width=2304,
            height=1728,
            sha256="a" * 64,
            source_format=SourceFormat.PNG,
            source_width=4000,
            source_height=3000,
            notes=("converted: 16-bit RGB → 8-bit", "downscaled 4000×2992 → 2304×1728"),
        ),
    )
    report.add("clic/b.png", Rejection(RejectReason.CORRUPT, "corrupt or truncated: x", "b" * 64))
    report.add("clic/c.png", Rejection(RejectReason.DUPLICATE, "same content", "a" * 64))
    report.add("clic/d.txt.png", Rejection(RejectReason.NOT_AN_IMAGE, 'not an image, "quoted"'))
    return report


def test_counts():
    report = sample_report()
    assert report.counts() == {
        "considered": 4,
        "taken": 1,
        "refused": 3,
        "converted": 1,
        "refused_by_reason": {"corrupt": 1, "duplicate": 1, "not_an_image": 1},
    }
    assert [line.source for line in report.refused] == [
        "clic/b.png",
        "clic/c.png",
        "clic/d.txt.png",
    ]


def test_text():
    text = sample_report().to_text()
    assert text.splitlines()[0] == "4 considered, 1 taken (1 converted), 3 refused"
    assert "  corrupt: 1" in text
    assert "taken    clic/a.png: prepared 2304×1728 PNG [converted: 16-bit RGB → 8-bit;" in text
    assert "refused  clic/c.png: duplicate: same content" in text


def test_csv_round_trip():
    rows = list(csv.reader(io.StringIO(sample_report().to_csv())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1][:3] == ["clic/a.png", "taken", ""]
    assert rows[1][5:7] == ["2304", "1728"]
    assert rows[4][3] == 'not an image, "quoted"'
    assert rows[4][4] == ""


def test_json():
    data = json.loads(sample_report().to_json())
    assert data["counts"]["taken"] == 1
    assert data["lines"][0]["status"] == "taken"
    assert data["lines"][0]["notes"][0] == "converted: 16-bit RGB → 8-bit"
    assert data["lines"][1] | {"message": ""} == {
        "source": "clic/b.png",
        "taken": False,
        "status": "refused",
        "reason_code": "corrupt",
        "message": "",
        "sha256": "b" * 64,
        "width": None,
        "height": None,
        "notes": [],
    }


def test_folder_ingest_end_to_end(tmp_path):
    good = encode(pixels(40, 40), "PNG")
    (tmp_path / "1.png").write_bytes(good)
    (tmp_path / "2.png").write_bytes(good)
    (tmp_path / "3.jpg").write_bytes(encode(pixels(40, 40, 1), "JPEG"))
    (tmp_path / "4.tif").write_text("hello")
    report = IngestReport()
    for path, outcome in prepare_many(scan_folder(tmp_path), PrepareOptions()):
        report.add(path.relative_to(tmp_path), outcome)
    assert [(line.source, line.reason_code) for line in report.lines] == [
        ("1.png", None),
        ("2.png", "duplicate"),
        ("3.jpg", "not_three_channels"),
        ("4.tif", "not_an_image"),
    ]
