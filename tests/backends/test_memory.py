"""
MemoryBackend: every index beside the entries is bounded with them.
"""

from __future__ import annotations

import gc
import threading
import tracemalloc

import pytest

from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError


def _retained(build: object) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        keep = build()  # type: ignore[operator]
        gc.collect()
        size, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del keep
    return size


class TestTagIndexBounded:
    def test_tag_index_is_bounded_with_the_entries(self) -> None:
        """maxsize=100 keeps well under 1 MB after 5,000 values tagged with 1 KB tags."""

        def build() -> Cache:
            cache = Cache(MemoryBackend(maxsize=100), namespace="tags")
            for i in range(5000):
                cache.set(f"k{i}", i, 60, tags=[f"{i}:" + "t" * 1000])
            return cache

        assert _retained(build) < 300_000

    def test_tags_of_evicted_and_deleted_entries_are_forgotten(self) -> None:
        """Once no live entry carries a tag, the index holds nothing for it."""
        backend = MemoryBackend(maxsize=2)
        cache = Cache(backend, namespace="tags")
        cache.set("a", 1, 60, tags=["x"])
        cache.set("b", 2, 60, tags=["x", "y"])
        cache.set("c", 3, 60, tags=["z"])  # evicts "a"
        cache.delete("b")
        assert backend.tag_count() == 1
        assert cache.invalidate_tags("x", "y") == 0
        assert cache.invalidate_tags("z") == 1 and backend.tag_count() == 0

    def test_tag_keys_are_length_bounded(self) -> None:
        """A long tag is digested in its backend key, like a long entry key."""
        cache = Cache(MemoryBackend(), namespace="tags")
        long_tag = "account:" + "x" * 5000
        assert len(cache._tag_key(long_tag)) < 100
        assert cache._tag_key(long_tag) != cache._tag_key(long_tag + "y")
        cache.set("k", 1, 60, tags=[long_tag])
        assert cache.invalidate_tags(long_tag) == 1


class TestEviction:
    def test_fifo_evicts_the_oldest_written_even_if_hot(self) -> None:
        """The default evicts by write order: a key read constantly still goes first."""
        backend = MemoryBackend(maxsize=2)
        backend.set("hot", 1, 60)
        backend.set("b", 2, 60)
        assert backend.get("hot") == 1
        backend.set("c", 3, 60)
        assert backend.get("hot") is MISS and backend.get("b") == 2

    def test_lru_keeps_a_hot_key(self) -> None:
        """eviction="lru": a key read since the others were written survives."""
        backend = MemoryBackend(maxsize=2, eviction="lru")
        backend.set("hot", 1, 60)
        backend.set("b", 2, 60)
        assert backend.get("hot") == 1
        backend.set("c", 3, 60)
        assert backend.get("hot") == 1 and backend.get("b") is MISS
        assert "lru" in repr(backend)

    def test_lru_reads_during_clear_and_writes(self) -> None:
        """Lock-free LRU reads racing writes, deletes and clears never raise."""
        backend = MemoryBackend(maxsize=50, eviction="lru")
        stop = threading.Event()
        errors: list[BaseException] = []

        def read() -> None:
            try:
                while not stop.is_set():
                    for i in range(100):
                        backend.get(f"p:{i}")
            except BaseException as exc:  # pragma: no cover (the failure being tested)
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        try:
            for round_ in range(200):
                for i in range(100):
                    backend.set(f"p:{i}", round_, 60)
                backend.delete(f"p:{round_ % 100}")
                backend.clear_prefix("p:")
        finally:
            stop.set()
            for thread in readers:
                thread.join(10)
        assert errors == []

    def test_unknown_eviction_is_refused(self) -> None:
        """Only "fifo" and "lru" exist."""
        with pytest.raises(ConfigurationError):
            MemoryBackend(eviction="lfu")  # type: ignore[arg-type]
