"""The per-image work of a codec task: code one prepared PNG at one setting and store the result.

:func:`run_one` reads the source PNG, encodes it at the codec's low or high setting (paper,
section 3.1), decodes it, writes the reconstruction as PNG under its blind name (the SHA-1 of the
PNG file's bytes, stored in a sub-folder named by its first two hex digits; paper, appendix 1.3)
and the bitstream beside it, and measures PSNR / SSIM / MS-SSIM and the real bpp. The codec
worker leaves the metrics to the ``cpu`` queue (:func:`measure_files`); the command line and the
benchmark measure in place. Files are written to a temporary name and renamed, so a killed worker
leaves no half-written file; running the same job twice gives the same files.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from backend.imaging import png
from backend.services.store import sha1_bytes
from workers.codecs.base import Codec, EncodeResult, check_rgb
from workers.codecs.errors import CodecError, ImageTooSmallError, InvalidImageError
from workers.codecs.rate import SettingSpec, encode_setting_many
from workers.codecs.registry import CodecEntry, build_codec, get_entry
from workers.leftovers import STALE_AFTER_S, owner_tag, remove_orphans
from workers.metrics import WIN_SIZE, Quality, check_pair, quality

BITSTREAM_SUFFIX = ".sclc"
# Failures of the machine, not of an image: worth running the whole call again later.
RETRYABLE = (ConnectionError, TimeoutError)
_TEMP_PREFIX = ".sclic-"
# Per image of a call: its result or error (None until known); a pass's readable images.
_Outcomes = list[dict[str, Any] | Exception | None]
_Ready = list[tuple[int, np.ndarray, float]]
_PACKAGES = (
    "numpy",
    "pillow",
    "pyvips",
    "opencv-python-headless",
    "zlib-ng",
    "torch",
    "compressai",
)


def read_png(path: Path) -> np.ndarray:
    """An 8-bit RGB PNG → ``uint8 [H, W, 3]``; other kinds are refused (prepare them first)."""
    try:
        return png.decode(Path(path).read_bytes())
    except OSError as exc:
        raise InvalidImageError(f"{path}: not a readable PNG ({exc.strerror or exc})") from exc
    except png.PngError as exc:
        raise InvalidImageError(f"{path}: {exc}") from exc


def _write_temp(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{_TEMP_PREFIX}{owner_tag()}@", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = _write_temp(path.parent, data)
    os.replace(tmp, path)
    return path


def store_blind(out_dir: Path, png_data: bytes, bitstream: bytes) -> tuple[str, Path, Path]:
    """Store a reconstruction under its SHA-1 name and its bitstream beside it.

    Returns ``(blind_name, png_path, bitstream_path)``; ``out_dir/ab/abcdef….png``.
    """
    blind = sha1_bytes(png_data)
    staging = _write_temp(out_dir, png_data)
    try:
        shard = out_dir / blind[:2]
        bitstream_path = write_atomic(shard / f"{blind}{BITSTREAM_SUFFIX}", bitstream)
        png_path = shard / f"{blind}.png"
        shard.mkdir(parents=True, exist_ok=True)
        os.replace(staging, png_path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return blind, png_path, bitstream_path


@lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, str], ...]:
    found = [("python", platform.python_version())]
    for package in _PACKAGES:
        try:
            found.append((package, version(package)))
        except PackageNotFoundError:
            continue
    return tuple(found)


def sweep_temp_files(out_dir: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove the temporary files killed workers left in ``out_dir``: those of a dead process
    on this host, and any older than ``older_than_s``. Returns how many."""
    paths = Path(out_dir).rglob(f"{_TEMP_PREFIX}*.tmp")
    return remove_orphans(paths, _TEMP_PREFIX, "@", older_than_s)


def library_versions(described: dict[str, Any]) -> dict[str, str]:
    """Python and package versions, plus what a codec's ``describe()`` reports."""
    versions = dict(_package_versions())
    for key, value in described.items():
        if key not in ("codec_id", "codec_name", "device"):
            versions[key] = str(value)
    return versions


@lru_cache(maxsize=32)
def _codec(codec_id: str, weights_dir: Path | None, device: str | None) -> Codec:
    return build_codec(codec_id, weights_dir, device)


def scores_dict(scores: Quality) -> dict[str, Any]:
    """The JSON-ready metric fields of a result (PSNR None, with a reason, when lossless)."""
    lossy = math.isfinite(scores.psnr)
    return {
        "psnr": scores.psnr if lossy else None,
        "psnr_reason": None if lossy else "identical to the source",
        "ssim": scores.ssim,
        "ms_ssim": scores.ms_ssim,
        "ms_ssim_reason": scores.ms_ssim_reason,
    }


