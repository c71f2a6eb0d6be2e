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

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from backend.imaging import png
from backend.services.store import sha1_bytes, write_atomic
from workers.codecs.base import Codec, EncodeResult, check_rgb
from workers.codecs.errors import (
    CodecError,
    DuplicateOutputError,
    ImageTooSmallError,
    InvalidImageError,
)
from workers.codecs.provenance import ProvenanceMaker
from workers.codecs.rate import RateSpec, encode_setting_many
from workers.codecs.registry import build_codec, get_entry
from workers.codecs.results import CodedImage, Scores, Timings
from workers.metrics import WIN_SIZE, check_pair, quality

BITSTREAM_SUFFIX = ".sclc"
# Failures of the machine, not of an image: worth running the whole call again later.
RETRYABLE = (ConnectionError, TimeoutError)
# Per image of a call: its result or error (None until known); a pass's readable images.
_Outcomes = list[CodedImage | Exception | None]
_Ready = list[tuple[int, np.ndarray, float]]


def read_png(path: Path) -> np.ndarray:
    """An 8-bit RGB PNG → ``uint8 [H, W, 3]``; other kinds are refused (prepare them first)."""
    try:
        return png.decode(Path(path).read_bytes())
    except OSError as exc:
        raise InvalidImageError(f"{path}: not a readable PNG ({exc.strerror or exc})") from exc
    except png.PngError as exc:
        raise InvalidImageError(f"{path}: {exc}") from exc


def store_blind(out_dir: Path, png_data: bytes, bitstream: bytes) -> tuple[str, Path, Path]:
    """Store a reconstruction under its SHA-1 name and its bitstream beside it.

    Returns ``(blind_name, png_path, bitstream_path)``; ``out_dir/ab/abcdef….png``. A blind
    name's files, once there, are never replaced: when the PNG exists already (another job's
    output had the same bytes, or this job ran before), nothing is written, and the task decides
    which job the files are (:mod:`workers.storing`). A bitstream that another writer of the same
    PNG published first, with other bytes, is kept and this image fails
    (:class:`DuplicateOutputError`): a row never points at a bitstream that is not its own.
    """
    blind = sha1_bytes(png_data)
    shard = out_dir / blind[:2]
    png_path = shard / f"{blind}.png"
    bitstream_path = shard / f"{blind}{BITSTREAM_SUFFIX}"
    if png_path.exists():
        return blind, png_path, bitstream_path
    # The bitstream first: a PNG under a blind name always has its bitstream beside it.
    try:
        write_atomic(bitstream_path, bitstream, exclusive=True)
    except FileExistsError:
        if bitstream_path.read_bytes() != bitstream:
            raise DuplicateOutputError(
                f"reconstruction {blind} is being stored by another job (same pixels, another "
                "bitstream); its files are left to it"
            ) from None
        # This job's own bitstream, left by an earlier run of it that stopped before the PNG.
    write_atomic(png_path, png_data)
    return blind, png_path, bitstream_path


@lru_cache(maxsize=32)
def _codec(codec_id: str, weights_dir: Path | None, device: str | None) -> Codec:
    return build_codec(codec_id, weights_dir, device)


def measure_files(src_png: Path, reconstruction_png: Path) -> Scores:
    """PSNR, SSIM and MS-SSIM of a stored reconstruction against its source (the ``cpu``
    queue's part of a job)."""
    begin = time.perf_counter()
    rgb, reconstruction = read_png(Path(src_png)), read_png(Path(reconstruction_png))
    scores = quality(rgb, reconstruction)
    return Scores.of(scores, time.perf_counter() - begin)


def run_one(
    codec_id: str,
    setting: str,
    src_png: Path,
    out_dir: Path,
    device: str | None = None,
    weights_dir: Path | None = None,
    *,
    measure: bool = True,
) -> CodedImage:
    """Code ``src_png`` with codec ``codec_id`` at ``setting`` (``"low"``/``"high"``).

    Returns the stored result: paths of the bitstream and the reconstruction PNG, its blind
    name, size, bytes, bpp, the level and parameters used, what made it (device, hardware,
    versions, weights checksum), the times taken and its scores. ``device`` ``None`` picks CUDA
    when present; ``weights_dir`` ``None`` uses the default weights folder. With ``measure``
    False the scores are None, for a worker that leaves them to :func:`measure_files` on
    another.
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
) -> list[CodedImage | Exception]:
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
        index: int, rgb: np.ndarray, pair: tuple[EncodeResult, np.ndarray], made: _Made
    ) -> None:
        try:
            outcomes[index] = _store_and_measure(
                Path(out_dir), paths[index], rgb, *pair, made, measure
            )
        except Exception as exc:
            outcomes[index] = exc

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
                maker = ProvenanceMaker.of(codec.describe(), entry.paper, setting, spec.label)
                encode_s, decode_s = coded.encode_s / len(ready), coded.decode_s / len(ready)
                for (index, rgb, read_s), pair in zip(ready, coded.pairs, strict=True):
                    if isinstance(pair, Exception):
                        outcomes[index] = pair
                        continue
                    made = _Made(maker, spec.target_bpp, read_s, encode_s, decode_s)
                    storing.append(finisher.submit(finish, index, rgb, pair, made))
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
    codec: Codec, spec: RateSpec, ready: _Ready, outcomes: _Outcomes, *, alone: bool
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


@dataclass(frozen=True)
class _Made:
    """How one image of a pass was made: what the pass shares and its share of the times."""

    maker: ProvenanceMaker
    target_bpp: float | None
    read_s: float
    encode_s: float
    decode_s: float


@dataclass
class _Coded:
    """Per image, (encode result, reconstruction) or the error that image met; times in s."""

    pairs: list[tuple[EncodeResult, np.ndarray] | Exception]
    encode_s: float
    decode_s: float


def _code(codec: Codec, spec: RateSpec, rgbs: list[np.ndarray]) -> _Coded:
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
    source_png: Path,
    rgb: np.ndarray,
    result: EncodeResult,
    reconstruction: np.ndarray,
    made: _Made,
    measure: bool,
) -> CodedImage:
    check_pair(rgb, reconstruction)

    def store() -> tuple[tuple[str, Path, Path], float]:
        began = time.perf_counter()
        stored = store_blind(out_dir, png.encode(reconstruction), result.bitstream)
        return stored, time.perf_counter() - began

    scores: Scores | None = None
    if not measure:
        (blind, png_path, bitstream_path), store_s = store()
    else:
        # The PNG encoder and the metric filters each leave cores idle; run side by side.
        with ThreadPoolExecutor(1, thread_name_prefix="sclic-store") as pool:
            storing = pool.submit(store)
            began = time.perf_counter()
            scores = Scores.of(quality(rgb, reconstruction), time.perf_counter() - began)
            (blind, png_path, bitstream_path), store_s = storing.result()
    return CodedImage(
        source_png=source_png,
        blind_name=blind,
        reconstruction_path=png_path,
        bitstream_path=bitstream_path,
        width=result.width,
        height=result.height,
        level=result.level,
        bitstream_bytes=result.num_bytes,
        bpp=result.bpp,
        target_bpp=made.target_bpp,
        params=dict(result.params),
        provenance=made.maker.provenance(result.level, result.params),
        timings=Timings(made.read_s, made.encode_s, made.decode_s, store_s),
        scores=scores,
    )
