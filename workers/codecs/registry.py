"""The one registry of codecs: typed entries for the paper's C1–C6 and the extra codecs.

Ids ``"01"``–``"06"`` are the paper's C1–C6 (section 3.1); two-digit ids from ``"90"`` are extra
codecs (a small demo neural codec and conventional controls). Each entry has a low and a high
:class:`~workers.codecs.rate.RateSpec` aiming at about 0.25 and 0.75 bpp.

Importing this module, listing entries and checking availability need neither torch nor
CompressAI; only :func:`build_codec` for a neural entry imports them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from workers.codecs.base import Availability, Codec
from workers.codecs.checkpoints import CheckpointSpec, checkpoints_available
from workers.codecs.errors import NotImplementedCodecError
from workers.codecs.rate import RateSpec
from workers.codecs.zoo import QUALITIES, channels, hyperprior_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEMO_STEM = "sclic-demo-hyperprior"
DEMO_LEVELS: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class BuildContext:
    """Where a codec finds its weights and which device it runs on (``None``: CUDA if present)."""

    weights_dir: Path
    device: str | None = None
    demo_weights_dir: Path = DEMO_WEIGHTS_DIR


@dataclass(frozen=True)
class CodecEntry:
    """A registered codec: identity, the paper's settings, provenance and how to build it.

    ``build`` is ``None`` for codecs registered but not implemented in this build.
    """

    codec_id: str
    name: str
    family: str
    paper: str
    settings: Mapping[str, RateSpec]
    source: str
    check: Callable[[BuildContext], Availability]
    build: Callable[[BuildContext], Codec] | None = None
    note: str = ""

    @property
    def implemented(self) -> bool:
        return self.build is not None

    def setting(self, key: str) -> RateSpec:
        if key not in self.settings:
            raise KeyError(f"codec {self.codec_id}: setting must be one of {list(self.settings)}")
        return self.settings[key]


def default_weights_dir() -> Path:
    """``SCLIC_WEIGHTS_DIR``, else the platform settings' weights folder (``data/weights``)."""
    if os.environ.get("SCLIC_WEIGHTS_DIR"):
        return Path(os.environ["SCLIC_WEIGHTS_DIR"])
    try:
        from backend.core.config import get_settings
    except ImportError:
        return REPO_ROOT / "data" / "weights"
    return get_settings().effective_weights_dir


def _torch_stack() -> Availability:
    absent = [name for name in ("torch", "compressai") if find_spec(name) is None]
    if absent:
        return Availability.no(f"Python packages {', '.join(absent)} (pip install 'sclic[codecs]')")
    return Availability.yes()


C1_QUALITIES: tuple[int, ...] = (3, 7)


def _zoo_specs(metric: str) -> dict[int, CheckpointSpec]:
    """C1 runs at fixed α = 3 / 7 only; C2 rate-matches over all eight qualities."""
    qualities = C1_QUALITIES if metric == "mse" else QUALITIES
    return {q: hyperprior_checkpoint(metric, q) for q in qualities}


def _demo_specs() -> dict[int, CheckpointSpec]:
    return {level: CheckpointSpec(stem=f"{DEMO_STEM}-{level}") for level in DEMO_LEVELS}


def _hyperprior_check(
    specs: Callable[[], Mapping[int, CheckpointSpec]], folder: Callable[[BuildContext], Path]
) -> Callable[[BuildContext], Availability]:
    def check(ctx: BuildContext) -> Availability:
        stack = _torch_stack()
        return stack if not stack.ok else checkpoints_available(folder(ctx), specs().values())

    return check


def _zoo_builder(codec_id: str, name: str, metric: str) -> Callable[[BuildContext], Codec]:
    def build(ctx: BuildContext) -> Codec:
        from workers.codecs.neural import HyperpriorCodec

        specs = _zoo_specs(metric)
        return HyperpriorCodec(
            codec_id,
            name,
            specs,
            ctx.weights_dir,
            ctx.device,
            channels={q: channels(q) for q in specs},
        )

    return build


def _build_demo(ctx: BuildContext) -> Codec:
    from workers.codecs.neural import HyperpriorCodec

    return HyperpriorCodec("90", _DEMO_NAME, _demo_specs(), ctx.demo_weights_dir, ctx.device)


def _pillow_builder(codec_id: str, name: str, fmt: str) -> Callable[[BuildContext], Codec]:
    def build(ctx: BuildContext) -> Codec:
        from workers.codecs.controls import PillowCodec

        return PillowCodec(codec_id, name, fmt)

    return build


