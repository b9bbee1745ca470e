"""
Followers: the callers of a key whose read or load is already under way.

An async caller that finds a load of its key running joins it without reading
the backend; each caller waits on a future of its own, so cancelling one
leaves the read or load running for the others. Forced step by step with
events (no sleeps), on real Redis; backend reads are counted by a subclass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.policy import Policy
from wa_perfkit.repository import ttl_repository
from wa_perfkit.testing import FakeClock

WAIT = 10.0  # a bound for a hung test, never a timing assumption


class CountingRedis(RedisBackend):
    """Real Redis; counts async reads, and can hold the next one until released."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.reads = 0
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()

    async def aget(self, key: str) -> Any:
        self.reads += 1
        hold, self.hold = self.hold, None
        if hold is not None:
            self.held.set()
            await hold.wait()
        return await super().aget(key)


@pytest.fixture(name="counting")
async def fixture_counting(redis_url: str) -> AsyncIterator[CountingRedis]:
    backend = CountingRedis(redis_url)
    yield backend
    await backend.aclose()


class Loader:
    """An async loader that stops until released, and counts its runs."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.runs = 0

    async def value(self, value: str) -> str:
        # Counted, never held: a load that returns at once.
        self.runs += 1
        return value

    async def __call__(self, value: str) -> str:
        self.runs += 1
        self.entered.set()
        await asyncio.wait_for(self.go.wait(), WAIT)
        return value


def _sharing(cache: Cache, full_key: str) -> int:
    # How many callers wait on the read of ``full_key`` in flight.
    shared = cache._reads.get(full_key)
    return 0 if shared is None else len(shared[1])


async def _until(condition: Any) -> None:
    # Let the loop run until ``condition()`` holds (no sleeping on a timer).
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_a_caller_arriving_during_a_load_joins_it_without_reading(
    counting: CountingRedis, namespace: str
) -> None:
    """Redis: the second caller sends no GET; one load serves both; both count a miss."""
    cache, loader = Cache(counting, namespace=namespace), Loader()

    @ttl_repository(ttl=60, cache=cache)
    async def row(k: str) -> str:
        return await loader(f"row {k}")

    first = asyncio.ensure_future(row("k"))
    await asyncio.wait_for(loader.entered.wait(), WAIT)
    reads = counting.reads
    second = asyncio.ensure_future(row("k"))
    await _until(lambda: row.stats().misses == 2)
    assert counting.reads == reads  # joined without a read of its own
    loader.go.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), WAIT) == ["row k"] * 2
    assert loader.runs == 1 and row.stats().loads == 1
    assert await row("k") == "row k" and counting.reads == reads + 1  # a hit reads


async def test_get_or_load_arriving_during_a_load_joins_it_without_reading(
    counting: CountingRedis, namespace: str
) -> None:
    """`Cache.aget_or_load` too: the second caller sends no GET and shares the one load."""
    cache, loader = Cache(counting, namespace=namespace), Loader()
    first = asyncio.ensure_future(cache.aget_or_load("k", lambda: loader("v"), 60))
    await asyncio.wait_for(loader.entered.wait(), WAIT)
    reads = counting.reads
    second = asyncio.ensure_future(cache.aget_or_load("k", lambda: loader("v"), 60))
    await _until(lambda: cache.stats().misses == 2)
    assert counting.reads == reads  # joined without a read of its own
    loader.go.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), WAIT) == ["v"] * 2
    assert loader.runs == 1 and cache.stats().loads == 1
    assert await cache.aget_or_load("k", lambda: loader("w"), 60) == "v"
    assert counting.reads == reads + 1  # a hit reads


async def test_a_stale_get_or_load_during_its_refresh_is_served_at_once(
    counting: CountingRedis, namespace: str
) -> None:
    """A background refresh is not joined by `Cache.aget_or_load` either."""
    clock = FakeClock()
    cache, loader = Cache(counting, namespace=namespace, clock=clock), Loader()
    policy = Policy(10, stale_ttl=1000)
    assert await cache.aget_or_load("k", lambda: loader.value("v1"), policy) == "v1"
    clock.advance(11)
    refreshed = cache.aget_or_load("k", lambda: loader("v2"), policy)
    assert await refreshed == "v1"  # stale: served, and a refresh starts
    await asyncio.wait_for(loader.entered.wait(), WAIT)
    reads = counting.reads
    served = cache.aget_or_load("k", lambda: loader("v3"), policy)
    assert await asyncio.wait_for(served, WAIT) == "v1"  # not waiting for the refresh
    assert counting.reads == reads + 1
    loader.go.set()
    await _until(lambda: cache.stats().loads == 2)


async def test_a_stale_read_during_its_refresh_is_served_at_once(
    counting: CountingRedis, namespace: str
) -> None:
    """A background refresh is not joined: a caller reads and gets the stale value."""
    clock = FakeClock()
    cache, loader = Cache(counting, namespace=namespace, clock=clock), Loader()
    values = iter(["v1", "v2"])

    @ttl_repository(ttl=10, stale_ttl=1000, cache=cache)
    async def row(k: str) -> str:
        value = next(values)
        if value == "v2":
            return await loader(value)
        return value

    assert await row("k") == "v1"
    clock.advance(11)
    assert await row("k") == "v1"  # stale: served, and a refresh starts
    await asyncio.wait_for(loader.entered.wait(), WAIT)
    reads = counting.reads
    assert await asyncio.wait_for(row("k"), WAIT) == "v1"  # not waiting for the refresh
    assert counting.reads == reads + 1
    loader.go.set()
    await _until(lambda: row.stats().loads == 2)
    assert row.stats().stale_hits == 2


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_cancelled_follower_leaves_the_load_to_the_others(
    kind: str, request: pytest.FixtureRequest, namespace: str
) -> None:
    """Cancelling a waiter cancels its wait only: the load runs once and serves the rest."""
    backend: Any = (
        MemoryBackend() if kind == "memory" else RedisBackend(request.getfixturevalue("redis_url"))
    )
    cache, loader = Cache(backend, namespace=namespace), Loader()

    @ttl_repository(ttl=60, cache=cache)
    async def row(k: str) -> str:
        return await loader("v")

    leader = asyncio.ensure_future(row("k"))
    await asyncio.wait_for(loader.entered.wait(), WAIT)
    followers = [asyncio.ensure_future(row("k")) for _ in range(3)]
    await _until(lambda: row.stats().misses == 4)
    followers[1].cancel()
    await asyncio.gather(followers[1], return_exceptions=True)
    assert followers[1].cancelled() and not leader.done()
    loader.go.set()
    results = await asyncio.wait_for(asyncio.gather(leader, followers[0], followers[2]), WAIT)
    assert results == ["v"] * 3 and loader.runs == 1
    assert await row("k") == "v" and loader.runs == 1  # stored
    await cache.aclose()


async def test_a_loader_error_reaches_followers_that_joined_without_reading(
    counting: CountingRedis, namespace: str
) -> None:
    """The one exception reaches every waiter, and nothing is cached."""
    cache, loader = Cache(counting, namespace=namespace), Loader()
    failing = True

    @ttl_repository(ttl=60, cache=cache)
    async def row(k: str) -> str:
        value = await loader("v")
        if failing:
            raise LookupError("db down")
        return value

    leader = asyncio.ensure_future(row("k"))
    await asyncio.wait_for(loader.entered.wait(), WAIT)
    followers = [asyncio.ensure_future(row("k")) for _ in range(3)]
    await _until(lambda: row.stats().misses == 4)
    loader.go.set()
    results = await asyncio.wait_for(
        asyncio.gather(leader, *followers, return_exceptions=True), WAIT
    )
    assert all(isinstance(r, LookupError) for r in results) and loader.runs == 1
    failing = False
    assert await row("k") == "v" and loader.runs == 2


async def test_a_shared_read_serves_every_caller_and_survives_a_cancelled_one(
    counting: CountingRedis, namespace: str
) -> None:
    """Concurrent reads of one key send one GET; a cancelled reader does not stop it."""
    cache = Cache(counting, namespace=namespace)
    await cache.aset("k", "v", 60)
    full_key = cache.full_key("k")
    reads = counting.reads
    counting.hold = hold = asyncio.Event()
    readers = [asyncio.ensure_future(cache._aread(full_key)) for _ in range(4)]
    await asyncio.wait_for(counting.held.wait(), WAIT)
    await _until(lambda: _sharing(cache, full_key) == 3)
    readers[2].cancel()
    hold.set()
    results = await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), WAIT)
    assert counting.reads == reads + 1
    assert readers[2].cancelled()
    assert [results[i] for i in (0, 1, 3)] == ["v"] * 3


async def test_a_cancelled_shared_read_leaves_a_miss_to_the_others(
    counting: CountingRedis, namespace: str
) -> None:
    """The caller whose read the others share is cancelled: they see a miss and load once."""
    cache, loader = Cache(counting, namespace=namespace), Loader()
    loader.go.set()

    @ttl_repository(ttl=60, cache=cache)
    async def row(k: str) -> str:
        return await loader("v")

    counting.hold = hold = asyncio.Event()
    first = asyncio.ensure_future(row("k"))
    await asyncio.wait_for(counting.held.wait(), WAIT)
    others = [asyncio.ensure_future(row("k")) for _ in range(3)]
    await _until(lambda: _sharing(cache, row.cache_key("k")) == 3)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert first.cancelled()
    results = await asyncio.wait_for(asyncio.gather(*others), WAIT)
    hold.set()
    assert results == ["v"] * 3 and loader.runs == 1
