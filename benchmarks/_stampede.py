"""
Stampede runs for ``benchmarks/run.py``: many callers on one cold key.

A contender is one decorated function of one string whose body calls
``slot.body()`` / ``await slot.abody()``; each trial puts a fresh loader (sleeps
``delay`` seconds, counts its runs) in the `Slot` and uses a new cold key, so a
contender keeps its connection pool across trials as it would in a server. The
run fires every caller at once — ``asyncio.gather`` of N tasks, or N threads
released together by a barrier — and reports how often the loader ran, the
wall time over the loader's own time, and every error a caller saw. Libraries
that swallow backend errors log them instead, so log records at WARNING and
above are counted too, and "Too many connections" is looked for in both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

POOL_ERROR = "Too many connections"


@dataclasses.dataclass
class Outcome:
    """
    What one stampede trial did.
    """

    callers: int
    loader_runs: int
    wall_s: float
    loader_s: float
    caller_errors: int
    wrong_values: int
    logged: int
    pool_errors: int
    first_error: str = ""
    #: backend faults the library absorbed (turned into misses); -1 when it does not count them.
    absorbed: int = -1

    @property
    def wall_ratio(self) -> float:
        """Wall time over the loader's own (measured) time."""
        return self.wall_s / self.loader_s if self.loader_s else float("nan")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.pool_errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        text = record.getMessage() + (self.format(record) if record.exc_info else "")
        self.pool_errors += POOL_ERROR in text


class _Loader:
    """The loader body: sleeps, counts runs, remembers how long one run took."""

    def __init__(self, value: Any, delay: float) -> None:
        self.value, self.delay = value, delay
        self.runs = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def _done(self, started: float) -> Any:
        with self._lock:
            self.runs += 1
            self.seconds = max(self.seconds, time.perf_counter() - started)
        return self.value

    async def abody(self) -> Any:
        started = time.perf_counter()
        await asyncio.sleep(self.delay)
        return self._done(started)

    def body(self) -> Any:
        started = time.perf_counter()
        time.sleep(self.delay)
        return self._done(started)


class Slot:
    """
    Where a decorated function finds the loader of the current trial.
    """

    def __init__(self) -> None:
        self.loader = _Loader(None, 0.0)

    async def abody(self) -> Any:
        """The async loader body of the current trial."""
        return await self.loader.abody()

    def body(self) -> Any:
        """The sync loader body of the current trial."""
        return self.loader.body()


def _outcome(
    results: list[Any], loader: _Loader, wall: float, value: Any, capture: _Capture
) -> Outcome:
    errors = [r for r in results if isinstance(r, BaseException)]
    texts = [f"{type(e).__name__}: {e}" for e in errors]
    return Outcome(
        callers=len(results),
        loader_runs=loader.runs,
        wall_s=wall,
        loader_s=loader.seconds or loader.delay,
        caller_errors=len(errors),
        wrong_values=sum(1 for r in results if not isinstance(r, BaseException) and r != value),
        logged=capture.count,
        pool_errors=capture.pool_errors + sum(POOL_ERROR in t for t in texts),
        first_error=texts[0][:120] if texts else "",
    )


async def async_stampede(
    func: Callable[[str], Awaitable[Any]],
    slot: Slot,
    value: Any,
    *,
    callers: int = 500,
    delay: float = 0.05,
) -> Outcome:
    """
    Run ``callers`` concurrent tasks of ``func`` on one cold key; ``func`` loads from ``slot``.
    """
    loader = slot.loader = _Loader(value, delay)
    key = f"cold-{uuid.uuid4().hex}"
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(func(key) for _ in range(callers)), return_exceptions=True
        )
        wall = time.perf_counter() - started
    finally:
        root.removeHandler(capture)
    return _outcome(list(results), loader, wall, value, capture)


def thread_stampede(
    func: Callable[[str], Any],
    slot: Slot,
    value: Any,
    *,
    callers: int = 64,
    delay: float = 0.05,
    join_timeout: float = 30.0,
) -> Outcome:
    """
    Run ``callers`` threads, released together, calling ``func`` on one cold key.
    """
    loader = slot.loader = _Loader(value, delay)
    key = f"cold-{uuid.uuid4().hex}"
    barrier = threading.Barrier(callers + 1)
    results: list[Any] = [None] * callers

    def call(index: int) -> None:
        barrier.wait()
        try:
            results[index] = func(key)
        except Exception as exc:  # every error a caller sees is counted
            results[index] = exc

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(callers)]
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        deadline = time.monotonic() + join_timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        wall = time.perf_counter() - started
    finally:
        root.removeHandler(capture)
    hung = sum(thread.is_alive() for thread in threads)
    for index in range(callers):
        if results[index] is None and hung:
            results[index] = TimeoutError("caller still running at the join deadline")
    return _outcome(results, loader, wall, value, capture)


#: (backend, callers, contender, the outcome of each trial): one row of the stampede table.
StampedeRow = tuple[str, str, str, list[Outcome]]
