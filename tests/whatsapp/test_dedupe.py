"""
Tests of `wa_perfkit.whatsapp.dedupe` on memory and on a real Redis.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.whatsapp._redis import redis_backend
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import BackendError, ConfigurationError, InvalidPayload
from wa_perfkit.whatsapp.dedupe import adedupe, aforget, dedupe, dedupe_key, forget


class _BrokenBackend(MemoryBackend):
    """A backend whose set-if-absent always fails, like a Redis that went away."""

    def add(self, key: str, value: Any, ttl: float) -> bool:
        raise BackendError("BrokenBackend", "add", "connection refused")

    async def aadd(self, key: str, value: Any, ttl: float) -> bool:
        raise BackendError("BrokenBackend", "add", "connection refused")


@pytest.fixture(name="cache")
def fixture_cache() -> Cache:
    return Cache(MemoryBackend(maxsize=100_000), namespace="wa-dedupe")


class TestDedupeMemory:
    def test_first_time_once(self, cache: Cache) -> None:
        """The first call for an id says True, every later one False."""
        assert dedupe(cache, "wamid.A") is True
        assert dedupe(cache, "wamid.A") is False
        assert dedupe(cache, "wamid.B") is True

    async def test_async_twin(self, cache: Cache) -> None:
        """adedupe shares the marks of dedupe."""
        assert await adedupe(cache, "wamid.A") is True
        assert dedupe(cache, "wamid.A") is False
        assert await adedupe(cache, "wamid.A") is False

    def test_forget_allows_reprocessing(self, cache: Cache) -> None:
        """After forget, the next delivery of the id is new again."""
        dedupe(cache, "wamid.A")
        assert forget(cache, "wamid.A") is True
        assert dedupe(cache, "wamid.A") is True

    async def test_aforget(self, cache: Cache) -> None:
        """aforget is the async twin of forget."""
        await adedupe(cache, "wamid.A")
        assert await aforget(cache, "wamid.A") is True
        assert await adedupe(cache, "wamid.A") is True

    def test_expires_after_ttl(self, cache: Cache) -> None:
        """An id is remembered for ttl seconds only."""
        assert dedupe(cache, "wamid.A", ttl=0.05)
        time.sleep(0.1)
        assert dedupe(cache, "wamid.A", ttl=0.05)

    def test_threads_race_exactly_once(self, cache: Cache) -> None:
        """16 threads racing on the same 200 ids accept each exactly once."""
        ids = [f"wamid.{i}" for i in range(200)]
        accepted: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(16)

        def worker() -> None:
            start.wait(timeout=10)
            mine = [i for i in ids if dedupe(cache, i)]
            with lock:
                accepted.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert sorted(accepted) == sorted(ids)

    async def test_tasks_race_exactly_once(self, cache: Cache) -> None:
        """500 concurrent tasks over 50 ids accept each exactly once."""
        ids = [f"wamid.{i % 50}" for i in range(500)]
        results = await asyncio.gather(*(adedupe(cache, i) for i in ids))
        assert Counter(i for i, ok in zip(ids, results, strict=True) if ok) == Counter(set(ids))

    def test_status_keys_are_distinct_per_status(self, cache: Cache) -> None:
        """Sent, delivered and read updates of one message are three first-times."""
        assert all(dedupe(cache, f"wamid.OUT:{s}") for s in ("sent", "delivered", "read"))

    @pytest.mark.parametrize("bad", ["", None, 42])
    def test_bad_id(self, cache: Cache, bad: object) -> None:
        """An empty or non-string id is an InvalidPayload, not a silent True."""
        with pytest.raises(InvalidPayload):
            dedupe(cache, bad)  # type: ignore[arg-type]

    @pytest.mark.parametrize("ttl", [0, -1.0, float("nan")])
    def test_bad_ttl(self, cache: Cache, ttl: float) -> None:
        """A non-positive TTL is a configuration error."""
        with pytest.raises(ConfigurationError):
            dedupe(cache, "wamid.A", ttl=ttl)

    def test_key_layout(self, cache: Cache) -> None:
        """Marks live under ``<namespace>:<version>:wa:dedupe:<id>``."""
        assert cache.full_key(dedupe_key("wamid.A")) == "wa-dedupe:1:wa:dedupe:wamid.A"


class TestBackendFailure:
    def test_failure_is_first_time_and_warns(self, caplog: pytest.LogCaptureFixture) -> None:
        """A failing backend never drops a message: the id counts as new, with a warning."""
        cache = Cache(_BrokenBackend(), namespace="broken")
        with caplog.at_level(logging.WARNING, logger="wa_perfkit"):
            assert dedupe(cache, "wamid.A") is True
            assert dedupe(cache, "wamid.A") is True
        assert any("at-least-once" in r.getMessage() for r in caplog.records)

    async def test_async_failure_is_first_time(self) -> None:
        """The async twin degrades the same way."""
        cache = Cache(_BrokenBackend(), namespace="broken")
        assert await adedupe(cache, "wamid.A") is True


class TestDedupeRedis:
    def test_sync_on_redis(self, redis_cache: Cache, redis_url: str) -> None:
        """On Redis the mark is shared by independent Cache objects (other instances)."""
        assert dedupe(redis_cache, "wamid.R") is True
        other = Cache(redis_backend(redis_url), namespace=redis_cache.namespace)
        try:
            assert dedupe(other, "wamid.R") is False
        finally:
            other.close()

    async def test_async_on_redis(self, aredis_cache: Cache) -> None:
        """adedupe is atomic on Redis: 300 concurrent tasks over 30 ids accept each once."""
        ids = [f"wamid.{i % 30}" for i in range(300)]
        results = await asyncio.gather(*(adedupe(aredis_cache, i) for i in ids))
        assert sorted(i for i, ok in zip(ids, results, strict=True) if ok) == sorted(set(ids))
