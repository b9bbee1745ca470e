"""
lock=True: a cross-process single-flight on Redis (and on a Redis Cluster).
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
import redis

from wa_perfkit._engine.lock import LockedFlight, RedisLock
from wa_perfkit._engine.steps import Flow, Read, run
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.repository import ttl_repository


def _locker(url: str, namespace: str, mode: str, callers: int, start: float,
            load: float, lock_ttl: float) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.many._locker", url, namespace, mode,
            str(callers), str(start), str(load), str(lock_ttl)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


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


@pytest.mark.parametrize("where", ["redis", "cluster"])
def test_four_processes_load_once(
    where: str, redis_url: str, namespace: str, request: pytest.FixtureRequest
) -> None:
    """4 processes x 100 concurrent callers on one cold key, 200 ms loader: one load in total."""
    url = redis_url
    if where == "cluster":
        url = request.getfixturevalue("cluster").url + "#cluster"
    start = time.time() + 1.5  # every process imported and waiting before the stampede
    procs = [
        _locker(url, namespace, mode, 100, start, 0.2, 5)
        for mode in ("async", "async", "sync", "sync")
    ]
    outputs = [p.communicate(timeout=30)[0] for p in procs]
    plain = url.removesuffix("#cluster")
    client = (redis.RedisCluster if where == "cluster" else redis.Redis).from_url(plain)
    try:
        runs = int(client.get(f"{namespace}:runs") or 0)
        if where == "cluster":
            client.delete(f"{namespace}:runs", f"{namespace}:1:lock")
    finally:
        client.close()
    assert all(p.returncode == 0 for p in procs), outputs
    assert [o.count("loading") for o in outputs].count(1) == 1, outputs
    assert all(o.strip().endswith("done 100 1") for o in outputs), outputs
    assert runs == 1


def test_killed_holder_blocks_no_longer_than_lock_ttl(redis_url: str, namespace: str) -> None:
    """The holder dies mid-load: another process loads once the 1 s lock has expired."""
    holder = _locker(redis_url, namespace, "sync", 1, 0, 30, 1.0)
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 10
        lock_keys: list[bytes] = []
        while not lock_keys and time.monotonic() < deadline:
            lock_keys = list(client.scan_iter(match=f"{namespace}:*:lock"))
            time.sleep(0.005)
        assert lock_keys
        locked_at = time.monotonic()
        holder.kill()  # mid-load: its lock stays until it expires
        second = _locker(redis_url, namespace, "sync", 10, 0, 0, 1.0)
        output = second.communicate(timeout=20)[0]
    finally:
        holder.kill()
        holder.communicate(timeout=10)
        client.close()
    loads = [line for line in output.splitlines() if line.startswith("loading")]
    assert len(loads) == 1 and output.strip().endswith("done 10 1"), output
    waited = float(loads[0].split()[1]) - locked_at
    # Not before the 1 s lock expired; and well before any other timeout (a waiter that
    # ignored the expiry would sit out its 30 s wait). The generous upper bound leaves
    # room for a second interpreter starting on a loaded machine.
    assert 0.9 <= waited <= 8.0, waited
