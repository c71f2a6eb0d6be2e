"""``run_one``: the per-image work a codec task does, with blind-named, atomic outputs."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workers.codecs.tolerance import assert_close_reconstruction
from workers.codecs.errors import DuplicateOutputError, ImageTooSmallError, InvalidImageError
from workers.codecs.pipeline import BITSTREAM_SUFFIX, read_png, run_many, run_one, store_blind
from workers.codecs.registry import build_codec
from workers.codecs.results import CodedImage


@pytest.fixture()
def src_png(tmp_path: Path) -> Path:
    from skimage import data

    path = tmp_path / "src.png"
    Image.fromarray(np.ascontiguousarray(data.coffee()[:192, 100:356])).save(path)
    return path


@pytest.mark.parametrize(("codec_id", "setting"), [("90", "high"), ("91", "low")])
def test_run_one(codec_id: str, setting: str, src_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    row = run_one(codec_id, setting, src_png, out, device="cpu")
    png, stream = row.reconstruction_path, row.bitstream_path
    assert png == out / row.blind_name[:2] / f"{row.blind_name}.png"
    assert hashlib.sha1(png.read_bytes()).hexdigest() == row.blind_name
    assert stream.stat().st_size == row.bitstream_bytes
    assert (row.width, row.height) == (256, 192)
    assert row.bpp == 8 * row.bitstream_bytes / (256 * 192)
    assert row.scores is not None and row.scores.ms_ssim is not None
    assert 0 < row.scores.ssim <= 1 and row.scores.psnr is not None and row.scores.psnr > 15
    assert row.device == "cpu" and row.source_png == src_png
    assert row.provenance.versions["pillow"]
    assert row.timings.encode_s > 0 and row.timings.decode_s > 0

    codec = build_codec(codec_id, device="cpu")
    assert np.array_equal(codec.decode(stream.read_bytes()), read_png(png))

    again = run_one(codec_id, setting, src_png, out, device="cpu")
    assert again.blind_name == row.blind_name
    files = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert files == sorted([png.name, stream.name])


def test_small_image_has_no_ms_ssim(tmp_path: Path) -> None:
    src = tmp_path / "small.png"
    Image.fromarray(np.full((128, 96, 3), 120, np.uint8)).save(src)
    scores = run_one("91", "high", src, tmp_path / "out").scores
    assert scores is not None and scores.ms_ssim is None
    assert scores.ms_ssim_reason is not None and "160" in scores.ms_ssim_reason


def test_run_many_fails_only_the_bad_image_and_matches_run_one(tmp_path: Path) -> None:
    from skimage import data

    photo = data.astronaut()
    paths = []
    for name, rgb in (
        ("a", photo[:192, :256]),
        ("tiny", photo[:40, :40]),
        ("b", photo[192:384, 256:]),
        ("broken", None),
    ):
        path = tmp_path / f"{name}.png"
        if rgb is None:
            path.write_bytes(b"\x89PNG not really")
        else:
            Image.fromarray(np.ascontiguousarray(rgb)).save(path)
        paths.append(path)
    out = tmp_path / "out"
    first, tiny, second, broken = run_many("90", "low", paths, out, device="cpu")
    assert isinstance(tiny, ImageTooSmallError) and "64" in str(tiny)
    assert isinstance(broken, InvalidImageError)
    assert isinstance(first, CodedImage) and isinstance(second, CodedImage)
    assert first.params["batch"] == 2 and first.scores and first.scores.ms_ssim is not None
    alone = run_one("90", "low", paths[0], tmp_path / "alone", device="cpu")
    assert alone.params["batch"] == 1
    # One batch of two or the image alone: the same bytes on the CPUs tried, but a CPU whose
    # batched convolutions round otherwise may round a latent the other way.
    assert_close_reconstruction(
        read_png(first.reconstruction_path), read_png(alone.reconstruction_path)
    )


def test_a_failing_batch_is_coded_image_by_image(tmp_path: Path, monkeypatch) -> None:
    from skimage import data

    from workers.codecs.neural import HyperpriorCodec

    whole_batch = HyperpriorCodec.encode_many

    def out_of_memory_for_batches(self, rgbs, level):  # type: ignore[no-untyped-def]
        if len(rgbs) > 1:
            raise RuntimeError("CUDA out of memory")
        return whole_batch(self, rgbs, level)

    monkeypatch.setattr(HyperpriorCodec, "encode_many", out_of_memory_for_batches)
    paths = []
    for i, rgb in enumerate((data.astronaut()[:192, :256], data.astronaut()[192:384, 256:])):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.ascontiguousarray(rgb)).save(paths[-1])
    rows = run_many("90", "low", paths, tmp_path / "out", device="cpu", measure=False)
    assert [type(row) for row in rows] == [CodedImage, CodedImage]
    assert [row.params["batch"] for row in rows] == [1, 1]  # type: ignore[union-attr]


def photo_crops(folder: Path, count: int) -> list[Path]:
    """``count`` different 192 × 256 crops of a photograph, written as prepare writes them."""
    from skimage import data

    from backend.imaging import png

    photo = data.astronaut()
    paths = []
    for i in range(count):
        paths.append(folder / f"crop-{i}.png")
        crop = np.ascontiguousarray(photo[32 * i : 32 * i + 192, 40 * i : 40 * i + 256])
        paths[-1].write_bytes(png.encode(crop))
    return paths


def test_images_streamed_one_at_a_time_match_each_coded_alone(tmp_path: Path) -> None:
    paths = photo_crops(tmp_path, 3)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    mixed = [paths[0], broken, paths[1], paths[2]]
    rows = run_many("90", "high", mixed, tmp_path / "out", device="cpu", model_batch=1)
    assert isinstance(rows[1], InvalidImageError)
    for path, row in zip(paths, (rows[0], rows[2], rows[3]), strict=True):
        assert isinstance(row, CodedImage) and row.params["batch"] == 1
        alone = run_one("90", "high", path, tmp_path / "alone", device="cpu")
        # One image per model pass either way: the same computation, so the same bytes.
        assert row.blind_name == alone.blind_name and row.source_png == path
        assert row.bitstream_path.read_bytes() == alone.bitstream_path.read_bytes()
        assert row.scores == dataclasses.replace(
            alone.scores,  # type: ignore[arg-type]
            metrics_s=row.scores.metrics_s,  # type: ignore[union-attr]
        )
        assert row.timings.read_s > 0 and row.timings.encode_s > 0


def test_passes_of_two_and_a_failing_store_fail_only_that_image(
    tmp_path: Path, monkeypatch
) -> None:
    from workers.codecs import pipeline

    paths = photo_crops(tmp_path, 3)
    real_store = pipeline.store_blind
    stored: list[str] = []

    def disk_full_for_the_second(out_dir, png_data, bitstream):  # type: ignore[no-untyped-def]
        stored.append("x")
        if len(stored) == 2:
            raise OSError(28, "No space left on device")
        return real_store(out_dir, png_data, bitstream)

    monkeypatch.setattr(pipeline, "store_blind", disk_full_for_the_second)
    rows = run_many(
        "90", "low", paths, tmp_path / "out", device="cpu", measure=False, model_batch=2
    )
    assert [type(row) for row in rows] == [CodedImage, OSError, CodedImage]
    assert [row.params["batch"] for row in (rows[0], rows[2])] == [2, 1]  # type: ignore[union-attr]


def test_a_transient_failure_is_raised_for_the_whole_call(tmp_path: Path, monkeypatch) -> None:
    """A machine's failure (here a timeout) is no verdict on an image: the caller retries."""
    from workers.codecs import pipeline

    paths = photo_crops(tmp_path, 2)

    def timed_out(codec, spec, rgbs):  # type: ignore[no-untyped-def]
        raise TimeoutError("the GPU driver did not answer")

    monkeypatch.setattr(pipeline, "_code", timed_out)
    with pytest.raises(TimeoutError):
        run_many("90", "low", paths, tmp_path / "out", device="cpu", model_batch=1)
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_reading_and_storing_run_beside_the_model(tmp_path: Path, monkeypatch) -> None:
    """While pass k is on the model, pass k+1's source is read and pass k-1's result stored.

    No clock decides it: the model's pass k waits until pass k+1's read has begun, and the store
    of pass k until the model has begun pass k+1. A pipeline that did these one after the other
    would make each wait in vain (for a minute) and the order checks below fail.
    """
    import threading

    from workers.codecs import pipeline

    patience_s = 60.0
    paths = photo_crops(tmp_path, 3)
    events: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    began = {(kind, i): threading.Event() for kind in ("read", "code") for i in range(3)}
    order = {str(path): i for i, path in enumerate(paths)}

    def log(kind: str, index: int, edge: str) -> None:
        with lock:
            events.append((kind, index, edge))
        if edge == "start" and (kind, index) in began:
            began[kind, index].set()

    real_read, real_code, real_store = pipeline.read_png, pipeline._code, pipeline.store_blind
    coding = iter(range(len(paths)))

    def read(path):  # type: ignore[no-untyped-def]
        log("read", order[str(path)], "start")
        return real_read(path)

    def code_beside_the_next_read(codec, spec, rgbs):  # type: ignore[no-untyped-def]
        index = next(coding)
        log("code", index, "start")
        if index + 1 < len(paths):
            began["read", index + 1].wait(patience_s)
        result = real_code(codec, spec, rgbs)
        log("code", index, "end")
        return result

    def store_beside_the_next_pass(out_dir, png_data, bitstream):  # type: ignore[no-untyped-def]
        index = len([e for e in events if e[:1] == ("store",)]) // 2
        log("store", index, "start")
        if index + 1 < len(paths):
            began["code", index + 1].wait(patience_s)
        stored = real_store(out_dir, png_data, bitstream)
        log("store", index, "end")
        return stored

    monkeypatch.setattr(pipeline, "read_png", read)
    monkeypatch.setattr(pipeline, "_code", code_beside_the_next_read)
    monkeypatch.setattr(pipeline, "store_blind", store_beside_the_next_pass)
    rows = run_many(
        "90", "low", paths, tmp_path / "out", device="cpu", measure=False, model_batch=1
    )
    assert all(isinstance(row, CodedImage) for row in rows)
    at = {event: position for position, event in enumerate(events)}
    assert at[("code", 0, "start")] < at[("read", 2, "start")]  # a pass ahead, not all at once
    assert at[("read", 1, "start")] < at[("code", 0, "end")]
    assert at[("read", 2, "start")] < at[("code", 1, "end")]
    assert at[("code", 1, "start")] < at[("store", 0, "end")]
    assert at[("code", 2, "start")] < at[("store", 1, "end")]


