"""
Cache core benchmarks: wa_perfkit against its peers, side by side in one run.

    python benchmarks/run.py                       # print the markdown
    python benchmarks/run.py --write docs/benchmarks.md
    python benchmarks/run.py --quick               # a smoke run of a few seconds

Sections, each reported as ratios measured within this one run:

1. ns per memory hit of a decorated one-string-argument function, sync and
   async, against a plain call, lru_cache, cachetools, async-lru, cashews,
   aiocache, dogpile.cache and fastapi-cache2;
2. µs per Redis hit of a ~1 KB JSON row against raw redis-py GET +
   json.loads, with Redis commands per hit from ``INFO commandstats``;
3. stampede: 500 asyncio tasks and 64 threads on one cold key (50 ms loader);
4. bytes per cached 1 KB row for 100,000 entries (tracemalloc).

Everything is bounded in count and time. Redis is a throwaway
``redis-server`` started on a free loopback port and killed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import cachetools
from _peers import (
    TTL,
    memory_async,
    memory_sync,
    peer,
    stampede_aiocache,
    stampede_cachetools,
    stampede_dogpile,
    stampede_floor_async,
    stampede_ours_async,
    stampede_ours_sync,
)
from _report import (
    ASYNC_BASE,
    COPY_ROW,
    OURS,
    PLACEHOLDERS,
    SECTION,
    SYNC_BASE,
    merge,
    merge_text,
    render,
)
from _stampede import Outcome, Slot, StampedeRow, async_stampede, thread_stampede
from _timing import async_runner, bytes_per_entry, interleaved_best, make_row, sync_runner

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository

#: Re-exported for tests/test_benchmarks_smoke.py.
__all__ = ["ASYNC_BASE", "COPY_ROW", "OURS", "PLACEHOLDERS", "SECTION", "SYNC_BASE", "Settings",
           "main", "memory_hits", "memory_sizes", "merge", "merge_text", "redis_hits",
           "stampedes"]


class Settings:
    """Counts and time budgets of a full or a quick run."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.repeats = 5 if quick else 25
        self.target_s = 0.004 if quick else 0.02
        self.budget_s = 2.0 if quick else 25.0
        self.redis_repeats = 3 if quick else 15
        self.redis_target_s = 0.005 if quick else 0.02
        self.callers_async = 50 if quick else 500
        self.callers_threads = 8 if quick else 64
        self.trials = 1 if quick else 3
        self.entries = 2_000 if quick else 100_000


# -- 1. memory hits ------------------------------------------------------------


def memory_hits(settings: Settings) -> tuple[dict[str, float], dict[str, float]]:
    """
    Return ns per hit of each sync and each async contender.
    """
    row = make_row()
    sync = memory_sync(row)
    for func in sync.values():
        func("row-1")
    sync_ns = interleaved_best(
        {name: sync_runner(func, "row-1") for name, func in sync.items()},
        repeats=settings.repeats, target_s=settings.target_s, budget_s=settings.budget_s,
    )
    loop = asyncio.new_event_loop()
    try:
        contenders = loop.run_until_complete(_build_async(row))
        async_ns = interleaved_best(
            {name: async_runner(loop, func, "row-1") for name, func in contenders.items()},
            repeats=settings.repeats, target_s=settings.target_s, budget_s=settings.budget_s,
        )
    finally:
        loop.close()
    return _to_ns(sync_ns), _to_ns(async_ns)


async def _build_async(row: dict[str, Any]) -> dict[str, Any]:
    contenders = memory_async(row)
    for func in contenders.values():
        await func("row-1")
    return contenders


def _to_ns(seconds: dict[str, float]) -> dict[str, float]:
    return {name: value * 1e9 for name, value in seconds.items()}


# -- 2. Redis hits -------------------------------------------------------------


