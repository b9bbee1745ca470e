"""
What happened in this request: cache outcomes and loader time, per request.

The web integrations open a `RequestTrace` for each request (a ContextVar,
so concurrent asyncio requests and threads each see their own); the cache
core reports into it. With no trace open, reporting costs one ContextVar
read on the hit path. The same call sites log hits and misses at DEBUG on
the ``wa_perfkit`` logger, with the cache name and a short key digest —
never a key built from a token, never a value.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field

from wa_perfkit._log import logger
from wa_perfkit.keys import digest

__all__ = ["CacheEvent", "RequestTrace", "current_trace", "note", "start_trace", "stop_trace"]

HIT, MISS, STALE, ERROR = "hit", "miss", "stale", "error"


@dataclass(frozen=True)
class CacheEvent:
    """
    One cache outcome within a request.

    Attributes:
        cache: the cache or function name (as in stats).
        outcome: ``"hit"``, ``"stale"``, ``"miss"`` or ``"error"`` (the loader raised).
        load_seconds: time spent in the loader (0 for hits).
    """

    cache: str
    outcome: str
    load_seconds: float = 0.0


@dataclass
class RequestTrace:
    """
    The cache events of one request, in order.
    """

    events: list[CacheEvent] = field(default_factory=list)

    @property
    def load_seconds(self) -> float:
        """Total loader time in this request."""
        return sum(event.load_seconds for event in self.events)


_trace: contextvars.ContextVar[RequestTrace | None] = contextvars.ContextVar(
    "wa_perfkit_trace", default=None
)

#: Returns the open trace of this context, or None (a C call: cheap on the hit path).
current_trace = _trace.get


def start_trace() -> tuple[RequestTrace, contextvars.Token[RequestTrace | None]]:
    """
    Open a trace for the current request; pass the token to `stop_trace`.
    """
    trace = RequestTrace()
    return trace, _trace.set(trace)


def stop_trace(token: contextvars.Token[RequestTrace | None]) -> None:
    """
    Close the trace opened by `start_trace`.
    """
    _trace.reset(token)


_debug = logger.isEnabledFor


def note(name: str, outcome: str, key: str, load_seconds: float = 0.0) -> None:
    """
    Report one outcome: into the open trace, and to the DEBUG log.

    Args:
        name: the cache or function name.
        outcome: ``"hit"``, ``"stale"``, ``"miss"`` or ``"error"``.
        key: the full key; only a 12-character digest of it is logged.
        load_seconds: loader time, for misses.
    """
    trace = _trace.get()
    if trace is not None:
        trace.events.append(CacheEvent(name, outcome, load_seconds))
    if _debug(logging.DEBUG):
        logger.debug(
            "wa_perfkit %s %s key=%s load_ms=%.2f",
            name, outcome, digest(key)[:12], load_seconds * 1000,
        )


def observing() -> bool:
    """
    True when an outcome would be recorded or logged (the hit path's guard).
    """
    return _trace.get() is not None or _debug(logging.DEBUG)
