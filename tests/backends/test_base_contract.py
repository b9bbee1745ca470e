"""
The shipped contract suite (`wa_perfkit.testing.BackendContract`) over every backend.

Each class gives the suite a backend and a peer: a second instance on the same
storage (the same object for memory, a second client for Redis, a second
tiered backend with its own L1 on the same Redis).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import pytest

from tests.cluster_services import Cluster
from tests.conftest import FakeClock
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.testing import BackendContract


async def _closed(backend: RedisBackend | TieredBackend) -> None:
    backend.close()
    await backend.aclose()


class TestMemory(BackendContract):
    @pytest.fixture(name="backend")
    def fixture_backend(self) -> MemoryBackend:
        return MemoryBackend(maxsize=1000)

    @pytest.fixture(name="peer")
    def fixture_peer(self, backend: MemoryBackend) -> MemoryBackend:
        return backend


class TestMemoryCopy(BackendContract):
    @pytest.fixture(name="backend")
    def fixture_backend(self) -> MemoryBackend:
        return MemoryBackend(maxsize=1000, copy=True)

    @pytest.fixture(name="peer")
    def fixture_peer(self, backend: MemoryBackend) -> MemoryBackend:
        return backend


class TestMemoryLru(BackendContract):
    @pytest.fixture(name="backend")
    def fixture_backend(self) -> MemoryBackend:
        return MemoryBackend(maxsize=1000, eviction="lru")

    @pytest.fixture(name="peer")
    def fixture_peer(self, backend: MemoryBackend) -> MemoryBackend:
        return backend


class TestRedis(BackendContract):
    @pytest.fixture(name="backend")
    async def fixture_backend(self, redis_url: str) -> AsyncIterator[RedisBackend]:
        backend = RedisBackend(redis_url)
        yield backend
        await _closed(backend)

    @pytest.fixture(name="peer")
    async def fixture_peer(self, redis_url: str) -> AsyncIterator[RedisBackend]:
        backend = RedisBackend(redis_url)
        yield backend
        await _closed(backend)


class TestValkey(BackendContract):
    """The Redis backend on Valkey, the other server users run it on."""

    @pytest.fixture(name="backend")
    async def fixture_backend(self, valkey_url: str) -> AsyncIterator[RedisBackend]:
        backend = RedisBackend(valkey_url)
        yield backend
        await _closed(backend)

    @pytest.fixture(name="peer")
    async def fixture_peer(self, valkey_url: str) -> AsyncIterator[RedisBackend]:
        backend = RedisBackend(valkey_url)
        yield backend
        await _closed(backend)


def _tiered(url: str) -> TieredBackend:
    backend = TieredBackend(MemoryBackend(1000), RedisBackend(url))
    assert backend.wait_ready()
    return backend


class TestTiered(BackendContract):
    @pytest.fixture(name="backend")
    async def fixture_backend(self, redis_url: str) -> AsyncIterator[TieredBackend]:
        backend = _tiered(redis_url)
        yield backend
        await _closed(backend)

    @pytest.fixture(name="peer")
    async def fixture_peer(self, redis_url: str) -> AsyncIterator[TieredBackend]:
        backend = _tiered(redis_url)
        yield backend
        await _closed(backend)


class TestCluster(BackendContract):
    @pytest.fixture(name="backend")
    async def fixture_backend(self, cluster: Cluster) -> AsyncIterator[RedisBackend]:
        backend = RedisBackend(cluster.url, cluster=True)
        yield backend
        await _closed(backend)

    @pytest.fixture(name="peer")
    async def fixture_peer(self, cluster: Cluster) -> AsyncIterator[RedisBackend]:
        backend = RedisBackend(cluster.url, cluster=True)
        yield backend
        await _closed(backend)


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

    def test_copy_mode_hits_are_never_shared(self, namespace: str) -> None:
        """Concurrent threads on a copy=True memory cache each get their own object."""
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
