"""
`stats()` adds up exactly under 64 threads and 1,000 asyncio tasks (DESIGN §6), on each backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry

from wa_perfkit import Cache, ttl_repository
from wa_perfkit.integrations.prometheus import CacheCollector

THREADS, CALLS_PER_THREAD = 64, 40
TASKS, CALLS_PER_TASK = 1000, 4
KEYS = 25


class LoaderError(Exception):
    pass


def _check(cache: Cache, calls: int, loader_calls: int) -> None:
    """Every call is a hit or a miss; every loader call a load or a load error."""
    snap = cache.stats_by_name()["fn"]
    assert snap.hits + snap.misses + snap.stale_hits == calls
    assert snap.loads + snap.load_errors == loader_calls
    assert snap.load_errors > 0 and snap.loads >= KEYS - KEYS // 5
    assert snap.hits > 0
    total = cache.stats()
    assert (total.hits, total.misses, total.loads) == (snap.hits, snap.misses, snap.loads)
    # The collector reads the same snapshot: Prometheus sees the exact numbers too.
    registry = CollectorRegistry()
    collector = CacheCollector([cache], registry=registry)
    labels = {"cache": cache.name, "function": "fn"}
    assert registry.get_sample_value("wa_perfkit_cache_hits_total", labels) == snap.hits
    assert registry.get_sample_value("wa_perfkit_cache_misses_total", labels) == snap.misses
    collector.close()


class TestExactStats:
    def test_64_threads(self, cache: Cache) -> None:
        """64 threads x 40 calls over 25 keys (every 5th loader raises): the counts add up."""
        loader_calls = itertools.count()
        start = threading.Barrier(THREADS)

        @ttl_repository(ttl=60, cache=cache, name="fn")
        def fn(i: int) -> dict[str, int]:
            n = next(loader_calls)
            if i % 5 == 0:
                raise LoaderError(n)
            return {"i": i}

        def worker(seed: int) -> None:
            start.wait(timeout=10)
            for j in range(CALLS_PER_THREAD):
                with contextlib.suppress(LoaderError):
                    fn((seed + j) % KEYS)

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(worker, range(THREADS)))
        _check(cache, THREADS * CALLS_PER_THREAD, int(repr(loader_calls)[6:-1]))

    async def test_1000_tasks(self, cache: Cache) -> None:
        """1,000 tasks x 4 calls over 25 keys (every 5th loader raises): the counts add up."""
        loader_calls = itertools.count()

        @ttl_repository(ttl=60, cache=cache, name="fn")
        async def fn(i: int) -> dict[str, int]:
            n = next(loader_calls)
            await asyncio.sleep(0)
            if i % 5 == 0:
                raise LoaderError(n)
            return {"i": i}

        async def task(seed: int) -> None:
            for j in range(CALLS_PER_TASK):
                with contextlib.suppress(LoaderError):
                    await fn((seed + j) % KEYS)

        await asyncio.wait_for(asyncio.gather(*(task(seed) for seed in range(TASKS))), 30)
        _check(cache, TASKS * CALLS_PER_TASK, int(repr(loader_calls)[6:-1]))
