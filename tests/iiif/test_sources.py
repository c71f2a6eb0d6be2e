"""The decoded-source cache: one load per key, loaders that get other keys, a byte bound."""

from __future__ import annotations

import threading
import time

import pytest
import pyvips

from backend.iiif.sources import SourceCache


def tiny() -> pyvips.Image:
    return pyvips.Image.black(4, 4, bands=3).cast("uchar")


def test_a_loader_may_get_other_keys_whatever_their_hashes() -> None:
    """A difference map's loader gets its two images while its own key is loading. Two hundred
    such nestings: with locks shared between keys some pair would share one and hang."""
    cache = SourceCache(max_bytes=1 << 30)

    def nest() -> None:
        for i in range(200):
            cache.get(f"diff:{i}", lambda i=i: cache.get(f"file:{i}", tiny).image)

    worker = threading.Thread(target=nest, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "a nested load waited on itself"
    assert cache.get("diff:7", tiny).width == 4


def test_concurrent_gets_load_a_key_once() -> None:
    cache = SourceCache(max_bytes=1 << 30)
    loads: list[int] = []

    def slow() -> pyvips.Image:
        loads.append(1)
        time.sleep(0.2)
        return tiny()

    threads = [threading.Thread(target=cache.get, args=("file:a", slow)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert loads == [1]
    assert cache._loading == {}  # no lock left behind once loaded


def test_a_failing_loader_leaves_the_key_loadable() -> None:
    cache = SourceCache(max_bytes=1 << 30)

    def broken() -> pyvips.Image:
        raise OSError("unreadable")

    with pytest.raises(OSError, match="unreadable"):
        cache.get("file:b", broken)
    assert cache.get("file:b", tiny).height == 4


def test_least_recently_used_go_beyond_the_byte_bound() -> None:
    one = 4 * 4 * 3 * 4 // 3
    cache = SourceCache(max_bytes=2 * one)
    for key in ("a", "b"):
        cache.get(key, tiny)
    cache.get("a", tiny)  # now "b" is the oldest
    cache.get("c", tiny)
    assert set(cache._items) == {"a", "c"}
