"""Ingest into the store and the database: taken files stored whole, refused ones not at all."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from backend.demo import png_bytes
from backend.ingest.prepare import PrepareOptions
from backend.models import SourceDataset, SourceImage
from backend.services import ingest_db
from backend.services.store import absolute, store_root
from tests.ingest.factories import encode, png16, png_bomb
from tests.utils.factories import photo


def gradient(width: int, height: int) -> np.ndarray:
    """A smooth RGB image that compresses well, so large test files stay cheap."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    return np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1).astype(np.uint8)


def write_corpus(folder: Path) -> dict[str, bytes]:
    """One file per case the paper's preparation meets (section 3.1)."""
    astronaut = photo("astronaut")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    jpeg = encode(photo("coffee"), "JPEG", quality=90)
    files = {
        "astronaut.png": png_bytes(astronaut),
        "sub/coffee.jpg": jpeg,
        "big.png": png_bytes(gradient(2500, 1700)),
        "gray.png": encode(photo("camera"), "PNG"),
        "rgba.png": encode(rgba, "PNG", mode="RGBA"),
        "deep.png": png16(gradient(64, 48).astype(np.uint16) * 257),
        "broken.jpg": jpeg[: len(jpeg) // 2],
        "bomb.png": png_bomb(),
        "copy-of-astronaut.png": png_bytes(astronaut),
        "notes.png": b"these are notes, not an image\n",
        "tiny.png": encode(gradient(10, 10), "PNG"),
    }
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def stored_files() -> list[Path]:
    return sorted(p for p in store_root().rglob("*") if p.is_file())


@pytest.fixture()
def corpus(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    folder = tmp_path / "incoming"
    return folder, write_corpus(folder)


def run_folder(session, folder: Path, name: str = "test-set", convert: bool = False):
    dataset = ingest_db.dataset_for(session, name, None)
    options = ingest_db.prepare_options(dataset, ingest_db.IngestOptions(convert=convert))
    return ingest_db.ingest_files(session, dataset, ingest_db.folder_files(folder), options)


def test_folder_ingest_takes_good_files_and_explains_the_rest(session, corpus):
    folder, files = corpus
    report = run_folder(session, folder)
    reasons = {line.source: line.reason_code for line in report.lines}
    assert reasons == {
        "astronaut.png": None,
        "big.png": None,
        "bomb.png": "decompression_bomb",
        "broken.jpg": "corrupt",
        "copy-of-astronaut.png": "duplicate",
        "deep.png": "not_eight_bit",
        "gray.png": "not_three_channels",
        "notes.png": "not_an_image",
        "rgba.png": "not_three_channels",
        "sub/coffee.jpg": None,
        "tiny.png": "too_small",
    }
    rows = session.exec(select(SourceImage).order_by(SourceImage.id)).all()
    assert [r.original_name for r in rows] == ["astronaut.png", "big.png", "sub/coffee.jpg"]
    for row in rows:
        assert row.width % 16 == 0 and row.height % 16 == 0
        assert max(row.width, row.height) <= 2304
        original = absolute(row.original_path).read_bytes()
        assert original == files[row.original_name]
        assert hashlib.sha256(original).hexdigest() == row.original_sha256
        assert absolute(row.prepared_path).is_file()
    big = next(r for r in rows if r.original_name == "big.png")
    assert big.width == 2304 and "downscaled" in big.notes
    assert len(stored_files()) == 2 * len(rows)


def test_a_second_run_stores_nothing_twice(session, corpus):
    folder, _ = corpus
    run_folder(session, folder)
    before = stored_files()
    again = run_folder(session, folder)
    assert again.counts()["taken"] == 0
    assert {line.reason_code for line in again.lines if line.source == "astronaut.png"} == {
        "duplicate"
    }
    assert len(session.exec(select(SourceImage)).all()) == 3
    assert stored_files() == before


def test_convert_takes_faithful_conversions_on_a_rerun(session, corpus):
    folder, _ = corpus
    run_folder(session, folder)
    report = run_folder(session, folder, convert=True)
    taken = {line.source for line in report.taken}
    assert taken == {"gray.png", "deep.png"}
    assert all(any(n.startswith("converted:") for n in line.notes) for line in report.taken)
    # The opaque RGBA file is the astronaut once its alpha is dropped: same pixels, refused.
    rgba = next(line for line in report.lines if line.source == "rgba.png")
    assert rgba.reason_code == "duplicate" and "same pixels" in rgba.message


def test_same_pixels_from_another_file_are_refused_without_storing(session, tmp_path):
    folder = tmp_path / "twins"
    folder.mkdir()
    rgb = photo("astronaut")
    (folder / "a.png").write_bytes(png_bytes(rgb))
    (folder / "b.png").write_bytes(encode(rgb, "PNG", compress_level=1))
    report = run_folder(session, folder)
    assert [line.reason_code for line in report.lines] == [None, "duplicate"]
    assert "same pixels" in report.lines[1].message
    assert len(stored_files()) == 2


def test_dataset_keeps_its_first_scale(session):
    ingest_db.dataset_for(session, "RAISE", 0.4)
    with pytest.raises(ingest_db.IngestError, match="same scale"):
        ingest_db.dataset_for(session, "RAISE", 0.5)
    assert ingest_db.dataset_for(session, "RAISE", None).scale == 0.4
    with pytest.raises(ingest_db.IngestError):
        ingest_db.dataset_for(session, "../etc", None)
    with pytest.raises(ingest_db.IngestError):
        ingest_db.dataset_for(session, "x", 1.5)


def test_cli_prints_the_report_and_exits_zero(session, corpus):
    from backend.cli import app

    folder, _ = corpus
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "--dataset", "DIV2K", "--no-recursive"]
    )
    assert result.exit_code == 0, result.output
    assert "taken    astronaut.png" in result.stdout
    assert "refused  bomb.png: decompression_bomb" in result.stdout
    assert "sub/coffee.jpg" not in result.stdout
    session.expire_all()
    dataset = session.exec(select(SourceDataset).where(SourceDataset.name == "DIV2K")).one()
    assert dataset.scale is None
    again = CliRunner().invoke(app, ["ingest", str(folder), "--dataset", "DIV2K"])
    assert again.exit_code == 0
    assert "refused  astronaut.png: duplicate" in again.stdout


def test_cli_refuses_a_bad_scale(session, corpus):
    from backend.cli import app

    folder, _ = corpus
    result = CliRunner().invoke(app, ["ingest", str(folder), "--dataset", "X", "--scale", "0"])
    assert result.exit_code == 2
    assert session.exec(select(SourceImage)).all() == []


def test_prepare_options_follow_settings(session):
    dataset = ingest_db.dataset_for(session, "RAISE", 0.4)
    options = ingest_db.prepare_options(dataset, ingest_db.IngestOptions())
    assert options == PrepareOptions(scale=0.4, max_pixels=200_000_000, max_bytes=512 * 2**20)
