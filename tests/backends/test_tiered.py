"""
TieredBackend: L1 in front of Redis, invalidations between instances (another process's
L1: tests/many/test_tiered_processes.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
import redis

from tests.cluster_services import Cluster
from tests.services import RedisServer, eventually
from wa_perfkit.backends.base import MISS, Backend, PrefixClearable, TagIndex
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import BackendError, ConfigurationError
from wa_perfkit.serialization import JsonSerializer


def _tiered(url: str, **options: float) -> TieredBackend:
    backend = TieredBackend(MemoryBackend(), RedisBackend(url), **options)
    assert backend.wait_ready()
    return backend


@pytest.fixture(name="pair")
def fixture_pair(redis_url: str, namespace: str) -> Iterator[tuple[Cache, Cache]]:
    """Two instances (A and B) of one namespace, each with its own tiered backend."""
    a, b = _tiered(redis_url), _tiered(redis_url)
    caches = Cache(a, namespace=namespace), Cache(b, namespace=namespace)
    assert a.wait_ready() and b.wait_ready()
    yield caches
    a.close()
    b.close()


class TestTieredBackend:
    @pytest.mark.parametrize(
        "options",
        [
            {"l1_ttl": 0},
            {"l1_ttl": float("nan")},
            {"l1_ttl": float("inf")},
            {"ping_interval": 0},
            {"dead_after": -1},
            {"ping_interval": 2.0, "dead_after": 1.0},
            {"confirm_timeout": -1},
        ],
    )
    def test_unusable_timings_fail_at_construction(
        self, redis_url: str, options: dict[str, float]
    ) -> None:
        """A zero ping interval would spin the listener: every timing is checked first."""
        with pytest.raises(ConfigurationError, match="|".join(options)):
            TieredBackend(l2=RedisBackend(redis_url), **options)

    def test_contract_and_powers(self, redis_url: str) -> None:
        """It is a Backend with prefix clearing and tags, and refuses a bytes L1."""
        backend = _tiered(redis_url)
        try:
            assert isinstance(backend, Backend)
            assert isinstance(backend, PrefixClearable)
            assert isinstance(backend, TagIndex)
        finally:
            backend.close()
        with pytest.raises(ConfigurationError):
            TieredBackend(MemoryBackend(copy=True), RedisBackend(redis_url))

    def test_l1_hit_needs_no_redis(self, pair: tuple[Cache, Cache]) -> None:
        """After one L2 read, B answers from its L1: the value object itself, no decode."""
        a, b = pair
        a.set("k", {"x": [1, 2]}, 30)
        time.sleep(0.05)  # A's own invalidation message reaches B first
        assert b.get("k") == {"x": [1, 2]}
        backend = b.backend
        assert isinstance(backend, TieredBackend)
        reads = backend.l2_reads
        assert b.get("k") is b.get("k")
        assert backend.l2_reads == reads

    def test_l1_ttl_never_exceeds_remaining_l2_ttl(self, pair: tuple[Cache, Cache]) -> None:
        """An entry with 0.3 s left in Redis leaves B's L1 when it leaves Redis."""
        a, b = pair
        a.set("short", 1, 0.3)
        assert b.get("short") == 1
        time.sleep(0.35)
        assert b.get("short") is MISS

    def test_every_invalidation_reaches_the_other_l1(self, pair: tuple[Cache, Cache]) -> None:
        """set, delete, delete_many, tag invalidation and clear on A all reach B's L1."""
        a, b = pair
        steps = [
            lambda: a.set("k", "new", 30),
            lambda: a.delete("k"),
            lambda: a.delete_many(["k"]),
            lambda: a.invalidate_tags("t"),
            lambda: a.clear(),
        ]
        for step in steps:
            a.set("k", "old", 30, tags=["t"])
            assert eventually(lambda: b.get("k") == "old", 1.0, 0.001)
            assert b.get("k") == "old"  # now held in B's L1
            step()
            assert eventually(lambda: b.get("k") in ("new", MISS), 1.0, 0.001), step

    async def test_async_twins(self, pair: tuple[Cache, Cache]) -> None:
        """aset/aget/adelete/aclear behave like the sync methods across instances."""
        a, b = pair
        await a.aset("k", 1, 30)
        assert await b.aget("k") == 1
        await a.adelete("k")
        assert eventually(lambda: b.get("k") is MISS, 1.0, 0.001)
        await a.aset("k", 2, 30)
        assert await b.aget("k") == 2
        assert await a.aclear() >= 1
        assert eventually(lambda: b.get("k") is MISS, 1.0, 0.001)
        await a.aclose()  # the asyncio clients; the fixture closes the sync ones
        await b.aclose()

    def test_serializers_must_agree(self, redis_url: str, namespace: str) -> None:
        """Two caches on one tiered backend share its L2 encoding, so must share a serializer."""
        backend = _tiered(redis_url)
        try:
            Cache(backend, namespace=namespace)
            Cache(backend, namespace=namespace + "x")  # equal default serializers: fine
            custom = JsonSerializer()
            custom.__dict__["marker"] = 1
            with pytest.raises(ConfigurationError):
                Cache(backend, namespace=namespace + "y", serializer=custom)
        finally:
            backend.close()

    def test_pubsub_client_kill_flushes_l1(
        self, redis_server: RedisServer, namespace: str
    ) -> None:
        """CLIENT KILL TYPE pubsub: B's L1 is flushed; a change made meanwhile is never missed."""
        a_backend, b_backend = _tiered(redis_server.url), _tiered(redis_server.url)
        a, b = Cache(a_backend, namespace=namespace), Cache(b_backend, namespace=namespace)
        admin = redis.Redis.from_url(redis_server.url)
        try:
            assert b_backend.wait_ready()
            a.set("k", "old", 60)
            time.sleep(0.05)  # A's own invalidation message reaches B first
            assert b.get("k") == "old" and len(b_backend.l1) == 1
            flushes = b_backend.bus.flushes
            admin.client_kill_filter(_type="pubsub")
            # Written while B's bus was down: the message is lost for B.
            a_backend.l2.set(a.full_key("k"), a_backend.serializer.dumps("new"), 60)
            assert eventually(lambda: b_backend.bus.flushes > flushes, 2.0, 0.001)
            for _ in range(200):
                assert b.get("k") == "new"
            assert eventually(lambda: b_backend.bus.connected, 3.0, 0.001)
            assert b_backend.bus.reconnects >= 1
            a.set("k", "newer", 60)
            assert eventually(lambda: b.get("k") == "newer", 1.0, 0.001)
        finally:
            admin.close()
            a.close()
            b.close()


