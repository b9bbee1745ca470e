"""
The demo's outputs: the seed's table for people, JSON for machines.
"""

from __future__ import annotations

import json
from typing import Any

from wa_perfkit.demo.runner import ROUTES, DemoResult

__all__ = ["to_json", "to_table"]


def _ms(value: float) -> str:
    if value != value:  # NaN: no sample (the deadline passed first)
        return "n/a"
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def to_table(result: DemoResult) -> str:
    """
    Render the seed's table: endpoint, before p50/p95, after p50/p95, gain.

    Args:
        result: what the demo measured.

    Returns:
        A Markdown table and a few lines saying how it was measured.
    """
    lines = [
        "| Endpoint | Before p50 | Before p95 | After p50 | After p95 | Gain (p50) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for route in ROUTES:
        before, after = result.before[route], result.after[route]
        lines.append(
            f"| `{route}` | {_ms(before.p50_ms)} | {_ms(before.p95_ms)} "
            f"| {_ms(after.p50_ms)} | {_ms(after.p95_ms)} | {result.gain(route):+.1%} |"
        )
    settings = result.settings
    lines += [
        "",
        f"{settings['store']} store, {settings['db_latency_ms']:g} ms simulated round trip per "
        f"query; {settings['cache']} cache; {settings['requests_per_route']} requests per route "
        f"and phase, {settings['concurrency']} in flight ({settings['driver']}).",
        f"Database round trips per request: {result.queries['before']:.2f} before, "
        f"{result.queries['after']:.2f} after; cache hit ratio after warm-up: "
        f"{result.cache['hit_ratio']:.1%}. Total {result.elapsed_s:.1f} s.",
    ]
    if result.errors:
        lines.append(f"WARNING: {result.errors} requests did not answer 2xx.")
    return "\n".join(lines)


def to_json(result: DemoResult) -> str:
    """
    Render every measured figure as JSON (times in milliseconds).

    Args:
        result: what the demo measured.

    Returns:
        A JSON document.
    """
    routes: list[dict[str, Any]] = []
    for route in ROUTES:
        before, after = result.before[route], result.after[route]
        routes.append({
            "endpoint": route,
            "before": vars(before).copy(),
            "after": vars(after).copy(),
            "gain_p50": result.gain(route),
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
