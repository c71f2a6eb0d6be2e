"""The external-codec adapter: Debian codecs end to end, failures, time-outs, JPEG AI commands."""

from __future__ import annotations

import shutil
import stat
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from workers.codecs.errors import (
    CodecUnavailableError,
    ExternalProgramError,
    ExternalTimeoutError,
)
from workers.codecs.external import ExternalCodec, ExternalConfig, load_builtin
from workers.codecs.rate import rate_match
from workers.metrics import psnr


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary folders of the adapter go here, so leftovers can be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def leftovers(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def config(**overrides: object) -> ExternalConfig:
    data: dict[str, object] = {
        "id": "98",
        "name": "test program",
        "variables": {"prog": {"env": "SCLIC_TEST_PROG", "kind": "program"}},
        "levels": [1, 2],
        "encode": ["{prog}", "enc", "{input}", "{output}", "{level}"],
        "decode": ["{prog}", "dec", "{input}", "{output}"],
        "encode_timeout_s": 5,
    }
    data.update(overrides)
    return ExternalConfig.from_dict(data)


@pytest.mark.skipif(shutil.which("cwebp") is None, reason="Debian package 'webp' not installed")
def test_cwebp_end_to_end(photo: np.ndarray, private_tmp: Path) -> None:
    codec = load_builtin("debian_cwebp.json")
    assert codec.available().ok
    result = rate_match(codec, photo, 0.75)
    assert abs(result.params["achieved_bpp"] - 0.75) < 0.15
    rec = codec.decode(result.bitstream)
    assert rec.shape == photo.shape and psnr(photo, rec) > 20
    assert codec.encode(photo, result.level).bitstream == result.bitstream
    assert leftovers(private_tmp) == []


@pytest.mark.skipif(shutil.which("cjpeg") is None, reason="libjpeg-turbo-progs not installed")
def test_cjpeg_end_to_end_through_ppm(photo: np.ndarray) -> None:
    codec = load_builtin("debian_cjpeg.json")
    result = codec.encode(photo, 50)
    rec = codec.decode(result.bitstream)
    assert rec.shape == photo.shape and psnr(photo, rec) > 25
    assert codec.describe()["program_version"].startswith("libjpeg-turbo")


def test_crashing_program_reports_stderr(
    tmp_path: Path, photo: np.ndarray, private_tmp: Path
) -> None:
    prog = script(tmp_path, "crash", 'echo "model file weights.bin missing" >&2\nexit 3\n')
    codec = ExternalCodec(config(), {"prog": str(prog)})
    with pytest.raises(ExternalProgramError) as info:
        codec.encode(photo, 1)
    assert info.value.returncode == 3
    assert "weights.bin missing" in str(info.value)
    assert leftovers(private_tmp) == []


def test_program_writing_nothing(tmp_path: Path, photo: np.ndarray) -> None:
    prog = script(tmp_path, "lazy", "exit 0\n")
    with pytest.raises(ExternalProgramError, match="wrote no"):
        ExternalCodec(config(), {"prog": str(prog)}).encode(photo, 1)


def test_hanging_program_is_killed(tmp_path: Path, photo: np.ndarray, private_tmp: Path) -> None:
    prog = script(tmp_path, "hang", "sleep 30 &\nsleep 30\n")
    codec = ExternalCodec(config(encode_timeout_s=0.5), {"prog": str(prog)})
    start = time.monotonic()
    with pytest.raises(ExternalTimeoutError, match="timed out after 0.5 s"):
        codec.encode(photo, 1)
    assert time.monotonic() - start < 10
    assert leftovers(private_tmp) == []


def test_unavailable_program_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCLIC_TEST_PROG", "/nonexistent/codec")
    status = ExternalCodec(config()).available()
    assert not status.ok
    assert "/nonexistent/codec" in status.missing and "SCLIC_TEST_PROG" in status.missing


def test_bad_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        config(encode=["{prog}", "{nope}"])


def test_jpegai_unavailable_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCLIC_JPEGAI_DIR", raising=False)
    status = load_builtin("jpegai_v07_hop.json").available()
    assert not status.ok and "SCLIC_JPEGAI_DIR" in status.missing


def test_jpegai_command_lines(
    tmp_path: Path, photo: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for the reference software records its arguments and copies data through."""
    root = tmp_path / "jpeg-ai"
    for rel in (
        "src/reco/coders/encoder.py",
        "src/reco/coders/decoder.py",
        "cfg/tools_off.json",
        "cfg/profiles/oper_pointhop.json",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    log = tmp_path / "calls.txt"
    fake_python = script(
        tmp_path,
        "python",
        f'{{ echo "$PWD"; for a in "$@"; do echo "$a"; done; echo ==; }} >> {log}\ncp "$3" "$4"\n',
    )
    monkeypatch.setenv("SCLIC_JPEGAI_DIR", str(root))
    monkeypatch.setenv("SCLIC_JPEGAI_PYTHON", str(fake_python))
    codec = load_builtin("jpegai_v07_hop.json")
    assert codec.available().ok
    result = codec.encode(photo, 25)
    assert np.array_equal(codec.decode(result.bitstream), photo)
    enc, dec = (call.split() for call in log.read_text().split("==")[:2])
    assert enc[0] == str(root) and dec[0] == str(root)
    assert enc[1:3] == ["-m", "src.reco.coders.encoder"]
    assert enc[5:] == [
        "--set_target_bpp",
        "25",
        "--cfg",
        "cfg/tools_off.json",
        "cfg/profiles/oper_pointhop.json",
    ]
    assert dec[1:3] == ["-m", "src.reco.coders.decoder"]


def test_missing_program_at_run_time(photo: np.ndarray) -> None:
    codec = ExternalCodec(config(), {"prog": "/nonexistent/codec"})
    with pytest.raises(CodecUnavailableError, match="/nonexistent/codec"):
        codec.encode(photo, 1)


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_program_dies_with_a_killed_worker(tmp_path: Path) -> None:
    import subprocess
    import sys

    pidfile = tmp_path / "child.pid"
    code = (
        "from workers.codecs.external import run_program; "
        f"run_program(['sh', '-c', 'echo $$ > {pidfile}; exec sleep 30'], 60)"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[3])
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    child = int(pidfile.read_text())
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_work_folders_of_dead_workers_are_swept(private_tmp: Path) -> None:
    import os
    import socket
    import subprocess

    from workers.codecs.external import sweep_orphan_workdirs
    from workers.leftovers import owner_tag

    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    host = socket.gethostname()
    orphan = private_tmp / f"sclic-ext-{dead_pid.pid}.5@{host}-abc"
    # This process's id with another start time: a dead worker's id handed out again.
    reused = private_tmp / f"sclic-ext-{os.getpid()}.1@{host}-ghi"
    mine = private_tmp / f"sclic-ext-{owner_tag()}-def"
    other = private_tmp / "sclic-ext-noowner"
    for folder in (orphan, reused, mine, other):
        folder.mkdir()
        (folder / "input.png").write_bytes(b"x")
    assert sweep_orphan_workdirs() == 2
    assert not orphan.exists() and not reused.exists()
    assert mine.exists() and other.exists()
