"""
Cache core benchmarks (issue 3): wa_perfkit against its peers, side by side in one run.

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
import datetime as dt
import os
import platform
import re
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import cachetools
from _peers import SKIPPED, TTL, memory_async, memory_sync, peer
from _stampede import Outcome, Slot, async_stampede, thread_stampede
from _timing import (
    ROW_BYTES,
    async_runner,
    bytes_per_entry,
    fmt,
    interleaved_best,
    make_row,
    ratio,
    sync_runner,
    table,
)

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository

SECTION = "## Cache core (issue 3)"
PLACEHOLDERS = ("## Authentication", "## Postgres", "## Many instances")
SYNC_BASE, ASYNC_BASE = "cachetools.cached(TTLCache, lock)", "async-lru alru_cache(ttl)"
OURS = "wa_perfkit ttl_repository"
COPY_ROW = "wa_perfkit MemoryBackend(copy=True) (JSON bytes)"


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


def memory_table(ns: dict[str, float], base: str) -> str:
    """
    Render ns per hit with the ratio to ``base`` and each contender's time over ours.
    """
    ours = ns.get(OURS, float("nan"))
    rows = [
        (f"**{name}**" if name == OURS else name, fmt(value), ratio(value, ns.get(base, 0.0)),
         ratio(value, ours))
        for name, value in ns.items()
    ]
    return table(["contender", "ns / hit", f"÷ {base}", "÷ ours"], rows)


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


def redis_table(results: list[tuple[str, str, float, float, str]]) -> str:
    """
    Render µs per Redis hit with ratios to the raw client of the same mode.
    """
    raw = {mode: us for mode, name, us, _, _ in results if name.startswith("raw redis")}
    ours = {mode: us for mode, name, us, _, _ in results if name == OURS}
    rows = [
        (mode, f"**{name}**" if name == OURS else name, fmt(us, 1), ratio(us, raw.get(mode, 0)),
         ratio(us, ours.get(mode, 0)), f"{cmds:.2f}", detail)
        for mode, name, us, cmds, detail in results
    ]
    header = ["mode", "contender", "µs / hit", "÷ raw GET+loads", "÷ ours", "cmds / hit",
              "commands per hit"]
    return table(header, rows)
# -- 3. stampede ---------------------------------------------------------------


def _ours_async(cache: Cache) -> Any:
    def make(body: Any) -> Any:
        @ttl_repository(ttl=TTL, cache=cache)
        async def load(row_id: str) -> Any:
            return await body()

        return load

    return make


def _ours_sync(cache: Cache) -> Any:
    def make(body: Any) -> Any:
        @ttl_repository(ttl=TTL, cache=cache)
        def load(row_id: str) -> Any:
            return body()

        return load

    return make


def _aiocache(**options: Any) -> Any:
    aiocache = peer("aiocache")
    if aiocache is None:
        return None

    def make(body: Any) -> Any:
        @aiocache.cached(ttl=TTL, **options)
        async def load(row_id: str) -> Any:
            return await body()

        return load

    return make


def _floor_async(body: Any) -> Any:
    """The least any dedupe can do: one shared task per key, no cache, no key building."""
    tasks: dict[str, Any] = {}

    async def load(row_id: str) -> Any:
        task = tasks.get(row_id)
        if task is None:
            task = tasks[row_id] = asyncio.ensure_future(body())
        return await task

    return load


def _cachetools_sync(body: Any) -> Any:
    @cachetools.cached(cachetools.TTLCache(maxsize=100, ttl=TTL), lock=threading.Lock())
    def load(row_id: str) -> Any:
        return body()

    return load


def _dogpile(backend: str, **arguments: Any) -> Any:
    dogpile = peer("dogpile.cache")
    if dogpile is None:
        return None

    def make(body: Any) -> Any:
        region = dogpile.make_region().configure(
            backend, expiration_time=TTL, arguments=arguments
        )

        @region.cache_on_arguments()
        def load(row_id: str) -> Any:
            return body()

        return load

    return make


StampedeRow = tuple[str, str, str, list[Outcome]]


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
        ("none", "floor: one shared task per key (no cache)", _floor_async, None),
        ("memory", OURS, _ours_async(memory), memory),
        ("memory", "aiocache @cached", _aiocache(), None),
    ]
    thread_contenders: list[tuple[str, str, Any, Cache | None]] = [
        ("memory", OURS, _ours_sync(memory), memory),
        ("memory", "cachetools.cached(lock)", _cachetools_sync, None),
        ("memory", "dogpile.cache memory", _dogpile("dogpile.cache.memory"), None),
    ]
    if redis_cache is not None and url is not None:
        host, port = url.removeprefix("redis://").split("/")[0].split(":")
        aiocache_mod = peer("aiocache")
        async_contenders += [
            ("redis", OURS, _ours_async(redis_cache), redis_cache),
            ("redis", "aiocache @cached RedisCache", _aiocache(
                cache=aiocache_mod.Cache.REDIS, endpoint=host, port=int(port)
            ) if aiocache_mod is not None else None, None),
        ]
        thread_contenders += [
            ("redis", OURS, _ours_sync(redis_cache), redis_cache),
            ("redis", "dogpile.cache redis", _dogpile(
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


def stampede_table(rows: list[StampedeRow]) -> str:
    """
    Render the stampede rows: worst loader runs, best-worst wall ratio, error totals.
    """
    out = []
    for backend, callers, name, outcomes in rows:
        ratios = sorted(o.wall_ratio for o in outcomes)
        first_error = next((o.first_error for o in outcomes if o.first_error), "")
        out.append((
            backend, callers, f"**{name}**" if name == OURS else name,
            max(o.loader_runs for o in outcomes),
            f"{ratios[0]:.2f}x" + (f" - {ratios[-1]:.2f}x" if len(ratios) > 1 else ""),
            sum(o.caller_errors for o in outcomes),
            sum(o.wrong_values for o in outcomes),
            sum(o.logged for o in outcomes),
            sum(o.pool_errors for o in outcomes),
            "n/a" if outcomes[0].absorbed < 0 else sum(o.absorbed for o in outcomes),
            first_error.replace("|", "/") or "-",
        ))
    header = ["backend", "callers", "contender", "loader runs (worst)", "wall ÷ loader",
              "caller errors", "wrong values", "warnings logged", "Too many connections",
              "backend faults absorbed", "first error"]
    return table(header, out)


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


def sizes_table(sizes: dict[str, float], count: int) -> str:
    """
    Render bytes per entry: the cache's own cost and the total with the row.
    """
    row_cost = sizes["rows"]
    base = sizes.get("cachetools.cached(TTLCache, lock)", 0.0)
    sample = f"{min(count, 10_000):,}-row sample"
    out = [(f"one row itself (decoded JSON, {sample})", "-", fmt(row_cost), "-")]
    for name, cost in sizes.items():
        if name != "rows":
            label = f"**{name}**" if name.startswith("wa_perfkit MemoryBackend (") else name
            if name == COPY_ROW:
                label += f" ({max(1, count // 10):,} entries)"
            out.append((label, fmt(cost), fmt(cost + row_cost), ratio(cost, base)))
    return table(
        ["holder", f"bytes / entry it adds ({count:,} entries)", "bytes / entry with the row",
         "÷ cachetools"],
        out,
    )


# -- report --------------------------------------------------------------------

MEMORY_PEERS = ("cashews mem://", "aiocache @cached memory", "fastapi-cache2 InMemoryBackend",
                "dogpile.cache memory")


def _check(ok: bool) -> str:
    return "yes" if ok else "**no**"


def targets_table(
    sync_ns: dict[str, float],
    async_ns: dict[str, float],
    redis_rows: list[tuple[str, str, float, float, str]] | None,
    stampede_rows: list[StampedeRow],
) -> str:
    """
    Render issue 3's targets against what this run measured.
    """
    nan = float("nan")
    out = []
    sync_ratio = sync_ns.get(OURS, nan) / sync_ns.get(SYNC_BASE, nan)
    async_ratio = async_ns.get(OURS, nan) / async_ns.get(ASYNC_BASE, nan)
    out.append(("memory hit, sync: ours ÷ cachetools", "≤ 1.5x", f"{sync_ratio:.2f}x",
                _check(sync_ratio <= 1.5)))
    out.append(("memory hit, asyncio: ours ÷ async-lru", "≤ 2x", f"{async_ratio:.2f}x",
                _check(async_ratio <= 2)))
    peers = {**sync_ns, **async_ns}
    for name in MEMORY_PEERS:
        if name in peers:
            ours = sync_ns[OURS] if name in sync_ns else async_ns[OURS]
            speedup = peers[name] / ours
            out.append((f"memory hit: {name} ÷ ours", "≥ 5x", f"{speedup:.1f}x",
                        _check(speedup >= 5)))
    for mode, name, us, cmds, _ in redis_rows or []:
        if name == OURS:
            raw = next(u for m, n, u, _, _ in redis_rows or [] if m == mode and
                       n.startswith("raw redis"))
            out.append((f"Redis hit, {mode}: ours ÷ raw GET + json.loads", "≤ 1.15x",
                        f"{us / raw:.2f}x", _check(us / raw <= 1.15)))
            out.append((f"Redis hit, {mode}: commands per hit", "exactly 1", f"{cmds:.2f}",
                        _check(cmds == 1)))
    for backend, callers, name, outcomes in stampede_rows:
        if name == OURS:
            runs = max(o.loader_runs for o in outcomes)
            walls = sorted(o.wall_ratio for o in outcomes)
            errors = sum(o.caller_errors + o.pool_errors + max(o.absorbed, 0) for o in outcomes)
            what = f"stampede, {backend}, {callers}"
            out.append((f"{what}: loader runs (worst trial)", "1", str(runs), _check(runs == 1)))
            # Judged on the best trial: the first also opens the pool's connections.
            out.append((f"{what}: wall ÷ loader (best / worst trial)", "≤ 1.2x (best)",
                        f"{walls[0]:.2f}x / {walls[-1]:.2f}x", _check(walls[0] <= 1.2)))
            out.append((f"{what}: errors, pool errors, absorbed faults", "0", str(errors),
                        _check(errors == 0)))
    return table(["target (issue 3)", "goal", "this run", "met"], out)


PEER_DISTS = ("wa-perfkit", "cachetools", "async-lru", "cashews", "aiocache", "dogpile.cache",
              "fastapi-cache2", "redis")


def machine(redis_version: str) -> str:
    """
    Describe the machine, interpreter, Redis and peer versions, as markdown bullets.
    """
    from importlib import metadata

    versions = []
    for dist in PEER_DISTS:
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join([
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, "
        f"{platform.system()} {platform.release()}, load average at the end {load}",
        f"- python: {platform.python_implementation()} {platform.python_version()}",
        f"- redis-server: {redis_version} (throwaway, loopback, no persistence)",
        f"- versions: {', '.join(versions)}",
    ])


def render(
    settings: Settings,
    redis_version: str,
    sync_ns: dict[str, float],
    async_ns: dict[str, float],
    redis_rows: list[tuple[str, str, float, float, str]] | None,
    stampede_rows: list[StampedeRow],
    sizes: dict[str, float],
    elapsed: float,
) -> str:
    """
    Return the "Cache core" section as markdown.
    """
    parts = [
        SECTION,
        "",
        "Produced by `make bench` (`benchmarks/run.py --write docs/benchmarks.md`)"
        + (" — **quick smoke run, not representative**" if settings.quick else "")
        + f", in {elapsed:.0f} s.",
        "",
        machine(redis_version),
        "",
        "**Noise.** The machine has 2 cores shared with other engineers' test runs, so",
        "absolute numbers drift by tens of percent between runs. Each figure is the best",
        "(minimum) of repeated loops, timeit style, and the contenders of one table are",
        "interleaved, in rotating order, within each repeat: the ratios are what to read,",
        "and they hold within a run far better than the absolute figures do.",
        "",
        "### Targets",
        "",
        targets_table(sync_ns, async_ns, redis_rows, stampede_rows),
        "",
        "### Memory hit, sync (ns per call, one string argument, warm key)",
        "",
        memory_table(sync_ns, SYNC_BASE),
        "",
        "### Memory hit, asyncio (ns per awaited call)",
        "",
        memory_table(async_ns, ASYNC_BASE),
        "",
    ]
    if redis_rows is not None:
        parts += [
            f"### Redis hit of a {ROW_BYTES:,}-byte JSON row (20 fields, nested lists)",
            "",
            "µs per hit, best of interleaved repeats; commands per hit from `INFO commandstats`",
            "deltas over a burst of hits (INFO itself left out). Each library stores the row",
            "in its own format: wa_perfkit a JSON envelope, raw the plain JSON, aiocache JSON,",
            "fastapi-cache2 JSON, cashews and dogpile pickle by default.",
            "",
            redis_table(redis_rows),
            "",
        ]
    else:
        parts += ["### Redis hit", "", "Skipped (`--no-redis` or no redis-server).", ""]
    parts += [
        f"### Stampede: one cold key, 50 ms loader, {settings.trials} trial(s) each",
        "",
        "Each contender is decorated once and keeps its connection pool across trials",
        "(the first trial also opens the connections); every trial uses a new cold key.",
        "Loader runs are the worst trial; wall ÷ loader is best - worst trial (the loader's",
        "own measured time is the denominator); errors and logged warnings are totals.",
        "wa_perfkit turns a backend fault into a miss instead of raising, so its faults",
        "are counted separately (`backend faults absorbed`, from its stats).",
        "",
        stampede_table(stampede_rows),
        "",
        f"### Memory per cached 1 KB row ({settings.entries:,} entries, tracemalloc)",
        "",
        "The rows are built before tracing starts, so the first column is what the cache",
        "itself adds per entry (key, entry, table slot; with `copy=True` the JSON bytes);",
        "the rows are decoded from JSON so that no string is shared between them.",
        "",
        sizes_table(sizes, settings.entries),
        "",
    ]
    if SKIPPED:
        parts += ["Peers left out of this run:", ""]
        parts += [f"- `{name}`: {why}" for name, why in sorted(SKIPPED.items())] + [""]
    parts += [
        "### How to reproduce",
        "",
        "```",
        "make bench            # installs .[bench], writes this file",
        ".venv/bin/python benchmarks/run.py --quick    # a few-second smoke run, prints only",
        "```",
        "",
    ]
    return "\n".join(parts)


def merge(path: Path, section: str) -> str:
    """
    Put ``section`` into the document at ``path``, keeping every other section as it is.
    """
    return merge_text(path.read_text(encoding="utf-8") if path.exists() else "", section)


def merge_text(text: str, section: str) -> str:
    """
    Replace the cache-core section of ``text`` (or start a document with placeholders).
    """
    if SECTION not in text:
        placeholders = "\n".join(f"{h}\n\nSee below / to be merged.\n" for h in PLACEHOLDERS)
        return f"# Benchmarks\n\n{section}\n{placeholders}"
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    return pattern.sub(lambda _: section + "\n", text, count=1)


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
