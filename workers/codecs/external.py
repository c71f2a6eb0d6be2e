"""Codecs run as external programs from command templates in a JSON configuration.

Used for C6, the JPEG AI reference software (paper, appendix 1.2.5), which runs in its own
environment, and for Debian's ``cwebp``/``cjpeg`` which exercise the same path end to end.

A configuration (see ``workers/codecs/configs/*.json``) names the programs and folders it needs
as *variables* read from environment variables (e.g. ``SCLIC_JPEGAI_DIR``), the files that must
exist, the ordered levels and two argument templates::

    encode: input image ({input}, PNG or PPM) + {level} → bitstream file ({output})
    decode: bitstream file ({input}) → image ({output}, PNG or PPM)

Programs run without a shell, in a fresh scratch folder (:func:`~backend.services.store.
scratch_folder`) that is always removed, in their own session and process group, so a time-out
or a cancelled task (Celery's soft time limit) kills the whole tree. A worker killed outright
(``kill -9``) cannot kill it: the program runs on to its end in a folder the next worker's
sweep has removed, and its output is never read. A failure raises
:class:`~workers.codecs.errors.ExternalProgramError` carrying the exit status and stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from backend.services.store import scratch_folder
from workers.codecs.base import Availability, Codec, EncodeResult, Header, check_rgb, pack, unpack
from workers.codecs.errors import (
    BitstreamError,
    CodecUnavailableError,
    ExternalProgramError,
    ExternalTimeoutError,
)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
STDERR_TAIL = 4000
_IMAGE_FORMATS = {"png": "PNG", "ppm": "PPM"}
_RESERVED = ("input", "output", "level", "workdir")


@dataclass(frozen=True)
class Variable:
    """A configured value: read from ``env``, else ``default``; ``kind`` says how it is checked.

    ``program`` must resolve on ``PATH`` (or be an executable path), ``dir`` must be a folder,
    ``file`` a file, ``text`` is not checked. ``hint`` says where to get or put it.
    """

    env: str | None = None
    default: str | None = None
    kind: str = "text"
    hint: str = ""


@dataclass(frozen=True)
class ExternalConfig:
    """A parsed external-codec configuration."""

    codec_id: str
    name: str
    family: str
    levels: tuple[int, ...]
    encode: tuple[str, ...]
    decode: tuple[str, ...]
    variables: Mapping[str, Variable] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    input_format: str = "png"
    output_format: str = "png"
    bitstream_suffix: str = ".bin"
    encode_timeout_s: float = 600.0
    decode_timeout_s: float = 600.0
    level_meaning: str = ""
    version: tuple[str, ...] = ()
    min_side: int = 1
    source: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExternalConfig:
        levels_raw = data["levels"]
        if isinstance(levels_raw, Mapping):
            levels = tuple(range(int(levels_raw["min"]), int(levels_raw["max"]) + 1))
        else:
            levels = tuple(int(v) for v in levels_raw)
        if list(levels) != sorted(set(levels)) or not levels:
            raise ValueError("levels must be a non-empty ascending list without repeats")
        variables = {k: Variable(**v) for k, v in data.get("variables", {}).items()}
        clash = set(variables) & set(_RESERVED)
        if clash:
            raise ValueError(f"variable names {sorted(clash)} are reserved")
        config = cls(
            codec_id=str(data["id"]),
            name=str(data["name"]),
            family=str(data.get("family", "external")),
            levels=levels,
            encode=tuple(data["encode"]),
            decode=tuple(data["decode"]),
            variables=variables,
            requires=tuple(data.get("requires", ())),
            cwd=data.get("cwd"),
            env=dict(data.get("env", {})),
            input_format=str(data.get("input_format", "png")),
            output_format=str(data.get("output_format", "png")),
            bitstream_suffix=str(data.get("bitstream_suffix", ".bin")),
            encode_timeout_s=float(data.get("encode_timeout_s", 600)),
            decode_timeout_s=float(data.get("decode_timeout_s", 600)),
            level_meaning=str(data.get("level_meaning", "")),
            version=tuple(data.get("version", ())),
            min_side=int(data.get("min_side", 1)),
            source=str(data.get("source", "")),
        )
        config.check_templates()
        return config

    @classmethod
    def load(cls, path: Path) -> ExternalConfig:
        """Read a JSON configuration file."""
        with path.open(encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def check_templates(self) -> None:
        """Fail early on unknown placeholders or unsupported image formats."""
        for fmt in (self.input_format, self.output_format):
            if fmt not in _IMAGE_FORMATS:
                raise ValueError(f"image format must be one of {sorted(_IMAGE_FORMATS)}: {fmt!r}")
        dummy = {name: "x" for name in (*self.variables, *_RESERVED)}
        templates = [*self.encode, *self.decode, *self.requires, *self.version]
        templates += [*self.env.values(), self.cwd or ""]
        for template in templates:
            try:
                template.format_map(dummy)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"bad placeholder in {template!r}: {exc}") from exc


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= STDERR_TAIL else "…" + text[-STDERR_TAIL:]


def run_program(
    argv: Sequence[str],
    timeout_s: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    what: str = "program",
) -> str:
    """Run ``argv`` without a shell; return stderr; raise on failure or time-out.

    The program gets its own session and process group; on time-out, or on any exception
    that interrupts the wait (a task's soft time limit, a cancelled task), the group is killed
    with SIGKILL. No code runs in the child before ``exec`` (no ``preexec_fn``, which is unsafe
    in a process with threads).
    """
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise CodecUnavailableError(
            f"{what}: cannot start {argv[0]!r} ({exc})", missing=f"program {argv[0]}"
        ) from exc
    except PermissionError as exc:
        raise ExternalProgramError(f"{what}: {argv[0]!r} is not executable ({exc})") from exc
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        partial = _drain(proc)
        raise ExternalTimeoutError(
            f"{what} timed out after {timeout_s:g} s and was killed: {' '.join(argv)}"
            + (f"\nstderr:\n{_tail(partial)}" if partial.strip() else ""),
            returncode=None,
            stderr=partial,
        ) from None
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            _drain(proc)
    stderr = err.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise ExternalProgramError(
            f"{what} exited with status {proc.returncode}: {' '.join(argv)}\n"
            f"stderr:\n{_tail(stderr) or '(empty)'}",
            returncode=proc.returncode,
            stderr=stderr,
        )
    return stderr


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _drain(proc: subprocess.Popen[bytes]) -> str:
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return ""
    return (err or b"").decode("utf-8", errors="replace")


class ExternalCodec(Codec):
    """A codec driven by an :class:`ExternalConfig`.

    ``overrides`` replaces variable values (otherwise read from the environment at call time).
    """

    def __init__(self, config: ExternalConfig, overrides: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.codec_id = config.codec_id
        self.name = config.name
        self.levels = config.levels
        self.min_side = config.min_side
        self.overrides = dict(overrides or {})
        self._version: str | None = None

    @classmethod
    def from_file(cls, path: Path, overrides: Mapping[str, str] | None = None) -> ExternalCodec:
        return cls(ExternalConfig.load(path), overrides)

    def _value(self, name: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        spec = self.config.variables[name]
        if spec.env and os.environ.get(spec.env):
            return os.environ[spec.env]
        return spec.default

    def _missing_variable(self, name: str, value: str | None) -> str | None:
        spec = self.config.variables[name]
        where = f" (set {spec.env})" if spec.env else ""
        hint = f": {spec.hint}" if spec.hint else ""
        if value is None:
            return f"{name} is not configured{where}{hint}"
        if spec.kind == "program" and shutil.which(value) is None:
            return f"program {value!r} not found or not executable{where}{hint}"
        if spec.kind == "dir" and not Path(value).is_dir():
            return f"folder {value} does not exist{where}{hint}"
        if spec.kind == "file" and not Path(value).is_file():
            return f"file {value} does not exist{where}{hint}"
        return None

    def resolve(self) -> dict[str, str]:
        """Variable values, with programs resolved to full paths; raises if any is missing."""
        values: dict[str, str] = {}
        problems: list[str] = []
        for name, spec in self.config.variables.items():
            value = self._value(name)
            problem = self._missing_variable(name, value)
            if problem:
                problems.append(problem)
                continue
            assert value is not None
            values[name] = (shutil.which(value) or value) if spec.kind == "program" else value
        if not problems:
            for template in self.config.requires:
                path = Path(template.format_map({**values, **_reserved_dummy()}))
                if not path.exists():
                    problems.append(f"required file {path} is missing")
        if problems:
            missing = "; ".join(problems)
            raise CodecUnavailableError(f"{self.name} is not available: {missing}", missing)
        return values

    def available(self) -> Availability:
        try:
            self.resolve()
        except CodecUnavailableError as exc:
            return Availability.no(exc.missing)
        return Availability.yes()

    def _run(
        self, template: Sequence[str], values: Mapping[str, str], timeout_s: float, what: str
    ) -> None:
        argv = [part.format_map(values) for part in template]
        cwd = self.config.cwd.format_map(values) if self.config.cwd else values["workdir"]
        env = {key: val.format_map(values) for key, val in self.config.env.items()}
        run_program(argv, timeout_s, cwd=cwd, env=env, what=f"{self.name} {what}")

    def encode(self, rgb: np.ndarray, level: int) -> EncodeResult:
        rgb = check_rgb(rgb, self.min_side, self.name)
        level = self.check_level(level)
        height, width = rgb.shape[:2]
        values = self.resolve()
        with scratch_folder() as work:
            src = work / f"input.{self.config.input_format}"
            out = work / f"stream{self.config.bitstream_suffix}"
            Image.fromarray(rgb, "RGB").save(
                src, format=_IMAGE_FORMATS[self.config.input_format], compress_level=1
            )
            call = {
                **values,
                "input": str(src),
                "output": str(out),
                "level": str(level),
                "workdir": str(work),
            }
            self._run(self.config.encode, call, self.config.encode_timeout_s, "encoder")
            payload = _read_output(out, f"{self.name} encoder")
        bitstream = pack(Header(self.codec_id, level, height, width), payload)
        params = {
            "level": level,
            "level_meaning": self.config.level_meaning,
            "encode_command": list(self.config.encode),
        }
        return EncodeResult(bitstream, level, width, height, params)

    def decode(self, bitstream: bytes) -> np.ndarray:
        header, payload = unpack(bitstream, self.codec_id)
        values = self.resolve()
        with scratch_folder() as work:
            src = work / f"stream{self.config.bitstream_suffix}"
            out = work / f"output.{self.config.output_format}"
            src.write_bytes(payload)
            call = {
                **values,
                "input": str(src),
                "output": str(out),
                "level": str(header.level),
                "workdir": str(work),
            }
            self._run(self.config.decode, call, self.config.decode_timeout_s, "decoder")
            data = _read_output(out, f"{self.name} decoder")
        try:
            with Image.open(io.BytesIO(data)) as image:
                rgb = np.asarray(image.convert("RGB"))
        except OSError as exc:
            raise ExternalProgramError(f"{self.name} decoder wrote an unreadable image") from exc
        if rgb.shape[:2] != (header.height, header.width):
            raise BitstreamError(
                f"{self.name} decoder returned {rgb.shape[1]}×{rgb.shape[0]}, "
                f"expected {header.width}×{header.height}"
            )
        return np.ascontiguousarray(rgb)

    def program_version(self) -> str:
        """First line printed by the configured version command (asked once), or ``""``."""
        if self._version is None:
            self._version = ""
            if self.config.version:
                try:
                    values = {**self.resolve(), **_reserved_dummy()}
                    argv = [part.format_map(values) for part in self.config.version]
                    done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
                    text = (done.stdout or done.stderr).decode("utf-8", errors="replace")
                    self._version = text.strip().splitlines()[0] if text.strip() else ""
                except (CodecUnavailableError, OSError, subprocess.TimeoutExpired):
                    self._version = "unknown"
        return self._version

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {**super().describe(), "device": "external"}
        if self.config.version:
            info["program_version"] = self.program_version()
        return info


def _reserved_dummy() -> dict[str, str]:
    return {name: "" for name in _RESERVED}


def _read_output(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise ExternalProgramError(f"{what} exited 0 but wrote no {path.name}")
    data = path.read_bytes()
    if not data:
        raise ExternalProgramError(f"{what} exited 0 but {path.name} is empty")
    return data


def load_builtin(name: str, overrides: Mapping[str, str] | None = None) -> ExternalCodec:
    """An :class:`ExternalCodec` from a configuration shipped in ``workers/codecs/configs``."""
    return ExternalCodec.from_file(CONFIG_DIR / name, overrides)
