"""A codec process keeps freed memory: a second large block costs no fresh page faults."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FAULTS = textwrap.dedent(
    """
    import ctypes, resource, sys
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "keep":
        from workers.allocator import keep_freed_memory
        assert keep_freed_memory()

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


def faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], cwd=REPO, capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_kept_memory_is_reused_without_page_faults() -> None:
    pages = (64 << 20) // 4096
    assert faults("default") > pages // 2  # each block faulted in afresh
    assert faults("keep") < pages // 20
