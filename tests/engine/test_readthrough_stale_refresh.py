"""
Stale-while-revalidate under load: refreshes are bounded per key and per cache.
"""

from __future__ import annotations

import asyncio
import threading

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository
from wa_perfkit.testing import FakeClock

KEYS = 300


def _refresh_threads() -> int:
    return sum(t.name.startswith("wa_perfkit-refresh") for t in threading.enumerate())


class TestBoundedRefresh:
    def test_one_thread_reading_many_stale_keys_starts_few_refreshes(self) -> None:
        """Reading 300 stale keys starts a bounded number of refreshes, not 300 threads."""
        clock = FakeClock()
        cache = Cache(MemoryBackend(), namespace="stale-bound", clock=clock)
        gate = threading.Event()
        refreshing = threading.Semaphore(0)
        stale = False

        @ttl_repository(ttl=10, stale_ttl=1000, cache=cache)
        def load(key: int) -> str:
            if stale:
                refreshing.release()
                gate.wait(10)
            return f"v{key}"

        for key in range(KEYS):
            assert load(key) == f"v{key}"
        clock.advance(11)
        stale = True
        try:
            for key in range(KEYS):
                assert load(key) == f"v{key}"  # served stale, never blocked
            assert _refresh_threads() <= 8
            assert load.stats().stale_hits == KEYS
        finally:
            gate.set()
        assert refreshing.acquire(timeout=5)  # refreshes did start
        for thread in threading.enumerate():
            if thread.name.startswith("wa_perfkit-refresh"):
                thread.join(5)
        assert load.stats().loads <= KEYS + 8

    def test_one_refresh_per_key(self) -> None:
        """Many stale reads of one key start one refresh while it runs."""
        clock = FakeClock()
        cache = Cache(MemoryBackend(), namespace="stale-one", clock=clock)
        gate, entered = threading.Event(), threading.Event()
        calls = []

        @ttl_repository(ttl=10, stale_ttl=1000, cache=cache)
        def load(key: str) -> str:
            calls.append(key)
            if len(calls) > 1:
                entered.set()
                gate.wait(10)
            return key

        load("k")
        clock.advance(11)
        load("k")
        assert entered.wait(5)
        for _ in range(50):
            load("k")
        gate.set()
        for thread in threading.enumerate():
            if thread.name.startswith("wa_perfkit-refresh"):
                thread.join(5)
        assert len(calls) == 2

    async def test_async_refreshes_are_bounded(self) -> None:
        """One task reading 300 stale keys starts a bounded number of refresh tasks."""
        clock = FakeClock()
        cache = Cache(MemoryBackend(), namespace="astale-bound", clock=clock)
        gate = asyncio.Event()
        stale = False

        @ttl_repository(ttl=10, stale_ttl=1000, cache=cache)
        async def load(key: int) -> str:
            if stale:
                await gate.wait()
            return f"v{key}"

        for key in range(KEYS):
            assert await load(key) == f"v{key}"
        clock.advance(11)
        stale = True
        before = len(asyncio.all_tasks())
        for key in range(KEYS):
            assert await load(key) == f"v{key}"
        started = len(asyncio.all_tasks()) - before
        gate.set()
        assert 1 <= started <= 8
        for _ in range(100):
            if len(asyncio.all_tasks()) <= before:
                break
            await asyncio.sleep(0)
        assert load.stats().loads <= KEYS + 8
