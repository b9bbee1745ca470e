"""
A load driver for the fault tests: N concurrent callers, every call timed and checked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """One call: when it started (monotonic), how long it took, and whether it was right."""

    started: float
    seconds: float
    correct: bool


@dataclass
class Load:
    """What N callers saw; stats snapshots of the cached function are sampled alongside."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    # (monotonic time, hits, misses) every `tick` seconds.
    ticks: list[tuple[float, int, int]] = field(default_factory=list)

    def latencies(self, start: float, end: float) -> list[float]:
        """Sorted call latencies of calls started in [start, end)."""
        return sorted(s.seconds for s in self.samples if start <= s.started < end)

    def hit_ratio_after(self, when: float, window: float = 0.5) -> float | None:
        """
        Return how long after ``when`` the hit ratio over ``window`` first exceeds 90%.
        """
        ticks = [t for t in self.ticks if t[0] >= when]
        for i, (t0, h0, m0) in enumerate(ticks):
            for t1, h1, m1 in ticks[i + 1 :]:
                if t1 - t0 >= window:
                    reads = (h1 - h0) + (m1 - m0)
                    if reads and (h1 - h0) / reads > 0.9:
                        return t0 - when
                    break
        return None


def p99(values: list[float]) -> float:
    """The 99th percentile of sorted ``values`` (0 when empty)."""
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def run_threads(
    call: Callable[[int], Any],
    expect: Callable[[int], Any],
    stats: Callable[[], Any],
    *,
    callers: int,
    keys: int,
    stop: threading.Event,
    tick: float = 0.05,
) -> tuple[Load, list[threading.Thread]]:
    """Start ``callers`` threads calling ``call(i % keys)`` until ``stop`` is set."""
    load = Load()
    lock = threading.Lock()

    def caller(offset: int) -> None:
        i = offset
        while not stop.is_set():
            key = i % keys
            i += 1
            started = time.monotonic()
            try:
                value = call(key)
            except BaseException as exc:  # the point of the test: nothing may get here
                with lock:
                    load.errors.append(exc)
                continue
            elapsed = time.monotonic() - started
            with lock:
                load.samples.append(Sample(started, elapsed, value == expect(key)))
            time.sleep(0.001)

    def ticker() -> None:
        while not stop.is_set():
            snap = stats()
            load.ticks.append((time.monotonic(), snap.hits, snap.misses))
            time.sleep(tick)

    threads = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(callers)]
    threads.append(threading.Thread(target=ticker, daemon=True))
    for thread in threads:
        thread.start()
    return load, threads


async def run_tasks(
    call: Callable[[int], Awaitable[Any]],
    expect: Callable[[int], Any],
    stats: Callable[[], Any],
    *,
    callers: int,
    keys: int,
    stop: asyncio.Event,
    tick: float = 0.05,
) -> tuple[Load, list[asyncio.Task[None]]]:
    """Start ``callers`` tasks calling ``await call(i % keys)`` until ``stop`` is set."""
    load = Load()

    async def caller(offset: int) -> None:
        i = offset
        while not stop.is_set():
            key = i % keys
            i += 1
            started = time.monotonic()
            try:
                value = await call(key)
            except BaseException as exc:  # the point of the test: nothing may get here
                load.errors.append(exc)
                await asyncio.sleep(0.001)
                continue
            load.samples.append(Sample(started, time.monotonic() - started, value == expect(key)))
            await asyncio.sleep(0.002)

    async def ticker() -> None:
        while not stop.is_set():
            snap = stats()
            load.ticks.append((time.monotonic(), snap.hits, snap.misses))
            await asyncio.sleep(tick)

    tasks = [asyncio.create_task(caller(n)) for n in range(callers)]
    tasks.append(asyncio.create_task(ticker()))
    return load, tasks
