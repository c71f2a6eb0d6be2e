"""Finding and checking checkpoint files named the way CompressAI's model zoo names them.

A zoo file is called ``<stem>-<sha8>.pth.tar`` where ``<sha8>`` is the first eight hex digits of
the file's SHA-256 (the torch hub convention), e.g. ``bmshj2018-hyperprior-3-6d87be32.pth.tar``.
Weights are never downloaded: they are read from a weights folder, the checksum in the name is
verified against the content, and any mismatch is a :class:`CorruptCheckpointError`.

This module needs no torch; :func:`load_state_dict` imports it when called.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.codecs.base import Availability
from workers.codecs.errors import CorruptCheckpointError, WeightsMissingError

SUFFIX = ".pth.tar"
_HASH_RE = re.compile(r"^(?P<stem>.+)-(?P<sha8>[0-9a-f]{8})\.pth\.tar$")


@dataclass(frozen=True)
class CheckpointSpec:
    """One checkpoint a codec level needs: its file-name stem and, if known, its upstream name."""

    stem: str
    upstream_name: str | None = None
    url: str | None = None

    def pattern_hint(self) -> str:
        return self.upstream_name or f"{self.stem}-<sha256 prefix>{SUFFIX}"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_name(stem: str, sha256_hex: str) -> str:
    """The zoo-style file name of a checkpoint whose content hashes to ``sha256_hex``."""
    return f"{stem}-{sha256_hex[:8]}{SUFFIX}"


def candidates(weights_dir: Path, spec: CheckpointSpec) -> list[Path]:
    """Files in ``weights_dir`` named like ``spec`` (upstream name first)."""
    if not weights_dir.is_dir():
        return []
    found: list[Path] = []
    if spec.upstream_name and (weights_dir / spec.upstream_name).is_file():
        found.append(weights_dir / spec.upstream_name)
    for path in sorted(weights_dir.glob(f"{spec.stem}-*{SUFFIX}")):
        match = _HASH_RE.match(path.name)
        if match and match.group("stem") == spec.stem and path not in found:
            found.append(path)
    return found


def missing_message(weights_dir: Path, spec: CheckpointSpec) -> str:
    where = f"put {spec.pattern_hint()} into {weights_dir}"
    if spec.url:
        where += f" (upstream file: {spec.url}; it is never downloaded at run time)"
    return where


def checkpoints_available(weights_dir: Path, specs: Iterable[CheckpointSpec]) -> Availability:
    """Whether a file exists for every spec (names only: checksums are checked on load)."""
    missing = [missing_message(weights_dir, s) for s in specs if not candidates(weights_dir, s)]
    return Availability.no("; ".join(missing)) if missing else Availability.yes()


def find_checkpoint(weights_dir: Path, spec: CheckpointSpec) -> Path:
    """The one checkpoint for ``spec`` in ``weights_dir``; raises if none or several."""
    found = candidates(weights_dir, spec)
    if not found:
        raise WeightsMissingError(
            f"checkpoint {spec.pattern_hint()} not found in {weights_dir}",
            missing=missing_message(weights_dir, spec),
        )
    if spec.upstream_name and found[0].name == spec.upstream_name:
        return found[0]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise CorruptCheckpointError(
            f"several checkpoints match {spec.stem} in {weights_dir}: {names}; keep one"
        )
    return found[0]


def verify_checksum(path: Path) -> str:
    """Check the ``<sha8>`` in the file name against the content; return the full SHA-256."""
    match = _HASH_RE.match(path.name)
    if not match:
        raise CorruptCheckpointError(
            f"{path.name}: name does not end in -<8 hex digits of its SHA-256>{SUFFIX}"
        )
    digest = sha256_file(path)
    if not digest.startswith(match.group("sha8")):
        raise CorruptCheckpointError(
            f"{path}: SHA-256 {digest[:8]}… does not match the {match.group('sha8')} in its "
            "name; the file is corrupt or incomplete, replace it"
        )
    return digest


def write_checkpoint(state: Mapping[str, Any], folder: Path, stem: str) -> Path:
    """Save a state dict as ``folder/<stem>-<sha8>.pth.tar``, replacing older files of ``stem``.

    Written to a temporary name first, then renamed, as the zoo's own files are named.
    """
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{stem}.tmp"
    torch.save(state, tmp)
    final = folder / checkpoint_name(stem, sha256_file(tmp))
    for old in candidates(folder, CheckpointSpec(stem)):
        if old != final:
            old.unlink()
    tmp.replace(final)
    return final


def load_checkpoint(path: Path) -> tuple[dict[str, Any], str]:
    """Read a zoo checkpoint (a plain state dict of tensors) after verifying its checksum.

    Returns the state dict, its keys normalised as the zoo's ``load_pretrained`` does
    (DataParallel prefixes, old entropy-bottleneck parameter names), and the file's SHA-256.
    """
    import torch
    from compressai.zoo.pretrained import load_pretrained

    digest = verify_checksum(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CorruptCheckpointError(f"{path}: cannot be read as a checkpoint ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CorruptCheckpointError(f"{path}: not a state dict of tensors")
    return load_pretrained(state), digest