def _in_l1(cache: Cache, key: str) -> bool:
    backend = cache.backend
    assert isinstance(backend, TieredBackend)
    return backend.l1.get(cache.full_key(key)) is not MISS


def _held_by(reader: Cache, writer: Cache, key: str) -> None:
    """Put ``key`` in ``reader``'s L1 (after ``writer``'s own message reached it)."""
    writer.set(key, "old", 30, tags=["t"])
    assert eventually(lambda: reader.get(key) == "old" and _in_l1(reader, key), 2.0, 0.001)


_INVALIDATIONS: dict[str, Callable[[Cache], object]] = {
    "delete": lambda cache: cache.delete("k"),
    "delete_many": lambda cache: cache.delete_many(["k"]),
    "invalidate_tags": lambda cache: cache.invalidate_tags("t"),
    "clear": lambda cache: cache.clear(),
}

_AINVALIDATIONS: dict[str, Callable[[Cache], Awaitable[object]]] = {
    "delete": lambda cache: cache.adelete("k"),
    "delete_many": lambda cache: cache.adelete_many(["k"]),
    "invalidate_tags": lambda cache: cache.ainvalidate_tags("t"),
    "clear": lambda cache: cache.aclear(),
}


def _invalidation(cache: Cache, how: str, mode: str) -> Callable[[], object]:
    """The call ``how`` on ``cache``, sync or on an event loop of its own."""
    if mode == "sync":
        return lambda: _INVALIDATIONS[how](cache)

    async def invalidate() -> None:
        await _AINVALIDATIONS[how](cache)
        await cache.aclose()

    return lambda: asyncio.run(invalidate())


