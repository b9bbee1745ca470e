"""
Helpers for testing code that uses wa_perfkit: a hand-moved clock and a
backend wrapper that counts calls.

::

    clock = FakeClock()
    backend = CountingBackend(MemoryBackend(timer=clock))
    cache = Cache(backend, namespace="test", clock=clock)
    ...
    clock.advance(61)                       # expire without sleeping
    assert backend.calls["get"] == 2        # one backend read per call
"""

from __future__ import annotations

import collections
import inspect
from typing import Any

__all__ = ["CountingBackend", "FakeClock"]


class FakeClock:
    """
    A clock tests move by hand; usable as a monotonic timer and as a wall clock.

    Args:
        start: the initial time in seconds.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """
        Move the clock forward by ``seconds``.
        """
        self.now += seconds


class CountingBackend:
    """
    Wraps a backend and counts calls per method name in `calls`.

    Every attribute is the wrapped backend's; callables are counted first.

    Args:
        inner: the backend to wrap.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr
        calls = self.calls
        if inspect.iscoroutinefunction(attr):

            async def acounted(*args: Any, **kwargs: Any) -> Any:
                calls[name] += 1
                return await attr(*args, **kwargs)

            return acounted

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return attr(*args, **kwargs)

        return counted