def _external_builder(config_name: str) -> Callable[[BuildContext], Codec]:
    def build(ctx: BuildContext) -> Codec:
        from workers.codecs.external import load_builtin

        return load_builtin(config_name)

    return build


def _check_by_building(
    build: Callable[[BuildContext], Codec],
) -> Callable[[BuildContext], Availability]:
    def check(ctx: BuildContext) -> Availability:
        return build(ctx).available()

    return check


def _not_implemented(name: str, needs: str) -> Callable[[BuildContext], Availability]:
    def check(ctx: BuildContext) -> Availability:
        return Availability.no(f"not implemented yet in this build (later work): {name}; {needs}")

    return check


def _target(label: str, bpp: float) -> RateSpec:
    return RateSpec(label, target_bpp=bpp)


_RATES = {"low": _target("0.25 bpp", 0.25), "high": _target("0.75 bpp", 0.75)}
_DEMO_NAME = "Demo hyperprior (sclic-trained, small)"
_C1_NAME = "Hyperprior MSE (bmshj2018-hyperprior, CompressAI zoo)"
_C2_NAME = "Hyperprior MS-SSIM (bmshj2018-hyperprior, CompressAI zoo)"
_ZOO_SOURCE = (
    "CompressAI 1.2.8 model zoo, {metric} checkpoints {example}; put the zoo files in the "
    "weights folder (the paper used TensorFlow Compression v2.17.0's models of the same "
    "architecture)"
)


def _entries() -> tuple[CodecEntry, ...]:
    cwebp = _external_builder("debian_cwebp.json")
    cjpeg = _external_builder("debian_cjpeg.json")
    jpegai = _external_builder("jpegai_v07_hop.json")
    jpeg = _pillow_builder("91", "JPEG control (Pillow, libjpeg-turbo)", "JPEG")
    webp = _pillow_builder("92", "WebP control (Pillow, libwebp)", "WEBP")
    mse_file = hyperprior_checkpoint("mse", 3).upstream_name
    msssim_file = hyperprior_checkpoint("ms-ssim", 3).upstream_name
    return (
        CodecEntry(
            codec_id="01",
            name=_C1_NAME,
            family="hyperprior",
            paper="C1",
            settings={"low": RateSpec("α = 3", level=3), "high": RateSpec("α = 7", level=7)},
            source=_ZOO_SOURCE.format(metric="MSE", example=mse_file),
            check=_hyperprior_check(lambda: _zoo_specs("mse"), lambda ctx: ctx.weights_dir),
            build=_zoo_builder("01", _C1_NAME, "mse"),
        ),
        CodecEntry(
            codec_id="02",
            name=_C2_NAME,
            family="hyperprior",
            paper="C2",
            settings=_RATES,
            source=_ZOO_SOURCE.format(metric="MS-SSIM", example=msssim_file),
            check=_hyperprior_check(lambda: _zoo_specs("ms-ssim"), lambda ctx: ctx.weights_dir),
            build=_zoo_builder("02", _C2_NAME, "ms-ssim"),
            note="rate-matched per image over the 8 zoo qualities",
        ),
        CodecEntry(
            codec_id="03",
            name="HiFiC",
            family="gan",
            paper="C3",
            settings={
                "low": RateSpec("HiFiC-lo", level=1, target_bpp=0.14),
                "high": RateSpec("HiFiC-hi", level=3, target_bpp=0.45),
            },
            source="TensorFlow Compression's HiFiC models (paper, appendix 1.2.2)",
            check=_not_implemented("HiFiC", "needs a port of the TensorFlow Compression models"),
        ),
        CodecEntry(
            codec_id="04",
            name="STF (Symmetrical TransFormer)",
            family="transformer",
            paper="C4",
            settings={
                "low": RateSpec("λ = 0.0067", level=3),
                "high": RateSpec("λ = 0.025", level=5),
            },
            source="Pretrained MSE models from the STF authors (paper, appendix 1.2.3)",
            check=_not_implemented("STF", "needs the STF model code and the authors' weights"),
            note="section 3.1 prints λ = 0.067 for C4-lo; appendix 1.2.3 gives 0.0067",
        ),
        CodecEntry(
            codec_id="05",
            name="CDC (conditional diffusion, xparam 0.9)",
            family="diffusion",
            paper="C5",
            settings={
                "low": RateSpec("λ = 2048", level=2048),
                "high": RateSpec("λ = 512", level=512),
            },
            source="Pretrained CDC models (paper, appendix 1.2.4)",
            check=_not_implemented("CDC", "needs the CDC model code and checkpoints"),
        ),
        CodecEntry(
            codec_id="06",
            name="JPEG AI (reference software v0.7, HOP, tools off)",
            family="jpeg-ai",
            paper="C6",
            settings={
                "low": RateSpec("--set_target_bpp 25", level=25, target_bpp=0.25),
                "high": RateSpec("--set_target_bpp 75", level=75, target_bpp=0.75),
            },
            source="JPEG AI reference software v0.7 (commit 50ec1478…) as an external program "
            "in SCLIC_JPEGAI_DIR (paper, appendix 1.2.5)",
            check=_check_by_building(jpegai),
            build=jpegai,
        ),
        CodecEntry(
            codec_id="90",
            name=_DEMO_NAME,
            family="hyperprior",
            paper="",
            settings={
                "low": RateSpec("λ = 0.0025", level=1),
                "high": RateSpec("λ = 0.1", level=2),
            },
            source="ScaleHyperprior (N=32, M=64) trained by workers/training/train_demo_codec.py "
            "on scikit-image photographs; shipped in workers/weights",
            check=_hyperprior_check(_demo_specs, lambda ctx: ctx.demo_weights_dir),
            build=_build_demo,
            note="not a paper codec: a small stand-in so the platform runs without zoo weights",
        ),
        CodecEntry(
            codec_id="91",
            name="JPEG control (Pillow, libjpeg-turbo)",
            family="jpeg",
            paper="",
            settings=_RATES,
            source="Pillow's JPEG encoder, quality bisection to the target rate",
            check=_check_by_building(jpeg),
            build=jpeg,
        ),
        CodecEntry(
            codec_id="92",
            name="WebP control (Pillow, libwebp)",
            family="webp",
            paper="",
            settings=_RATES,
            source="Pillow's WebP encoder, quality bisection to the target rate",
            check=_check_by_building(webp),
            build=webp,
        ),
        CodecEntry(
            codec_id="93",
            name="WebP via cwebp/dwebp (Debian libwebp, external adapter)",
            family="webp",
            paper="",
            settings=_RATES,
            source="Debian 'webp' programs through the external-codec adapter",
            check=_check_by_building(cwebp),
            build=cwebp,
        ),
        CodecEntry(
            codec_id="94",
            name="JPEG via cjpeg/djpeg (Debian libjpeg-turbo, external adapter)",
            family="jpeg",
            paper="",
            settings=_RATES,
            source="Debian 'libjpeg-turbo-progs' programs through the external-codec adapter",
            check=_check_by_building(cjpeg),
            build=cjpeg,
        ),
    )