class TestConfirmedInvalidation:
    """
    An invalidation returns only once every other instance has dropped its L1 copy.

    B's listener is held (its bus lock taken) while A invalidates, so without the
    confirmation A returns while B still holds the old value: what A's caller sees
    right after returning is recorded, then B is let go.
    """

    @staticmethod
    def _invalidate_while_b_is_held(b: Cache, invalidate: Callable[[], object]) -> None:
        backend = b.backend
        assert isinstance(backend, TieredBackend)
        seen: list[bool] = []

        def caller() -> None:
            invalidate()
            seen.append(_in_l1(b, "k"))

        received = backend.bus.received
        with backend.bus.lock:
            thread = threading.Thread(target=caller)
            thread.start()
            assert eventually(lambda: backend.bus.received > received, 5.0, 0.001)
        thread.join(10)
        assert not thread.is_alive()
        assert seen == [False], "the call returned while B's L1 still held the old value"

    @pytest.mark.parametrize("mode", ["sync", "async"])
    @pytest.mark.parametrize("how", sorted(_INVALIDATIONS))
    def test_from_another_tiered_instance(
        self, pair: tuple[Cache, Cache], how: str, mode: str
    ) -> None:
        a, b = pair
        _held_by(b, a, "k")
        self._invalidate_while_b_is_held(b, _invalidation(a, how, mode))

    @pytest.mark.parametrize("mode", ["sync", "async"])
    @pytest.mark.parametrize("how", sorted(_INVALIDATIONS))
    def test_from_a_worker_on_plain_redis(
        self, pair: tuple[Cache, Cache], redis_url: str, namespace: str, how: str, mode: str
    ) -> None:
        _, b = pair
        worker = Cache(RedisBackend(redis_url), namespace=namespace)
        try:
            _held_by(b, worker, "k")
            self._invalidate_while_b_is_held(b, _invalidation(worker, how, mode))
        finally:
            worker.close()

    def test_an_instance_that_never_confirms_makes_the_invalidation_fail(
        self, redis_url: str, namespace: str
    ) -> None:
        """Past ``confirm_timeout`` the invalidation raises; Redis no longer holds the key."""
        a_backend = _tiered(redis_url, confirm_timeout=0.2)
        b_backend = _tiered(redis_url)
        a, b = Cache(a_backend, namespace=namespace), Cache(b_backend, namespace=namespace)
        try:
            _held_by(b, a, "k")
            with b_backend.bus.lock, pytest.raises(BackendError, match="1 of 2"):
                a.invalidate_tags("t")
            assert a_backend.l2.get(a.full_key("k")) is MISS
        finally:
            a.close()
            b.close()

    @pytest.mark.parametrize("how", ["delete", "clear"])
    def test_on_a_cluster(self, cluster: Cluster, namespace: str, how: str) -> None:
        """A cluster's PUBLISH counts one node's subscribers: every node's are waited for."""
        self._on(lambda: RedisBackend(cluster.url, cluster=True), namespace, how)

    @pytest.mark.parametrize("how", ["delete", "clear"])
    def test_on_valkey(self, valkey_url: str, namespace: str, how: str) -> None:
        """Valkey has every command the confirmations use."""
        self._on(lambda: RedisBackend(valkey_url), namespace, how)

    def _on(self, l2: Callable[[], RedisBackend], namespace: str, how: str) -> None:
        backends = [TieredBackend(MemoryBackend(), l2()) for _ in range(2)]
        a, b = (Cache(backend, namespace=namespace) for backend in backends)
        try:
            assert all(backend.wait_ready() for backend in backends)
            _held_by(b, a, "k")
            self._invalidate_while_b_is_held(b, _invalidation(a, how, "sync"))
        finally:
            a.close()
            b.close()
