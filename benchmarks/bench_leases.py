"""
What a lease costs on a miss: microseconds per Redis miss of a decorated function.

Every call asks for a key nobody asked for before, so each one is a full miss:
``GET`` (nil), then — with leases — the lease script, the loader, and the
compare-and-set script (without leases: ``SET PX``). One plain ``GET`` round
trip is timed alongside as the unit, and ``INFO commandstats`` of a throwaway
``redis-server`` counts the commands each miss sends. Run it against two
checkouts to compare::

    PYTHONPATH=/path/to/old/src python benchmarks/bench_leases.py
    python benchmarks/bench_leases.py
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
import uuid
from typing import Any

import redis
from _redis import command_counts, per_hit, throwaway_redis

import wa_perfkit
from wa_perfkit import Cache, RedisBackend, ttl_repository

ROW = {"id": "c1", "account_id": "a1", "unread": 3, "tags": ["vip"]}


def _best(run: Any, n: int, repeats: int) -> float:
    return min(run(n) for _ in range(repeats)) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="misses per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with throwaway_redis() as (url, _):
        args.url = url
        _run(args)


def _run(args: argparse.Namespace) -> None:
    namespace = f"bench-lease-{uuid.uuid4().hex[:8]}"
    backend = RedisBackend(args.url)
    cache = Cache(backend, namespace=namespace)
    counter = itertools.count()

    @ttl_repository(ttl=60, cache=cache, name="bench_sync")
    def load(key: int) -> dict[str, Any]:
        return ROW

    @ttl_repository(ttl=60, cache=cache, name="bench_async")
    async def aload(key: int) -> dict[str, Any]:
        return ROW

    raw = redis.Redis.from_url(args.url)

    def misses(n: int) -> float:
        keys = [next(counter) for _ in range(n)]
        started = time.perf_counter()
        for key in keys:
            load(key)
        return time.perf_counter() - started

    def gets(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            raw.get(namespace + ":absent")
        return time.perf_counter() - started

    async def amisses_async(n: int) -> float:
        keys = [next(counter) for _ in range(n)]
        started = time.perf_counter()
        for key in keys:
            await aload(key)
        return time.perf_counter() - started

    loop = asyncio.new_event_loop()

    def amisses(n: int) -> float:
        return loop.run_until_complete(amisses_async(n))

    misses(50), amisses(50), gets(50)  # connections
    before = command_counts(raw)
    misses(100)
    sync_commands = per_hit(before, command_counts(raw), 100)
    before = command_counts(raw)
    amisses(100)
    async_commands = per_hit(before, command_counts(raw), 100)
    result = {
        "GET round trip": _best(gets, args.n, args.repeats),
        "sync miss": _best(misses, args.n, args.repeats),
        "async miss": _best(amisses, args.n, args.repeats),
    }
    print(f"wa_perfkit from {wa_perfkit.__file__}")
    for name, micros in result.items():
        print(f"{name:>16}: {micros:7.1f} µs")
    print(f"commands per sync miss: {sync_commands[0]:.2f} ({sync_commands[1]})")
    print(f"commands per async miss: {async_commands[0]:.2f} ({async_commands[1]})")
    cache.clear()
    loop.run_until_complete(backend.aclose())
    loop.close()
    backend.close()
    raw.close()


if __name__ == "__main__":
    main()
