"""
Invalidation during a load: what is invalidated stays invalidated.

Two races, forced step by step with events (no sleeps), on every backend,
sync and async, for `invalidate`, `Cache.invalidate_tags` and `Cache.clear`:

* stale set: a load reads the row, the row changes and is invalidated, then
  the load stores what it read — the store must be dropped;
* late join: a call made after the invalidation must not share the load
  that began before it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository
from wa_perfkit.testing import FakeClock

WAIT = 10.0  # a bound for a hung test, never a timing assumption
OPS = ["invalidate", "invalidate_tags", "clear"]


class Pair:
    """Two caches of one namespace: ``a`` loads; ``b`` is another instance (or cache object)."""

    def __init__(self, a: Cache, b: Cache) -> None:
        self.a, self.b = a, b


@pytest.fixture(name="pair", params=["memory", "copy", "redis", "tiered"])
async def fixture_pair(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[Pair]:
    """Memory: two caches on one backend. Redis: two clients. Tiered: two instances."""
    kind = request.param
    if kind in ("memory", "copy"):
        backend = MemoryBackend(1000, copy=kind == "copy")
        yield Pair(Cache(backend, namespace=namespace), Cache(backend, namespace=namespace))
        return
    url = request.getfixturevalue("redis_url")
    backends: list[Any] = []
    for _ in range(2):
        redis_backend = RedisBackend(url)
        backends.append(redis_backend if kind == "redis" else TieredBackend(l2=redis_backend))
    caches = [Cache(backend, namespace=namespace) for backend in backends]
    for backend in backends:
        if isinstance(backend, TieredBackend):
            assert backend.wait_ready()
    yield Pair(*caches)
    for backend in backends:
        backend.close()
        await backend.aclose()


class Gate:
    """The first load pauses after reading the row; later loads run through and say so."""

    def __init__(self) -> None:
        self.reading = threading.Event()
        self.go = threading.Event()
        self.later = threading.Event()
        self.calls = 0

    def pass_sync(self) -> None:
        self.calls += 1
        if self.calls == 1:
            self.reading.set()
            assert self.go.wait(WAIT)
        else:
            self.later.set()


class AsyncGate:
    """`Gate` for one event loop."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.go = asyncio.Event()
        self.later = asyncio.Event()
        self.calls = 0

    async def pass_async(self) -> None:
        self.calls += 1
        if self.calls == 1:
            self.reading.set()
            await asyncio.wait_for(self.go.wait(), WAIT)
        else:
            self.later.set()


def _functions(pair: Pair, db: dict[str, str], gate: Any, is_async: bool) -> tuple[Any, Any]:
    # The same function on both caches (one per instance, as two processes would have).
    made = []
    for cache in (pair.a, pair.b):
        if is_async:

            @ttl_repository(ttl=60, cache=cache, key="{k}", tags=["row:{k}"], name="row")
            async def row(k: str) -> str:
                value = db[k]
                await gate.pass_async()
                return value

        else:

            @ttl_repository(ttl=60, cache=cache, key="{k}", tags=["row:{k}"], name="row")
            def row(k: str) -> str:
                value = db[k]
                gate.pass_sync()
                return value

        made.append(row)
    return made[0], made[1]


def _invalidator(op: str, cache: Cache, row: Any) -> Callable[[], Any]:
    if op == "invalidate":
        return lambda: row.invalidate("k")
    if op == "invalidate_tags":
        return lambda: cache.invalidate_tags("row:k")
    return cache.clear


def _ainvalidator(op: str, cache: Cache, row: Any) -> Callable[[], Any]:
    if op == "invalidate":
        return lambda: row.invalidate("k")
    if op == "invalidate_tags":
        return lambda: cache.ainvalidate_tags("row:k")
    return cache.aclear


