"""PNGs written and read in strips: valid files any decoder reads, exact pixels, the same bytes
always, and every other or damaged file left to libvips."""

from __future__ import annotations

import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import pyvips
from PIL import Image

from backend.imaging import png
from backend.imaging.png import STRIP_ROWS, STRIPS_CHUNK, PngError, decode, encode


def noisy(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width, dtype=np.float64)[None, :, None]
    image = ramp + rng.normal(0, 20, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, at = [], 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        out.append((kind, data[at + 8 : at + 8 + length]))
        at += 12 + length
    return out


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png._chunk(kind, body) for kind, body in parts)


def replace_chunk(data: bytes, kind: bytes, body: bytes) -> bytes:
    return assemble([(k, body if k == kind else b) for k, b in chunks(data)])


def strip_file(raws: list[bytes], width: int, height: int, strip_rows: int = STRIP_ROWS) -> bytes:
    """A file laid out as :func:`encode` lays it out, around strips filtered by the caller: a
    forgery that differs from a real one only where a test says."""
    pieces = []
    for number, raw in enumerate(raws):
        deflate = zlib.compressobj(2, zlib.DEFLATED, -15)
        last = number == len(raws) - 1
        pieces.append(
            deflate.compress(raw) + deflate.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
        )
    adler = 1
    for raw in raws:
        adler = zlib.adler32(raw, adler)
    lengths = struct.pack(f">II{len(pieces)}I", strip_rows, len(pieces), *map(len, pieces))
    return assemble(
        [
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
            (STRIPS_CHUNK, lengths),
            (b"IDAT", b"\x78\x5e" + b"".join(pieces) + struct.pack(">I", adler)),
            (b"IEND", b""),
        ]
    )


def filtered_strips(rgb: np.ndarray, strip_rows: int = STRIP_ROWS) -> list[bytes]:
    rows = rgb.reshape(rgb.shape[0], -1)
    height = rgb.shape[0]
    return [
        png._filtered(rows, s, min(s + strip_rows, height)) for s in range(0, height, strip_rows)
    ]


def test_a_forgery_built_like_the_writer_is_read_by_the_strip_decoder() -> None:
    """The control for the forgeries below: each differs from this in one respect only."""
    rgb = noisy(2 * STRIP_ROWS + 9, 31, seed=6)
    data = strip_file(filtered_strips(rgb), 31, rgb.shape[0])
    assert np.array_equal(png._decode_strips(data), rgb)


@pytest.fixture
def no_libvips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if a read goes past the strip decoder."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the file was handed to libvips")

    monkeypatch.setattr(pyvips.Image, "new_from_buffer", refuse)


@pytest.mark.parametrize(
    ("height", "width"),
    [(1, 1), (1, 7), (9, 1), (STRIP_ROWS, 33), (STRIP_ROWS + 1, 33), (3 * STRIP_ROWS - 1, 130)],
)
def test_pixels_come_back_exactly_in_pillow_libvips_and_the_strip_decoder(
    height: int, width: int
) -> None:
    rgb = noisy(height, width)
    data = encode(rgb)
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()  # checks every chunk's CRC and the zlib stream's Adler-32
        assert decoded.mode == "RGB" and decoded.size == (width, height)
        assert np.array_equal(np.asarray(decoded), rgb)
    assert np.array_equal(pyvips.Image.new_from_buffer(data, "", fail=True).numpy(), rgb)
    assert np.array_equal(png._decode_strips(data), rgb)


def test_files_it_wrote_never_reach_libvips(no_libvips: None) -> None:
    rgb = noisy(2 * STRIP_ROWS + 5, 77, seed=4)
    assert np.array_equal(decode(encode(rgb)), rgb)


def test_extreme_values_survive_the_filters() -> None:
    rgb = np.zeros((2 * STRIP_ROWS + 3, 41, 3), np.uint8)
    rgb[::2] = 255
    rgb[:, ::3, 1] = 255
    data = encode(rgb)
    with Image.open(io.BytesIO(data)) as decoded:
        assert np.array_equal(np.asarray(decoded), rgb)
    assert np.array_equal(decode(data), rgb)


def test_same_bytes_whatever_the_number_of_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = noisy(5 * STRIP_ROWS + 17, 97, seed=3)
    many = encode(rgb)
    assert encode(rgb.copy()) == many
    monkeypatch.setattr(png, "_pool", lambda: ThreadPoolExecutor(1))
    assert encode(rgb) == many
    assert np.array_equal(decode(many), rgb)


