"""
The backend contract, run over every backend (memory and real Redis).
"""

from __future__ import annotations

import pytest

from tests.conftest import FakeClock
from wa_perfkit.backends.base import MISS, Backend, PrefixClearable, TagIndex
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache


def _value(backend: Backend, text: str) -> object:
    return text if backend.stores_objects else text.encode()


class TestBackendContract:
    def test_implements_protocols(self, backend: Backend) -> None:
        """Every shipped backend implements the contract and the optional powers."""
        assert isinstance(backend, Backend)
        assert isinstance(backend, PrefixClearable)
        assert isinstance(backend, TagIndex)

    def test_get_set_delete(self, backend: Backend, namespace: str) -> None:
        """A stored value is read back until deleted; a miss is MISS, never None."""
        key = f"{namespace}:k"
        assert backend.get(key) is MISS
        backend.set(key, _value(backend, "v"), 10)
        assert backend.get(key) == _value(backend, "v")
        assert backend.delete(key) is True
        assert backend.delete(key) is False
        assert backend.get(key) is MISS

    async def test_async_twins(self, backend: Backend, namespace: str) -> None:
        """The a-prefixed twins behave as the sync methods."""
        key = f"{namespace}:ak"
        assert await backend.aget(key) is MISS
        await backend.aset(key, _value(backend, "v"), 10)
        assert await backend.aget(key) == _value(backend, "v")
        assert await backend.aadd(key, _value(backend, "w"), 10) is False
        assert await backend.aget_many([key, key + "x"]) == [_value(backend, "v"), MISS]
        assert await backend.adelete_many([key, key + "x"]) == 1
        assert await backend.adelete(key) is False

    def test_add_is_set_if_absent(self, backend: Backend, namespace: str) -> None:
        """add stores only when the key is absent."""
        key = f"{namespace}:a"
        assert backend.add(key, _value(backend, "1"), 10) is True
        assert backend.add(key, _value(backend, "2"), 10) is False
        assert backend.get(key) == _value(backend, "1")

    def test_many(self, backend: Backend, namespace: str) -> None:
        """get_many and delete_many keep order and count what existed."""
        keys = [f"{namespace}:m{i}" for i in range(3)]
        backend.set(keys[0], _value(backend, "0"), 10)
        backend.set(keys[2], _value(backend, "2"), 10)
        assert backend.get_many(keys) == [_value(backend, "0"), MISS, _value(backend, "2")]
        assert backend.get_many([]) == []
        assert backend.delete_many(keys) == 2

    def test_clear_prefix_spares_other_keys(self, backend: Backend, namespace: str) -> None:
        """clear_prefix removes its prefix only."""
        assert isinstance(backend, PrefixClearable)
        backend.set(f"{namespace}:a:1", _value(backend, "x"), 10)
        backend.set(f"{namespace}:b:1", _value(backend, "y"), 10)
        assert backend.clear_prefix(f"{namespace}:a:") == 1
        assert backend.get(f"{namespace}:b:1") == _value(backend, "y")

    def test_tags(self, backend: Backend, namespace: str) -> None:
        """pop_tag returns every key recorded under the tag, once."""
        assert isinstance(backend, TagIndex)
        tag = f"{namespace}:__tag__:t"
        backend.tag_keys(tag, [f"{namespace}:1", f"{namespace}:2"], 10)
        backend.tag_keys(tag, [f"{namespace}:3"], 10)
        assert sorted(backend.pop_tag(tag)) == [f"{namespace}:{i}" for i in (1, 2, 3)]
        assert backend.pop_tag(tag) == []


class TestMemoryBackend:
    def test_bounded_after_a_million_inserts(self) -> None:
        """maxsize=10_000 holds at most 10,000 entries after 1,000,000 distinct inserts."""
        backend = MemoryBackend(maxsize=10_000)
        for i in range(1_000_000):
            backend.set(str(i), i, 60)
        assert len(backend) == 10_000
        assert backend.get("999999") == 999999
        assert backend.get("0") is MISS

    def test_expired_entry_never_returned(self, clock: FakeClock) -> None:
        """An entry is gone the instant its TTL elapses, and add may reuse the key."""
        backend = MemoryBackend(timer=clock)
        backend.set("k", "v", 5)
        clock.advance(4.999)
        assert backend.get("k") == "v"
        clock.advance(0.001)
        assert backend.get("k") is MISS
        assert backend.add("k", "w", 5) is True

    def test_rejects_bad_maxsize(self) -> None:
        """maxsize must be a positive int."""
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="maxsize"):
                MemoryBackend(maxsize=bad)  # type: ignore[arg-type]

    def test_copy_mode_isolates_callers(self, namespace: str) -> None:
        """With copy=True a caller mutating a hit does not change the cached entry."""
        cache = Cache(MemoryBackend(copy=True), namespace=namespace)
        cache.set("k", {"roles": ["admin"]}, 10)
        cache.get("k")["roles"].append("x")
        assert cache.get("k") == {"roles": ["admin"]}


class TestCopyUnderThreads:
    def test_copy_mode_hits_are_never_shared(self, namespace: str) -> None:
        """Concurrent threads on a copy=True memory cache each get their own object."""
        import threading

        cache = Cache(MemoryBackend(copy=True), namespace=namespace)
        cache.set("k", {"roles": ["admin"]}, 10)
        seen: list[object] = []
        barrier = threading.Barrier(16)

        def worker() -> None:
            barrier.wait()
            for _ in range(50):
                seen.append(cache.get("k"))

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        # ``seen`` keeps every object alive, so distinct objects have distinct ids.
        assert len(seen) == 800 and len({id(v) for v in seen}) == 800
        assert all(v == {"roles": ["admin"]} for v in seen)
