"""
Timing and sizing helpers for ``benchmarks/run.py``: pure, bounded, no services.

Timing is timeit-style: each contender runs a calibrated loop of N calls, the
loop is repeated, and the best (minimum) time per call is kept — the minimum
is the run least disturbed by the other processes on the machine. Contenders
are interleaved within each repeat, and the order rotates between repeats, so
a burst of load elsewhere hits every contender alike and the ratios between
them hold even when absolute numbers drift.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import timeit
import tracemalloc
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Runner = Callable[[int], float]  # run(n) -> seconds for n calls


def make_row(i: int = 0) -> dict[str, Any]:
    """
    Return a ~1 KB JSON-able row: about 20 fields of strings, ints, a nested list.
    """
    return {
        "id": f"c0a8{i:08d}-7c1e-4b6e-9a51-2f4d5e6a7b8c",
        "account_id": "5f0c9d3e-1b2a-4c8d-9e7f-6a5b4c3d2e1f",
        "client_number": f"+4479{i:08d}",
        "client_name": "Zoë Müller-Łukasiewicz",
        "status": "open",
        "assigned_to": "agent-17",
        "unread": i % 7,
        "priority": 2,
        "channel": "whatsapp",
        "language": "de",
        "timezone": "Europe/Berlin",
        "assignee_email": "agent.seventeen@example.com",
        "created_at": "2025-11-25T10:15:30.123456+00:00",
        "updated_at": "2025-11-25T11:42:01.654321+00:00",
        "last_message_id": f"wamid.HBgLNDQ3OTAwMDAwMDAVAgASGBQzQTk{i:010d}",
        "last_message_preview": "Hi! Can you confirm order #48213 ships this week? Thanks 🙏",
        "tags": ["vip", "billing", "de", "returning"],
        "labels": [{"id": 3, "name": "priority"}, {"id": 9, "name": "refund"}],
        "counts": [12, 40, 3, 0, 7],
        "sla_seconds": 3600,
        "is_archived": False,
        "notes": "Customer prefers German; escalate billing questions to tier 2. " * 3,
    }


ROW_BYTES = len(json.dumps(make_row()).encode())


def calibrate(run: Runner, target_s: float, cap: int = 2_000_000) -> int:
    """
    Return the smallest power-of-2 call count whose loop takes at least ``target_s``.
    """
    n = 1
    while n < cap:
        if run(n) >= target_s:
            return n
        n *= 2
    return cap


def interleaved_best(
    runners: dict[str, Runner],
    *,
    repeats: int,
    target_s: float,
    budget_s: float,
) -> dict[str, float]:
    """
    Return the best seconds per call of each runner, repeats interleaved.

    Args:
        runners: name -> ``run(n)`` returning the seconds n calls took.
        repeats: the most rounds; every round runs each contender once.
        target_s: seconds one contender's loop should take (calibrated once).
        budget_s: stop after the round that crosses this many seconds.
    """
    numbers = {name: calibrate(run, target_s) for name, run in runners.items()}
    best = dict.fromkeys(runners, float("inf"))
    names = list(runners)
    deadline = time.monotonic() + budget_s
    for round_ in range(repeats):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            n = numbers[name]
            best[name] = min(best[name], runners[name](n) / n)
        if time.monotonic() > deadline:
            break
    return best


def sync_runner(func: Callable[[Any], Any], arg: Any) -> Runner:
    """
    Time ``func(arg)`` with `timeit` (gc off during the loop, as timeit does).
    """
    timer = timeit.Timer("f(a)", globals={"f": func, "a": arg})
    return timer.timeit


def async_runner(
    loop: asyncio.AbstractEventLoop, func: Callable[[Any], Awaitable[Any]], arg: Any
) -> Runner:
    """
    Time ``await func(arg)`` in a loop inside one task of ``loop`` (gc off, as timeit).
    """

    async def body(n: int) -> float:
        rng = range(n)
        start = time.perf_counter()
        for _ in rng:
            await func(arg)
        return time.perf_counter() - start

    def run(n: int) -> float:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return loop.run_until_complete(body(n))
        finally:
            if enabled:
                gc.enable()

    return run


def traced_bytes(fill: Callable[[], Any]) -> tuple[int, Any]:
    """
    Return (bytes still allocated after ``fill()``, its result), measured by tracemalloc.
    """
    # No collection before: freeing blocks allocated before tracing starts is not counted.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = fill()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept


def json_rows(count: int) -> list[dict[str, Any]]:
    """
    Return ``count`` distinct rows decoded from JSON, as a driver would hand them over.
    """
    return [json.loads(json.dumps(make_row(i))) for i in range(count)]


def bytes_per_entry(
    fillers: dict[str, tuple[Callable[[list[dict[str, Any]]], Any], int]],
) -> dict[str, float]:
    """
    Bytes each cache adds per entry, each filled with its own count of prebuilt rows.

    The rows exist before tracing starts, so what is measured is the cache's
    own cost per entry (keys, entry tuples, table slots, copies if it makes
    any). The cost is linear in the count, so a slow filler (tracemalloc
    makes every allocation expensive) may use fewer entries. The ``rows``
    entry is the size of one row itself, from a sample of 10,000 or fewer.
    """
    largest = max(count for _, count in fillers.values())
    sample = min(largest, 10_000)
    rows_cost, _ = traced_bytes(lambda: json_rows(sample))
    rows = json_rows(largest)
    result = {"rows": rows_cost / sample}
    for name, (fill, count) in fillers.items():
        cost, kept = traced_bytes(lambda fill=fill, count=count: fill(rows[:count]))
        result[name] = cost / count
        del kept
    return result


def ratio(value: float, base: float) -> str:
    """
    Format ``value / base`` as ``1.23x`` (or ``n/a``).
    """
    if not base or base != base or value != value or base == float("inf"):
        return "n/a"
    return f"{value / base:.2f}x"


def fmt(value: float, digits: int = 0) -> str:
    """
    Format a number with thousands separators, or ``n/a`` for inf/nan.
    """
    if value != value or value in (float("inf"), float("-inf")):
        return "n/a"
    return f"{value:,.{digits}f}"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """
    Render a markdown table.
    """
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
