"""
Markdown for ``benchmarks/run.py``: the tables, the cache-core targets, the document merge.

``--write`` replaces only the "Cache core" section of the document, so the
sections other benchmarks write (authentication, Postgres, many instances)
survive a re-run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path
from typing import Any

from _peers import SKIPPED
from _stampede import StampedeRow
from _timing import ROW_BYTES, fmt, ratio, table

SECTION = "## Cache core"
PLACEHOLDERS = ("## Authentication", "## Postgres", "## Many instances")
SYNC_BASE, ASYNC_BASE = "cachetools.cached(TTLCache, lock)", "async-lru alru_cache(ttl)"
OURS = "wa_perfkit ttl_repository"
COPY_ROW = "wa_perfkit MemoryBackend(copy=True) (JSON bytes)"


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


MEMORY_PEERS = ("cashews mem://", "aiocache @cached memory", "fastapi-cache2 InMemoryBackend",
                "dogpile.cache memory")


def _check(ok: bool) -> str:
    return "yes" if ok else "**no**"


#: The most a Redis hit may cost, as a multiple of raw redis-py GET + json.loads, per mode.
REDIS_GOALS = {"sync": 1.10, "asyncio": 1.15}


def targets_table(
    sync_ns: dict[str, float],
    async_ns: dict[str, float],
    redis_rows: list[tuple[str, str, float, float, str]] | None,
    stampede_rows: list[StampedeRow],
) -> str:
    """
    Render the cache-core targets against what this run measured.
    """
    nan = float("nan")
    out = []
    sync_ratio = sync_ns.get(OURS, nan) / sync_ns.get(SYNC_BASE, nan)
    async_ratio = async_ns.get(OURS, nan) / async_ns.get(ASYNC_BASE, nan)
    out.append(("memory hit, sync: ours ÷ cachetools", "≤ 1.5x", f"{sync_ratio:.2f}x",
                _check(sync_ratio <= 1.5)))
    out.append(("memory hit, asyncio: ours ÷ async-lru", "≤ 1.00x", f"{async_ratio:.2f}x",
                _check(async_ratio <= 1)))
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
            goal = REDIS_GOALS[mode]
            out.append((f"Redis hit, {mode}: ours ÷ raw GET + json.loads", f"≤ {goal:.2f}x",
                        f"{us / raw:.2f}x", _check(us / raw <= goal)))
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
    return table(["target", "goal", "this run", "met"], out)


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
    settings: Any,
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
        "make bench            # installs the bench group, writes this file",
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