REGISTRY: Mapping[str, CodecEntry] = {entry.codec_id: entry for entry in _entries()}


def entries() -> tuple[CodecEntry, ...]:
    """All registered codecs in id order."""
    return tuple(REGISTRY[key] for key in sorted(REGISTRY))


def get_entry(codec_id: str) -> CodecEntry:
    """The entry of ``codec_id`` (``"01"``…``"06"``, ``"90"``…)."""
    try:
        return REGISTRY[codec_id]
    except KeyError:
        raise KeyError(f"unknown codec id {codec_id!r}; known: {sorted(REGISTRY)}") from None


def _context(weights_dir: Path | None, device: str | None) -> BuildContext:
    return BuildContext(weights_dir or default_weights_dir(), device)


def availability(codec_id: str, weights_dir: Path | None = None) -> Availability:
    """Whether ``codec_id`` can run with ``weights_dir``; ``missing`` says what to add where."""
    return get_entry(codec_id).check(_context(weights_dir, None))


def build_codec(codec_id: str, weights_dir: Path | None = None, device: str | None = None) -> Codec:
    """A ready :class:`Codec` for ``codec_id``; raises for codecs not implemented yet."""
    entry = get_entry(codec_id)
    if entry.build is None:
        reason = entry.check(_context(weights_dir, device)).missing
        raise NotImplementedCodecError(f"{entry.paper} {entry.name}: {reason}", missing=reason)
    return entry.build(_context(weights_dir, device))


def registry_table(weights_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per codec for ``sclic codecs list``: id, name, settings, source, availability."""
    ctx = _context(weights_dir, None)
    rows: list[dict[str, Any]] = []
    for entry in entries():
        status = entry.check(ctx)
        rows.append(
            {
                "id": entry.codec_id,
                "paper": entry.paper,
                "name": entry.name,
                "family": entry.family,
                "low": entry.settings["low"].describe(),
                "high": entry.settings["high"].describe(),
                "implemented": entry.implemented,
                "available": status.ok,
                "missing": status.missing,
                "source": entry.source,
                "note": entry.note,
            }
        )
    return rows