def test_a_non_contiguous_view_is_written_as_its_pixels() -> None:
    rgb = noisy(70, 90)
    view = rgb[5:60:2, 10:80]
    with Image.open(io.BytesIO(encode(view))) as decoded:
        assert np.array_equal(np.asarray(decoded), view)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_refuses_what_is_not_8_bit_rgb(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode(bad)


@pytest.mark.parametrize("writer", ["pillow", "libvips"])
def test_other_pngs_are_read_through_libvips(writer: str) -> None:
    rgb = noisy(150, 61, seed=1)
    if writer == "pillow":
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        data = pyvips.Image.new_from_array(rgb).pngsave_buffer(filter="all")
    with pytest.raises(png._NotStrips):
        png._decode_strips(data)
    assert np.array_equal(decode(data), rgb)


def test_a_strips_chunk_that_does_not_match_the_pixels_is_ignored() -> None:
    """An editor that rewrote the pixels but kept the chunk: libvips reads the real pixels."""
    rgb = noisy(3 * STRIP_ROWS, 40, seed=2)
    data = encode(rgb)
    (body,) = [b for k, b in chunks(data) if k == STRIPS_CHUNK]
    rows, count = struct.unpack_from(">II", body)
    lengths = list(struct.unpack_from(f">{count}I", body, 8))
    lengths[0], lengths[1] = lengths[0] + 1, lengths[1] - 1
    shifted = replace_chunk(data, STRIPS_CHUNK, struct.pack(f">II{count}I", rows, count, *lengths))
    assert np.array_equal(decode(shifted), rgb)
    # The same pixels with another filter (None on every row), in a layout that fits them.
    unfiltered = [
        b"".join(b"\x00" + bytes(row) for row in rgb[s : s + STRIP_ROWS].reshape(-1, 40 * 3))
        for s in range(0, rgb.shape[0], STRIP_ROWS)
    ]
    forged = strip_file(unfiltered, 40, rgb.shape[0])
    assert png.decode_strips(forged) is None
    assert np.array_equal(decode(forged), rgb)


def test_more_data_in_a_strip_than_its_rows_is_not_inflated() -> None:
    """A piece that inflates past its strip's size stops there: a few kilobytes claiming 50 MB
    never become 50 MB in memory."""
    import tracemalloc

    rgb = noisy(STRIP_ROWS, 8)
    [raw] = filtered_strips(rgb)
    bomb = strip_file([raw + bytes(50_000_000)], 8, STRIP_ROWS)
    assert len(bomb) < 300_000
    tracemalloc.start()
    try:
        assert png.decode_strips(bomb) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


@pytest.mark.parametrize(
    "damage",
    ["flipped pixel byte", "truncated", "not a png", "empty"],
)
def test_damaged_files_get_a_clear_error(damage: str) -> None:
    data = encode(noisy(100, 50))
    idat_at = data.index(b"IDAT") + 4
    broken = {
        "flipped pixel byte": data[: idat_at + 40]
        + bytes([data[idat_at + 40] ^ 0xFF])
        + data[idat_at + 41 :],
        "truncated": data[: len(data) // 2],
        "not a png": b"GIF89a" + bytes(100),
        "empty": b"",
    }[damage]
    with pytest.raises(PngError, match="not a readable PNG"):
        decode(broken)


def test_grey_and_16_bit_pngs_are_refused() -> None:
    grey = pyvips.Image.new_from_array(np.zeros((20, 20), np.uint8)).pngsave_buffer()
    with pytest.raises(PngError, match="1 band"):
        decode(grey)
    deep = pyvips.Image.new_from_array(np.zeros((20, 20, 3), np.uint16)).copy(
        interpretation="rgb16"
    )
    with pytest.raises(PngError, match="expected 8-bit RGB"):
        decode(deep.pngsave_buffer())


def test_chunks_out_of_order_are_left_to_libvips() -> None:
    rgb = noisy(70, 33)
    parts = chunks(encode(rgb))
    kinds = [kind for kind, _ in parts]
    assert kinds == [b"IHDR", STRIPS_CHUNK, b"IDAT", b"IEND"]
    reordered = assemble([parts[0], parts[2], parts[1], parts[3]])
    assert png.decode_strips(reordered) is None
    assert np.array_equal(decode(reordered), rgb)


def test_a_piece_cut_inside_a_deflate_block_is_refused() -> None:
    """A stored block that claims more bytes than its piece holds runs on into the next piece:
    inflated alone it looks complete, inflated as the one stream it is, it is garbage."""
    rgb = noisy(STRIP_ROWS + 3, 20, seed=5)
    rows = rgb.reshape(rgb.shape[0], -1)
    first = png._filtered(rows, 0, STRIP_ROWS)
    second = png._filtered(rows, STRIP_ROWS, rgb.shape[0])
    claimed = len(first) + 7
    cut = b"\x00" + struct.pack("<HH", claimed, claimed ^ 0xFFFF) + first
    rest = png._deflated(rows, STRIP_ROWS, rgb.shape[0], True)[1]
    adler = zlib.adler32(second, zlib.adler32(first))
    parts = chunks(encode(rgb))
    data = assemble(
        [
            parts[0],
            (STRIPS_CHUNK, struct.pack(">IIII", STRIP_ROWS, 2, len(cut), len(rest))),
            (b"IDAT", b"\x78\x5e" + cut + rest + struct.pack(">I", adler)),
            parts[3],
        ]
    )
    assert png.decode_strips(data) is None
    with pytest.raises(PngError, match="not a readable PNG"):
        decode(data)


def test_other_strip_heights_are_left_to_libvips() -> None:
    rgb = noisy(50, 9)
    data = strip_file(filtered_strips(rgb, 20), 9, 50, strip_rows=20)
    assert png.decode_strips(data) is None
    assert np.array_equal(decode(data), rgb)