@pytest.mark.parametrize("op", OPS)
class TestStaleSet:
    def test_sync(self, pair: Pair, op: str) -> None:
        """A load that read the row before an invalidation does not store it."""
        db, gate = {"k": "old"}, Gate()
        row_a, row_b = _functions(pair, db, gate, is_async=False)
        first: list[str] = []
        loader = threading.Thread(target=lambda: first.append(row_a("k")))
        loader.start()
        assert gate.reading.wait(WAIT)
        db["k"] = "new"
        _invalidator(op, pair.b, row_b)()  # the other instance (or cache object)
        gate.go.set()
        loader.join(WAIT)
        assert first == ["old"]  # its call began before the invalidation
        assert row_a("k") == "new" and row_b("k") == "new"

    async def test_async(self, pair: Pair, op: str) -> None:
        """Async twin: the late store of the old row is dropped."""
        db, gate = {"k": "old"}, AsyncGate()
        row_a, row_b = _functions(pair, db, gate, is_async=True)
        loader = asyncio.ensure_future(row_a("k"))
        await asyncio.wait_for(gate.reading.wait(), WAIT)
        db["k"] = "new"
        await _ainvalidator(op, pair.b, row_b)()
        gate.go.set()
        assert await asyncio.wait_for(loader, WAIT) == "old"
        assert await row_a("k") == "new" and await row_b("k") == "new"


