"""The one atomic writer and the one sweep: no half file under a real name, and a temporary is
removed exactly when the process that made it is gone, however it ended."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backend.services import store
from backend.services.store import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    scratch_folder,
    sweep_temporaries,
    write_atomic,
)

REPO = Path(__file__).resolve().parents[2]


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"))


def test_write_atomic_writes_the_bytes_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "ab" / "file.png"
    assert write_atomic(target, b"one") == target
    write_atomic(target, b"two")  # replaces
    assert target.read_bytes() == b"two"
    assert temporaries(tmp_path) == []
    # Readable by a front web server (0o644 less the umask), as the tiles are served by nginx.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 & ~umask


def test_durable_writes_reach_the_disk_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(not (tmp_path / "f").exists()), real_fsync(fd))
    )
    write_atomic(tmp_path / "f", b"x")
    write_atomic(tmp_path / "tile", b"x", durable=False)
    assert synced == [True]


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(tmp_path / "f", b"x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-links", "no-hard-links"])
def test_an_exclusive_write_never_replaces_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    if not hard_links:

        def no_links(*_: object) -> None:
            raise PermissionError("operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "f"
    assert write_atomic(target, b"first", exclusive=True) == target
    with pytest.raises(FileExistsError):
        write_atomic(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["f"]


KILLED_MID_WRITE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from backend.services import store

    folder = Path(sys.argv[1])
    def die(fd):  # killed while flushing: temporary written, never renamed
        os.kill(os.getpid(), signal.SIGKILL)
    os.fsync = die
    with store.scratch_folder(folder):
        store.write_atomic(folder / "file.png", b"half")
    """
)


def test_the_sweep_removes_what_a_killed_writer_left_and_keeps_what_lives(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(folder)], cwd=REPO)
    assert killed.returncode == -signal.SIGKILL
    left = temporaries(folder)
    assert len(left) == 2 and {p.is_dir() for p in left} == {True, False}
    assert not (folder / "file.png").exists()
    unrelated = folder / ".sclic-notes.txt"
    unrelated.write_text("not a temporary")
    with scratch_folder(folder) as mine:
        assert sweep_temporaries(folder) == 2
        assert temporaries(folder) == [mine] and unrelated.exists()
    assert temporaries(folder) == []  # removed on leaving


def test_the_recursive_sweep_reaches_the_store_shards(tmp_path: Path) -> None:
    shard = tmp_path / "reconstructions" / "ab"
    shard.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(shard)], cwd=REPO)
    assert sweep_temporaries(tmp_path) == 0
    assert sweep_temporaries(tmp_path, recursive=True) == 2
    assert temporaries(tmp_path) == []


def test_a_temporary_held_by_another_living_process_is_kept(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from backend.services import store\n"
            "with store.scratch_folder(Path(sys.argv[1])):\n"
            "    print('ready', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert sweep_temporaries(tmp_path) == 0
        assert len(temporaries(tmp_path)) == 1
    finally:
        holder.kill()
        holder.wait()
    assert sweep_temporaries(tmp_path) == 1


def test_a_sweep_between_creating_and_locking_costs_the_writer_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep may find a temporary in the instant before its writer locks it; the writer
    then notices that its file lost its name and writes through a new one."""
    real_flock = store.fcntl.flock
    swept: list[int] = []

    def flock_after_a_sweep(fd: int, operation: int) -> None:
        if not swept:
            swept.append(0)  # the sweep's own locks go straight through
            swept[0] = sweep_temporaries(tmp_path)
        real_flock(fd, operation)

    monkeypatch.setattr(store.fcntl, "flock", flock_after_a_sweep)
    write_atomic(tmp_path / "f", b"whole")
    assert swept == [1]
    assert (tmp_path / "f").read_bytes() == b"whole"
    assert temporaries(tmp_path) == []


def test_scratch_folders_are_private_and_removed(tmp_path: Path) -> None:
    with scratch_folder(tmp_path) as folder:
        (folder / "input.png").write_bytes(b"x")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert folder.name.startswith(TEMP_PREFIX) and folder.name.endswith(TEMP_SUFFIX)
    assert not folder.exists()