def redis_hits(settings: Settings, url: str) -> list[tuple[str, str, float, float, str]]:
    """
    Return (mode, contender, µs per hit, commands per hit, command detail) rows.
    """
    import redis
    from _redis import close_async, close_sync, command_counts, per_hit, redis_async, redis_sync

    row = make_row()
    control = redis.Redis.from_url(url)
    results: list[tuple[str, str, float, float, str]] = []
    count_hits = 50 if settings.quick else 200
    sync, closers = redis_sync(url, row)
    try:
        best = interleaved_best(
            {name: sync_runner(func, "row-1") for name, func in sync.items()},
            repeats=settings.redis_repeats, target_s=settings.redis_target_s,
            budget_s=settings.budget_s,
        )
        for name, func in sync.items():
            before = command_counts(control)
            for _ in range(count_hits):
                func("row-1")
            cmds, detail = per_hit(before, command_counts(control), count_hits)
            results.append(("sync", name, best[name] * 1e6, cmds, detail))
    finally:
        close_sync(closers)

    loop = asyncio.new_event_loop()
    try:
        contenders, closers = loop.run_until_complete(redis_async(url, row))
        try:
            best = interleaved_best(
                {name: async_runner(loop, func, "row-1") for name, func in contenders.items()},
                repeats=settings.redis_repeats, target_s=settings.redis_target_s,
                budget_s=settings.budget_s,
            )
            for name, func in contenders.items():
                before = command_counts(control)
                loop.run_until_complete(_hits(func, count_hits))
                cmds, detail = per_hit(before, command_counts(control), count_hits)
                results.append(("asyncio", name, best[name] * 1e6, cmds, detail))
        finally:
            loop.run_until_complete(close_async(closers))
    finally:
        loop.close()
        control.close()
    return results


async def _hits(func: Any, n: int) -> None:
    for _ in range(n):
        await func("row-1")


# -- 3. stampede ---------------------------------------------------------------


def stampedes(settings: Settings, url: str | None) -> list[StampedeRow]:
    """
    Return (backend, callers, contender, outcomes of each trial) rows.
    """
    row = make_row()
    rows: list[StampedeRow] = []
    memory = Cache(MemoryBackend(maxsize=10_000), namespace="stampede")
    redis_cache = None
    if url is not None:
        from wa_perfkit.backends.redis import RedisBackend

        redis_cache = Cache(RedisBackend(url), namespace="stampede")
    n_tasks, n_threads = settings.callers_async, settings.callers_threads
    tasks, threads = f"{n_tasks} asyncio tasks", f"{n_threads} threads"

    async_contenders: list[tuple[str, str, Any, Cache | None]] = [
        ("none", "floor: one shared task per key (no cache)", stampede_floor_async, None),
        ("memory", OURS, stampede_ours_async(memory), memory),
        ("memory", "aiocache @cached", stampede_aiocache(), None),
    ]
    thread_contenders: list[tuple[str, str, Any, Cache | None]] = [
        ("memory", OURS, stampede_ours_sync(memory), memory),
        ("memory", "cachetools.cached(lock)", stampede_cachetools, None),
        ("memory", "dogpile.cache memory", stampede_dogpile("dogpile.cache.memory"), None),
    ]
    if redis_cache is not None and url is not None:
        host, port = url.removeprefix("redis://").split("/")[0].split(":")
        aiocache_mod = peer("aiocache")
        async_contenders += [
            ("redis", OURS, stampede_ours_async(redis_cache), redis_cache),
            ("redis", "aiocache @cached RedisCache", stampede_aiocache(
                cache=aiocache_mod.Cache.REDIS, endpoint=host, port=int(port)
            ) if aiocache_mod is not None else None, None),
        ]
        thread_contenders += [
            ("redis", OURS, stampede_ours_sync(redis_cache), redis_cache),
            ("redis", "dogpile.cache redis", stampede_dogpile(
                "dogpile.cache.redis", url=url, redis_expiration_time=TTL * 2
            ), None),
        ]

    loop = asyncio.new_event_loop()
    try:
        for backend, name, make, cache in async_contenders:
            if make is not None:
                slot = Slot()
                func = make(slot.abody)
                outcomes = [
                    _absorbed(cache, partial(
                        loop.run_until_complete, async_stampede(func, slot, row, callers=n_tasks)
                    ))
                    for _ in range(settings.trials)
                ]
                rows.append((backend, tasks, name, outcomes))
        if redis_cache is not None:
            loop.run_until_complete(redis_cache.aclose())
    finally:
        loop.close()
    for backend, name, make, cache in thread_contenders:
        if make is not None:
            slot = Slot()
            func = make(slot.body)
            outcomes = [
                _absorbed(cache, partial(thread_stampede, func, slot, row, callers=n_threads))
                for _ in range(settings.trials)
            ]
            rows.append((backend, threads, name, outcomes))
    if redis_cache is not None:
        redis_cache.close()
    return rows