@pytest.mark.parametrize("op", OPS)
class TestLateJoin:
    def test_sync(self, pair: Pair, op: str) -> None:
        """A call made after the invalidation starts its own load; it never gets the old row."""
        db, gate = {"k": "old"}, Gate()
        row_a, _ = _functions(pair, db, gate, is_async=False)
        first: list[str] = []
        late: list[str] = []
        loader = threading.Thread(target=lambda: first.append(row_a("k")))
        loader.start()
        assert gate.reading.wait(WAIT)
        db["k"] = "new"
        _invalidator(op, pair.a, row_a)()
        caller = threading.Thread(target=lambda: late.append(row_a("k")))
        caller.start()
        started_own_load = gate.later.wait(WAIT)
        gate.go.set()
        loader.join(WAIT)
        caller.join(WAIT)
        assert started_own_load
        assert late == ["new"] and row_a("k") == "new"

    async def test_async(self, pair: Pair, op: str) -> None:
        """Async twin: a task started after the invalidation does not join the old load."""
        db, gate = {"k": "old"}, AsyncGate()
        row_a, _ = _functions(pair, db, gate, is_async=True)
        loader = asyncio.ensure_future(row_a("k"))
        await asyncio.wait_for(gate.reading.wait(), WAIT)
        db["k"] = "new"
        await _ainvalidator(op, pair.a, row_a)()
        caller = asyncio.ensure_future(row_a("k"))
        own_load = asyncio.ensure_future(gate.later.wait())
        await asyncio.wait({caller, own_load}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        started_own_load = gate.later.is_set()
        own_load.cancel()
        gate.go.set()
        await asyncio.wait_for(loader, WAIT)
        late = await asyncio.wait_for(caller, WAIT)
        assert started_own_load
        assert late == "new" and await row_a("k") == "new"


class TestAcrossInstances:
    def test_late_join_on_one_instance_after_an_invalidation_on_another(
        self, redis_url: str, namespace: str
    ) -> None:
        """Tiered: a call on A that joins A's load after B invalidated gets the new row."""
        a, b = (TieredBackend(l2=RedisBackend(redis_url)) for _ in range(2))
        try:
            pair = Pair(Cache(a, namespace=namespace), Cache(b, namespace=namespace))
            assert a.wait_ready() and b.wait_ready()
            db, gate = {"k": "old"}, Gate()
            row_a, row_b = _functions(pair, db, gate, is_async=False)
            results: list[str] = []
            threads = [threading.Thread(target=lambda: results.append(row_a("k")))]
            threads[0].start()
            assert gate.reading.wait(WAIT)
            db["k"] = "new"
            row_b.invalidate("k")
            # A has not heard of B's invalidation yet, or has: either way no old row.
            threads.append(threading.Thread(target=lambda: results.append(row_a("k"))))
            threads[1].start()
            gate.go.set()
            for thread in threads:
                thread.join(WAIT)
            assert sorted(results) == ["new", "old"]
            assert row_a("k") == "new" and row_b("k") == "new"
        finally:
            a.close()
            b.close()


class TestLoudInvalidation:
    async def test_a_failed_invalidation_raises(self, redis_server: Any, namespace: str) -> None:
        """On a dead Redis, invalidate, invalidate_tags and clear raise; reads stay misses."""
        from wa_perfkit.errors import BackendError

        backend = RedisBackend(redis_server.url)
        cache = Cache(backend, namespace=namespace)

        @ttl_repository(ttl=60, cache=cache, tags=["t"])
        def row(k: str) -> str:
            return k

        @ttl_repository(ttl=60, cache=cache, tags=["t"])
        async def arow(k: str) -> str:
            return k

        assert row("k") == "k" and await arow("k") == "k"
        redis_server.kill()
        assert row("k") == "k"  # a read degrades to the loader
        for invalidate in (lambda: row.invalidate("k"), lambda: cache.invalidate_tags("t"),
                           cache.clear):
            with pytest.raises(BackendError):
                invalidate()
        for ainvalidate in (lambda: arow.invalidate("k"), lambda: cache.ainvalidate_tags("t"),
                            cache.aclear):
            with pytest.raises(BackendError):
                await ainvalidate()
        assert cache.delete("k") is False  # a plain delete still degrades quietly
        backend.close()
        await backend.aclose()


def _stale_cache(kind: str, namespace: str, request: pytest.FixtureRequest) -> tuple[Cache, Any]:
    clock = FakeClock()
    if kind == "memory":
        return Cache(MemoryBackend(100, timer=clock), namespace=namespace, clock=clock), clock
    backend: Any = RedisBackend(request.getfixturevalue("redis_url"))
    if kind == "tiered":
        backend = TieredBackend(l2=backend)
        assert backend.wait_ready()
    return Cache(backend, namespace=namespace, clock=clock), clock


@pytest.mark.parametrize("kind", ["memory", "redis", "tiered"])
class TestStaleRefresh:
    def test_refresh_that_read_before_an_invalidation_is_dropped(
        self, kind: str, namespace: str, request: pytest.FixtureRequest
    ) -> None:
        """A stale_ttl refresh that read the old row does not store it after an invalidation."""
        cache, clock = _stale_cache(kind, namespace, request)
        db, gate = {"k": "v1"}, Gate()
        gate.calls = -1  # the first load passes; the refresh is the gated one

        @ttl_repository(ttl=10, stale_ttl=100, cache=cache, key="{k}", name="stale_row")
        def row(k: str) -> str:
            value = db[k]
            gate.pass_sync()
            return value

        assert row("k") == "v1"
        clock.advance(11)
        assert row("k") == "v1"  # stale: served while one refresh runs
        assert gate.reading.wait(WAIT)
        db["k"] = "v2"
        row.invalidate("k")
        gate.go.set()
        for thread in threading.enumerate():
            if thread.name == "wa_perfkit-refresh":
                thread.join(WAIT)
        assert row("k") == "v2" and row("k") == "v2"
        cache.close()

    async def test_async_refresh_that_read_before_an_invalidation_is_dropped(
        self, kind: str, namespace: str, request: pytest.FixtureRequest
    ) -> None:
        """Async twin: the refresh task's late store is dropped."""
        cache, clock = _stale_cache(kind, namespace, request)
        db, gate = {"k": "v1"}, AsyncGate()
        gate.calls = -1

        @ttl_repository(ttl=10, stale_ttl=100, cache=cache, key="{k}", name="stale_row")
        async def row(k: str) -> str:
            value = db[k]
            await gate.pass_async()
            return value

        assert await row("k") == "v1"
        clock.advance(11)
        assert await row("k") == "v1"
        await asyncio.wait_for(gate.reading.wait(), WAIT)
        refreshes = list(cache._engine._arefreshing.values())  # white-box: to await them
        db["k"] = "v2"
        await row.invalidate("k")
        gate.go.set()
        await asyncio.wait_for(asyncio.gather(*refreshes), WAIT)
        assert await row("k") == "v2" and await row("k") == "v2"
        cache.close()
        await cache.aclose()
