"""
The demo's outputs: a table for people, JSON for machines.

The table has one row per route: its p50 and p95 with caching off and on, how
many times faster the median request is with the cache, and what the route
still reads from the database with everything cacheable in the cache.
"""

from __future__ import annotations

import json
import math
from typing import Any

from wa_perfkit.demo.runner import FRESH_READS, ROUTES, DemoResult

__all__ = ["speed_up", "to_json", "to_table"]


def _ms(value: float) -> str:
    if value != value:  # NaN: no sample (the deadline passed first)
        return "n/a"
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def speed_up(without_ms: float, with_ms: float) -> str:
    """
    Say how many times faster the cached median is: ``"×650 faster"``, ``"×1.5 slower"``.

    Args:
        without_ms: the p50 with caching off.
        with_ms: the p50 with caching on.

    Returns:
        The ratio in words (two significant digits below 10), or ``"n/a"`` when a
        phase has no sample.
    """
    if not (without_ms > 0 and with_ms > 0):  # NaN (no sample) or a zero reading
        return "n/a"
    ratio = without_ms / with_ms
    word = "faster" if ratio >= 1 else "slower"
    ratio = max(ratio, 1 / ratio)
    return f"×{ratio:,.0f} {word}" if ratio >= 10 else f"×{ratio:.1f} {word}"


def _where(settings: dict[str, Any]) -> str:
    if settings["store"] == "postgres":
        data = "sample data in your Postgres (a schema of its own, dropped afterwards)"
        if settings["db_latency_ms"]:
            data += f", plus {settings['db_latency_ms']:g} ms simulated per query"
    else:
        data = (
            f"built-in sample data, {settings['db_latency_ms']:g} ms simulated database "
            "round trip per query"
        )
    cache = "in Redis" if settings["cache"] == "redis" else "in process memory"
    return f"{data}; cache {cache}"


def to_table(result: DemoResult) -> str:
    """
    Render the table: p50/p95 per route without and with the cache, the speed-up.

    Args:
        result: what the demo measured.

    Returns:
        A Markdown table and a few lines saying how it was measured.
    """
    lines = [
        "| Route | No cache p50 | No cache p95 | Cached p50 | Cached p95 | Speed-up (p50) "
        "| Database reads left with the cache |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for route in ROUTES:
        before, after = result.before[route], result.after[route]
        lines.append(
            f"| `{route}` | {_ms(before.p50_ms)} | {_ms(before.p95_ms)} "
            f"| {_ms(after.p50_ms)} | {_ms(after.p95_ms)} "
            f"| {speed_up(before.p50_ms, after.p50_ms)} | {FRESH_READS[route]} |"
        )
    settings = result.settings
    lines += [
        "",
        f"Measured on this machine: {_where(settings)}. The same "
        f"{settings['requests_per_route']} requests per route ran with caching off, then on "
        f"(after one request of each kind filled the cache), {settings['concurrency']} at a "
        f"time, as {settings['driver']}.",
        f"Database queries per request: {result.queries['before']:.2f} without the cache, "
        f"{result.queries['after']:.2f} with it; cache hit ratio "
        f"{result.cache['hit_ratio']:.1%}. Total {result.elapsed_s:.1f} s.",
    ]
    if result.cache.get("backend_errors"):
        lines.append(
            f"WARNING: the cache failed {result.cache['backend_errors']:g} times (those "
            "requests ran without it)."
        )
    if result.errors:
        lines.append(f"WARNING: {result.errors} requests did not answer 2xx.")
    return "\n".join(lines)


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity: a phase without samples gives null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(result: DemoResult) -> str:
    """
    Render every measured figure as JSON (times in milliseconds).

    Args:
        result: what the demo measured.

    Returns:
        A JSON document; a figure without samples (the time bound passed first) is null.
    """
    routes: list[dict[str, Any]] = []
    for route in ROUTES:
        before, after = result.before[route], result.after[route]
        routes.append({
            "endpoint": route,
            "before": {name: _finite(value) for name, value in vars(before).items()},
            "after": {name: _finite(value) for name, value in vars(after).items()},
            "gain_p50": _finite(result.gain(route)),
            "speed_up_p50": _finite(result.speed_up(route)),
            "fresh_reads": FRESH_READS[route],
        })
    document = {
        "routes": routes,
        "settings": result.settings,
        "db_queries_per_request": result.queries,
        "cache": result.cache,
        "errors": result.errors,
        "elapsed_s": result.elapsed_s,
    }
    return json.dumps(document, indent=2, allow_nan=False, default=str)

