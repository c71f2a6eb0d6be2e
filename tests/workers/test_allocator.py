"""The codec worker's allocator settings (``docker-compose.yml``) do what they are there for: a
second large block costs no fresh page faults, where glibc's defaults fault it in again."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FAULTS = textwrap.dedent(
    """
    import ctypes, resource
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def faults_of_a_block():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        size = 64 << 20  # above glibc's largest mmap threshold, as a codec's big tensors
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_a_block()
    print(faults_of_a_block())
    """
)


def malloc_settings_by_service() -> dict[str, dict[str, str]]:
    """``MALLOC_*`` entries of each service in ``docker-compose.yml`` (services are the keys
    indented by two spaces; a flat read, enough for this file and no YAML dependency)."""
    found: dict[str, dict[str, str]] = {}
    service = ""
    for line in (REPO / "docker-compose.yml").read_text().splitlines():
        if (name := re.fullmatch(r"  ([\w-]+):", line)) is not None:
            service = name[1]
            found[service] = {}
        elif (entry := re.fullmatch(r'\s+(MALLOC_\w+): "?([^"\s]*)"?', line)) is not None:
            found[service][entry[1]] = entry[2]
    return found


def faults(extra_env: dict[str, str]) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("GLIBC_TUNABLES", None)
    out = subprocess.run(
        [sys.executable, "-c", FAULTS],
        cwd=REPO,
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


def test_only_the_codec_worker_keeps_freed_memory() -> None:
    settings = malloc_settings_by_service()
    assert {"web", "worker-cpu", "worker-gpu"} <= set(settings)
    assert [name for name, env in settings.items() if env] == ["worker-gpu"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator settings")
def test_kept_memory_is_reused_without_page_faults() -> None:
    pages = (64 << 20) // 4096
    assert faults({}) > pages // 2  # each block faulted in afresh
    assert faults(malloc_settings_by_service()["worker-gpu"]) < pages // 20
