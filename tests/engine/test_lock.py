"""
RedisLock and LockedFlight in one process: the token, a dead Redis, a memory cache.

The cross-process single-flight itself (four processes, a killed holder) is in
tests/many/test_lock.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from wa_perfkit._engine.lock import LockedFlight, RedisLock
from wa_perfkit._engine.steps import Flow, Read, run
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.repository import ttl_repository


class TestRedisLock:
    @pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), 10**13, True, "5"])
    def test_an_unusable_ttl_fails_at_construction(self, redis_url: str, ttl: Any) -> None:
        """A TTL Redis would refuse fails when the lock is made, not as a backend error."""
        backend = RedisBackend(redis_url)
        with pytest.raises(ConfigurationError, match="ttl"):
            RedisLock(backend, "k", ttl)
        backend.close()

    def test_token_guards_release(self, redis_url: str, namespace: str) -> None:
        """Only the holder's token releases; an expired holder cannot free a new holder's lock."""
        backend = RedisBackend(redis_url)
        try:
            first = RedisLock(backend, f"{namespace}:l", 0.1)
            second = RedisLock(backend, f"{namespace}:l", 5)
            assert first.acquire() and not second.acquire()
            time.sleep(0.15)  # first expired
            assert second.acquire()
            assert first.release() is False  # not ours any more
            assert not RedisLock(backend, f"{namespace}:l", 5).acquire()
            assert second.release() is True
        finally:
            backend.close()

    def test_dead_redis_degrades_to_a_plain_load(self, redis_server: object) -> None:
        """With Redis gone, the flight just loads: the lock never blocks a caller."""
        backend = RedisBackend(redis_server.url)  # type: ignore[attr-defined]
        cache = Cache(backend, namespace="lock-degrades")
        redis_server.kill()  # type: ignore[attr-defined]

        def check() -> Flow[Any]:
            pytest.fail("no check")
            yield Read("never")

        def load() -> Flow[int]:
            return 42
            yield Read("never")

        try:
            flight = LockedFlight(backend, 5)
            assert run(flight.flow("k", check, load), cache) == 42
        finally:
            backend.close()

    def test_memory_backend_needs_no_lock(self, namespace: str) -> None:
        """lock=True on a memory cache is the per-process single-flight."""
        cache = Cache(MemoryBackend(), namespace=namespace)

        @ttl_repository(ttl=5, cache=cache, lock=True)
        def f(x: int) -> int:
            return x

        assert f(1) == 1 and f(1) == 1 and f.stats().loads == 1
