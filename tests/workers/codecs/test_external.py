"""The external-codec adapter: Debian codecs end to end, failures, time-outs, JPEG AI commands."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from backend.services.store import TEMP_PREFIX, TEMP_SUFFIX
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


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_hanging_program_is_killed(tmp_path: Path, photo: np.ndarray, private_tmp: Path) -> None:
    """The program and what it started are gone once the time-out is reported (checked on the
    processes themselves, not on a clock)."""
    pids = tmp_path / "pids"
    prog = script(
        tmp_path, "hang", f"sleep 600 &\necho $! > {pids}\necho $$ >> {pids}\nsleep 600\n"
    )
    codec = ExternalCodec(config(encode_timeout_s=0.5), {"prog": str(prog)})
    with pytest.raises(ExternalTimeoutError, match="timed out after 0.5 s"):
        codec.encode(photo, 1)
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 30  # a killed process may take a moment to be reaped
    while any(map(_alive, started)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, started))
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


CANCELLED_WORKER = """
import signal, sys
from workers.codecs.external import run_program

class Cancelled(Exception):
    pass

def cancel(*_):  # as Celery's soft time limit does: an exception raised in the waiting task
    raise Cancelled

signal.signal(signal.SIGUSR1, cancel)
try:
    run_program(["sh", "-c", "sleep 600 & echo $! > " + sys.argv[1] + "; exec sleep 600"], 600)
except Cancelled:
    sys.exit(3)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_cancelled_call_kills_the_programs_whole_group(tmp_path: Path) -> None:
    """A task stopped while its program runs (a soft time limit) kills the program and what it
    started, and no code ran in the child before exec (no ``preexec_fn``)."""
    import signal
    import subprocess
    import sys

    pidfile = tmp_path / "grandchild.pid"
    worker = subprocess.Popen(
        [sys.executable, "-c", CANCELLED_WORKER, str(pidfile)], cwd=Path(__file__).parents[3]
    )
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    [program] = [int(pid) for pid in children]
    assert os.getpgid(program) == program != os.getpgid(worker.pid)  # a group of its own
    worker.send_signal(signal.SIGUSR1)
    assert worker.wait(timeout=30) == 3
    deadline = time.monotonic() + 30  # a killed process may take a moment to be reaped
    while (_alive(program) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(program) and not _alive(grandchild)


def test_the_programs_scratch_folder_follows_the_stores_scheme(
    tmp_path: Path, photo: np.ndarray, private_tmp: Path
) -> None:
    """One temporary-name scheme: the worker's sweep (``services.store``) knows these too."""
    seen = tmp_path / "cwd"
    prog = script(tmp_path, "prog", f'pwd > {seen}\ncp "$2" "$3"\n')
    codec = ExternalCodec(config(), {"prog": str(prog)})
    codec.encode(photo, 1)
    folder = Path(seen.read_text().strip())
    assert folder.parent == private_tmp
    assert folder.name.startswith(TEMP_PREFIX) and folder.name.endswith(TEMP_SUFFIX)
    assert leftovers(private_tmp) == []


def test_programs_start_in_a_session_of_their_own_without_preexec_fn(
    tmp_path: Path, photo: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's documentation: ``preexec_fn`` is not safe in a process with threads (a worker
    has several), so the child runs nothing before ``exec``; its own session gives it the
    process group a time-out or a cancel kills."""
    import subprocess

    from workers.codecs import external

    started: list[dict[str, object]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        started.append(kwargs)
        return real_popen(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(external.subprocess, "Popen", recording_popen)
    prog = script(tmp_path, "prog", 'cp "$2" "$3"\n')
    ExternalCodec(config(), {"prog": str(prog)}).encode(photo, 1)
    assert started and all(
        kw.get("start_new_session") is True and kw.get("preexec_fn") is None for kw in started
    )