def _absorbed(cache: Cache | None, trial: Any) -> Outcome:
    """Run one trial; for our caches, also count the backend faults absorbed as misses."""
    before = cache.stats().backend_errors if cache is not None else 0
    outcome: Outcome = trial()
    if cache is not None:
        outcome.absorbed = cache.stats().backend_errors - before
    return outcome


# -- 4. memory per entry -------------------------------------------------------


def memory_sizes(settings: Settings) -> dict[str, float]:
    """
    Return bytes each cache adds per 1 KB row held, and the row objects' own size.
    """
    count = settings.entries

    def ours_with(copy: bool) -> Any:
        def fill(rows: list[dict[str, Any]]) -> Any:
            count = len(rows)
            cache = Cache(MemoryBackend(maxsize=count * 2, copy=copy), namespace="size")

            @ttl_repository(ttl=TTL, cache=cache)
            def get_row(row_id: str) -> Any:
                return rows[int(row_id[4:])]

            for i in range(count):
                get_row(f"row-{i}")
            assert len(cache.backend) == count  # type: ignore[arg-type]
            return cache

        return fill

    def cachetools_fill(rows: list[dict[str, Any]]) -> Any:
        count = len(rows)
        store: cachetools.TTLCache[Any, Any] = cachetools.TTLCache(maxsize=count * 2, ttl=TTL)

        @cachetools.cached(store, lock=threading.Lock())
        def get_row(row_id: str) -> Any:
            return rows[int(row_id[4:])]

        for i in range(count):
            get_row(f"row-{i}")
        assert len(store) == count
        return store

    def dict_fill(rows: list[dict[str, Any]]) -> Any:
        return {f"row-{i}": row for i, row in enumerate(rows)}

    # copy=True encodes every row under tracemalloc (slow): a tenth is as exact per entry.
    return bytes_per_entry({
        "wa_perfkit MemoryBackend (objects, default)": (ours_with(copy=False), count),
        "cachetools.cached(TTLCache, lock)": (cachetools_fill, count),
        "plain dict[str, row] (floor)": (dict_fill, count),
        COPY_ROW: (ours_with(copy=True), max(1, count // 10)),
    })


def main(argv: list[str] | None = None) -> int:
    """
    Run every section and print (or write) the markdown.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, metavar="PATH", help="write markdown to PATH")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis sections")
    args = parser.parse_args(argv)
    settings = Settings(args.quick)
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    say("memory hits")
    sync_ns, async_ns = memory_hits(settings)
    say("memory per entry")
    sizes = memory_sizes(settings)
    redis_rows, redis_version, url = None, "not run", None
    if args.no_redis:
        say("stampede (memory only)")
        stampede_rows = stampedes(settings, None)
    else:
        from _redis import throwaway_redis

        with throwaway_redis() as (url, redis_version):
            say(f"redis hits on {url}")
            redis_rows = redis_hits(settings, url)
            say("stampede")
            stampede_rows = stampedes(settings, url)
    section = render(settings, redis_version, sync_ns, async_ns, redis_rows, stampede_rows,
                     sizes, time.monotonic() - started)
    if args.write:
        args.write.write_text(merge(args.write, section), encoding="utf-8")
        say(f"wrote {args.write}")
    else:
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