def measure_files(src_png: Path, reconstruction_png: Path) -> dict[str, Any]:
    """PSNR, SSIM and MS-SSIM of a stored reconstruction against its source (the ``cpu``
    queue's part of a job), with ``metrics_s``."""
    begin = time.perf_counter()
    rgb, reconstruction = read_png(Path(src_png)), read_png(Path(reconstruction_png))
    scores = quality(rgb, reconstruction)
    return {**scores_dict(scores), "metrics_s": time.perf_counter() - begin}


def run_one(
    codec_id: str,
    setting: str,
    src_png: Path,
    out_dir: Path,
    device: str | None = None,
    weights_dir: Path | None = None,
    *,
    measure: bool = True,
) -> dict[str, Any]:
    """Code ``src_png`` with codec ``codec_id`` at ``setting`` (``"low"``/``"high"``).

    Returns a JSON-ready dict: paths of the bitstream and the reconstruction PNG, its blind
    name, size, bytes, bpp, PSNR (None for a lossless result), SSIM, MS-SSIM (or None and
    ``ms_ssim_reason``), read / encode / decode / metric / store times, device, library
    versions and the level and parameters used. ``device`` ``None`` picks CUDA when present;
    ``weights_dir`` ``None`` uses the default weights folder. With ``measure`` False the metric
    fields are left out, for a worker that leaves them to :func:`measure_files` on another.
    """
    [outcome] = run_many(
        codec_id, setting, [src_png], out_dir, device, weights_dir, measure=measure
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def run_many(
    codec_id: str,
    setting: str,
    src_pngs: Sequence[Path],
    out_dir: Path,
    device: str | None = None,
    weights_dir: Path | None = None,
    *,
    measure: bool = True,
    model_batch: int | None = None,
) -> list[dict[str, Any] | Exception]:
    """:func:`run_one` for several images; one result or error per image, in order. An
    unreadable, too small or otherwise failing image fails alone (a codec that cannot run at
    all fails each).

    Images go through the model ``model_batch`` at a time (all at once when None), images of one
    size in one pass where the codec batches. With several passes the work around the model
    runs beside it: the next pass's sources are read, and the last pass's reconstructions
    stored (and measured), while the model codes, so that on a GPU the model does not wait for
    the CPU. Encode and decode times are each pass's, shared out evenly; with several passes
    they include what the reads and stores beside them take from shared cores.

    A transient failure (:data:`RETRYABLE`) is raised for the caller to retry the whole call."""
    entry = get_entry(codec_id)
    spec = entry.setting(setting)
    codec = _codec(codec_id, Path(weights_dir) if weights_dir else None, device)
    paths = [Path(src) for src in src_pngs]
    step = max(1, model_batch or len(paths))
    passes = [range(first, min(first + step, len(paths))) for first in range(0, len(paths), step)]
    outcomes: _Outcomes = [None] * len(paths)

    def finish(
        index: int, rgb: np.ndarray, pair: tuple[EncodeResult, np.ndarray], known: dict[str, Any]
    ) -> None:
        try:
            stored = _store_and_measure(Path(out_dir), rgb, *pair, measure)
        except Exception as exc:
            outcomes[index] = exc
            return
        outcomes[index] = {**known, **stored, "source_png": str(paths[index])}

    with (
        ThreadPoolExecutor(1, thread_name_prefix="sclic-read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="sclic-finish") as finisher,
    ):

        def read_pass(number: int) -> list[Future[tuple[np.ndarray, float]]]:
            return [reader.submit(_read_source, paths[i], codec) for i in passes[number]]

        reading = read_pass(0) if passes else []
        storing: list[Future[None]] = []
        try:
            for number, indices in enumerate(passes):
                ready = _arrived(indices, reading, outcomes)
                if number + 1 < len(passes):
                    reading = read_pass(number + 1)
                coded = _code_pass(codec, spec, ready, outcomes, alone=len(paths) == 1)
                if coded is None:
                    continue
                known = _described(codec, entry, setting) | {
                    "encode_s": coded.encode_s / len(ready),
                    "decode_s": coded.decode_s / len(ready),
                }
                for (index, rgb, read_s), pair in zip(ready, coded.pairs, strict=True):
                    if isinstance(pair, Exception):
                        outcomes[index] = pair
                        continue
                    extra = {**known, "read_s": read_s}
                    storing.append(finisher.submit(finish, index, rgb, pair, extra))
        except BaseException:
            # Nothing more to start; what runs finishes (its files are whole) before this returns.
            reader.shutdown(cancel_futures=True)
            finisher.shutdown(cancel_futures=True)
            raise
        for work in storing:
            work.result()
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def _arrived(
    indices: range, reads: list[Future[tuple[np.ndarray, float]]], outcomes: _Outcomes
) -> _Ready:
    """A pass's sources as (index, pixels, read time); an image that could not be read or is
    too small gets its error in ``outcomes`` instead."""
    ready: _Ready = []
    for index, read in zip(indices, reads, strict=True):
        try:
            rgb, read_s = read.result()
        except CodecError as exc:
            outcomes[index] = exc
            continue
        ready.append((index, rgb, read_s))
    return ready


def _code_pass(
    codec: Codec, spec: SettingSpec, ready: _Ready, outcomes: _Outcomes, *, alone: bool
) -> _Coded | None:
    """Code a pass's images; None when there is nothing to store: no image, or the pass failed
    (each image gets the error). A transient failure, or any failure of a call's only image, is
    raised."""
    if not ready:
        return None
    try:
        return _code(codec, spec, [rgb for _, rgb, _ in ready])
    except RETRYABLE:
        raise
    except Exception as exc:
        if alone:
            raise
        for index, _, _ in ready:
            outcomes[index] = exc
        return None


def _read_source(path: Path, codec: Codec) -> tuple[np.ndarray, float]:
    """A source's pixels, checked for the codec and the metrics, and the time it took."""
    begin = time.perf_counter()
    rgb = check_rgb(read_png(path), codec.min_side, codec.name)
    if min(rgb.shape[:2]) < WIN_SIZE:
        raise ImageTooSmallError(
            f"{path.name}: {rgb.shape[1]}×{rgb.shape[0]} px; SSIM needs both sides ≥ {WIN_SIZE} px"
        )
    return rgb, time.perf_counter() - begin


def _described(codec: Codec, entry: CodecEntry, setting: str) -> dict[str, Any]:
    """What every result of a codec at a setting records besides its own numbers."""
    info = codec.describe()
    spec = entry.setting(setting)
    return {
        "device": str(info.get("device", "cpu")),
        "versions": library_versions(info),
        "codec_id": entry.codec_id,
        "codec_name": entry.name,
        "paper_codec": entry.paper,
        "setting": setting,
        "setting_label": spec.label,
        "target_bpp": spec.target_bpp,
    }


@dataclass
class _Coded:
    """Per image, (encode result, reconstruction) or the error that image met; times in s."""

    pairs: list[tuple[EncodeResult, np.ndarray] | Exception]
    encode_s: float
    decode_s: float


def _code(codec: Codec, spec: SettingSpec, rgbs: list[np.ndarray]) -> _Coded:
    """Encode and decode as one batch; if the batch fails (one image a codec program chokes
    on, a GPU out of memory), code each image alone so the others still get done."""
    start = time.perf_counter()
    try:
        results = encode_setting_many(codec, spec, rgbs)
        encoded = time.perf_counter()
        reconstructions = codec.decode_many([result.bitstream for result in results])
        pairs: list[tuple[EncodeResult, np.ndarray] | Exception] = list(
            zip(results, reconstructions, strict=True)
        )
        return _Coded(pairs, encoded - start, time.perf_counter() - encoded)
    except Exception:
        if len(rgbs) == 1:
            raise
    alone = _Coded([], 0.0, 0.0)
    for rgb in rgbs:
        try:
            coded = _code(codec, spec, [rgb])
        except Exception as exc:
            alone.pairs.append(exc)
            continue
        alone.pairs += coded.pairs
        alone.encode_s += coded.encode_s
        alone.decode_s += coded.decode_s
    return alone


def codes_in_batches(codec_id: str) -> bool:
    """Whether the codec codes several images in one pass (else a batch is a loop)."""
    return get_entry(codec_id).implemented and _codec(codec_id, None, None).batches


def _store_and_measure(
    out_dir: Path,
    rgb: np.ndarray,
    result: EncodeResult,
    reconstruction: np.ndarray,
    measure: bool,
) -> dict[str, Any]:
    check_pair(rgb, reconstruction)

    def store() -> tuple[tuple[str, Path, Path], float]:
        began = time.perf_counter()
        stored = store_blind(out_dir, png.encode(reconstruction), result.bitstream)
        return stored, time.perf_counter() - began

    measured: dict[str, Any] = {}
    if not measure:
        (blind, png_path, bitstream_path), store_s = store()
    else:
        # The PNG encoder and the metric filters each leave cores idle; run side by side.
        with ThreadPoolExecutor(1, thread_name_prefix="sclic-store") as pool:
            storing = pool.submit(store)
            began = time.perf_counter()
            scores = quality(rgb, reconstruction)
            measured = {**scores_dict(scores), "metrics_s": time.perf_counter() - began}
            (blind, png_path, bitstream_path), store_s = storing.result()
    return {
        "level": result.level,
        "params": result.params,
        "bitstream_path": str(bitstream_path),
        "reconstruction_path": str(png_path),
        "blind_name": blind,
        "width": result.width,
        "height": result.height,
        "bitstream_bytes": result.num_bytes,
        "bpp": result.bpp,
        **measured,
        "store_s": store_s,
    }