def test_image_too_small_for_the_metrics_stores_nothing(tmp_path: Path) -> None:
    src = tmp_path / "tiny.png"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(src)
    with pytest.raises(ImageTooSmallError, match="≥ 11 px"):
        run_one("91", "low", src, tmp_path / "out")
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_non_rgb_source_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "grey.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(src)
    with pytest.raises(InvalidImageError, match="1 band"):
        run_one("91", "low", src, tmp_path / "out")


def test_a_second_store_of_the_same_pixels_writes_nothing(tmp_path: Path) -> None:
    """Two jobs whose PNGs are byte-identical share a blind name: the second one's bitstream
    must not replace the first reconstruction's before its job fails (issue 11, 6.2)."""
    png_data = b"the same reconstruction"
    blind, png_path, bitstream_path = store_blind(tmp_path, png_data, b"bitstream of the low job")
    assert bitstream_path == png_path.with_suffix(BITSTREAM_SUFFIX)
    modified = png_path.stat().st_mtime_ns, bitstream_path.stat().st_mtime_ns
    again = store_blind(tmp_path, png_data, b"the high job's other bitstream")
    assert again == (blind, png_path, bitstream_path)
    assert bitstream_path.read_bytes() == b"bitstream of the low job"
    assert (png_path.stat().st_mtime_ns, bitstream_path.stat().st_mtime_ns) == modified
    assert sorted(p.name for p in png_path.parent.iterdir()) == [png_path.name, bitstream_path.name]


def test_a_bitstream_published_first_by_another_writer_is_kept(tmp_path: Path) -> None:
    """Two writers of the same pixels at once: the one whose bitstream got there first keeps
    it; the other fails and writes no PNG. Its own bitstream, left by an earlier run of the
    same job that stopped before the PNG, is taken as it is."""
    png_data = b"the same reconstruction"
    blind = hashlib.sha1(png_data).hexdigest()
    shard = tmp_path / blind[:2]
    shard.mkdir()
    bitstream_path = shard / f"{blind}{BITSTREAM_SUFFIX}"
    bitstream_path.write_bytes(b"the other writer's bitstream")
    with pytest.raises(DuplicateOutputError, match="being stored by another job"):
        store_blind(tmp_path, png_data, b"this writer's bitstream")
    assert bitstream_path.read_bytes() == b"the other writer's bitstream"
    assert [p.name for p in shard.iterdir()] == [bitstream_path.name]
    _, png_path, _ = store_blind(tmp_path, png_data, b"the other writer's bitstream")
    assert png_path.read_bytes() == png_data
