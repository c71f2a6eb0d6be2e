"""What made a reconstruction: the machine, the libraries and the codec's weights.

A float decoder gives other pixels on another CPU family or GPU, and a bitstream coded on one
machine may not decode on another (paper, appendix 1.4.1; docs/bitstreams.md). So a researcher
who decodes a released bitstream elsewhere can compare like with like, every reconstruction
records the device type, the CPU or GPU model and the vector instructions that choose the float
kernels, the library versions and the SHA-256 of the weight file that coded it.

Everything here is looked up once per process; the weight file's SHA-256 comes from the loaded
codec (hashed once when its checkpoint is loaded, :mod:`workers.codecs.neural`), never per image.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from workers.codecs.base import HEADER_VERSION

# Libraries whose versions can change a reconstruction's pixels or its PNG's bytes.
PACKAGES = (
    "numpy",
    "pillow",
    "pyvips",
    "pyvips-binary",  # libvips, whose PNG writer makes the bytes (and the blind names)
    "opencv-python-headless",
    "torch",
    "compressai",
)
# CPU features that pick which float kernels oneDNN and ATen run (x86-64 and arm64 names).
_CPU_FEATURES = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "asimd",
    "sve",
    "sve2",
)
_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Provenance:
    """What made one reconstruction; stored with its row (docs/bitstreams.md).

    ``device`` is where the codec ran (``cpu``, ``cuda``, ``cuda:1``); ``hardware`` the CPU or
    GPU model; ``cpu_features`` the vector instructions that decide float rounding on the CPU;
    ``torch_threads`` the thread count (CPU results depend on it). ``weights_sha256`` is the
    SHA-256 of the weight file that coded it (None for codecs without weights).
    """

    device: str
    hardware: str
    machine: str
    cpu_features: tuple[str, ...]
    versions: Mapping[str, str]
    codec_id: str
    codec_name: str
    paper_codec: str
    setting: str
    setting_label: str
    level: int
    weights_file: str | None = None
    weights_sha256: str | None = None
    torch_threads: int | None = None
    header_version: int = HEADER_VERSION
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as stored in ``reconstruction.provenance``."""
        data = asdict(self)
        data["cpu_features"] = list(self.cpu_features)
        data["versions"] = dict(self.versions)
        data["extra"] = dict(self.extra)
        return data


@lru_cache(maxsize=1)
def package_versions() -> tuple[tuple[str, str], ...]:
    """Python's version and those of :data:`PACKAGES` that are installed."""
    found = [("python", platform.python_version())]
    for package in PACKAGES:
        try:
            found.append((package, version(package)))
        except PackageNotFoundError:
            continue
    return tuple(found)


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def cpu_model_and_features(cpuinfo: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The CPU model (``AMD EPYC 9654``, ``Neoverse-N1 (0xd0c)``) and the :data:`_CPU_FEATURES`
    it has, from ``/proc/cpuinfo`` (or ``cpuinfo`` given); ``platform.processor()`` elsewhere."""
    if cpuinfo is None:
        try:
            cpuinfo = _CPUINFO.read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    fields = _cpuinfo_fields(cpuinfo)
    model = fields.get("model name") or fields.get("hardware") or ""
    if not model and "cpu part" in fields:
        model = f"{fields.get('cpu implementer', '?')}/{fields['cpu part']}"
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    features = tuple(name for name in _CPU_FEATURES if name in flags)
    return model or platform.processor() or "unknown CPU", features


@lru_cache(maxsize=1)
def _this_cpu() -> tuple[str, tuple[str, ...]]:
    return cpu_model_and_features()


@lru_cache(maxsize=8)
def gpu_model(device: str) -> str:
    """``NVIDIA H100 80GB HBM3 (compute 9.0, CUDA 12.4)`` for a CUDA device; needs torch."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return "unknown GPU"
    index = torch.device(device).index or 0
    major, minor = torch.cuda.get_device_capability(index)
    return (
        f"{torch.cuda.get_device_name(index)} (compute {major}.{minor}, CUDA {torch.version.cuda})"
    )


def hardware(device: str) -> str:
    """The model of what ran the codec: the GPU for ``cuda…``, else the CPU."""
    return gpu_model(device) if device.startswith("cuda") else _this_cpu()[0]


def describe_machine(device: str) -> dict[str, Any]:
    """The machine fields of a :class:`Provenance` for a codec running on ``device``."""
    model, features = _this_cpu()
    return {
        "device": device,
        "hardware": hardware(device),
        "machine": platform.machine() or "unknown",
        "cpu_features": features,
        # On a GPU the CPU still builds the entropy coder's tables and runs the coder.
        "extra": {"cpu": model} if device.startswith("cuda") else {},
    }


# What a codec's describe() says that is not a version.
_NOT_VERSIONS = ("codec_id", "codec_name", "device", "torch_threads")


def library_versions(described: Mapping[str, Any]) -> dict[str, str]:
    """Python and package versions, plus the versions a codec's ``describe()`` reports."""
    versions = dict(package_versions())
    for key, value in described.items():
        if key not in _NOT_VERSIONS:
            versions[key] = str(value)
    return versions


@dataclass(frozen=True)
class ProvenanceMaker:
    """What every result of one codec at one setting shares, looked up once per model pass;
    :meth:`provenance` adds what each image's own coding chose (level, weight file)."""

    machine: Mapping[str, Any]
    versions: Mapping[str, str]
    codec_id: str
    codec_name: str
    paper_codec: str
    setting: str
    setting_label: str
    torch_threads: int | None

    @classmethod
    def of(
        cls, described: Mapping[str, Any], paper_codec: str, setting: str, setting_label: str
    ) -> ProvenanceMaker:
        """From a codec's ``describe()`` and its registry entry's paper id and setting."""
        threads = described.get("torch_threads")
        return cls(
            machine=describe_machine(str(described.get("device", "cpu"))),
            versions=library_versions(described),
            codec_id=str(described["codec_id"]),
            codec_name=str(described["codec_name"]),
            paper_codec=paper_codec,
            setting=setting,
            setting_label=setting_label,
            torch_threads=int(threads) if threads is not None else None,
        )

    def provenance(self, level: int, params: Mapping[str, Any]) -> Provenance:
        """One result's provenance; ``params`` are its coding parameters, where a neural codec
        puts the name and SHA-256 of the checkpoint it loaded (hashed once, on loading)."""
        weights_file, weights_sha256 = params.get("weights_file"), params.get("weights_sha256")
        return Provenance(
            **self.machine,
            versions=self.versions,
            codec_id=self.codec_id,
            codec_name=self.codec_name,
            paper_codec=self.paper_codec,
            setting=self.setting,
            setting_label=self.setting_label,
            level=level,
            weights_file=str(weights_file) if weights_file else None,
            weights_sha256=str(weights_sha256) if weights_sha256 else None,
            torch_threads=self.torch_threads,
        )
