"""
What happened in this request: cache outcomes and loader time, per request.

The web integrations open a `RequestTrace` for each request (a ContextVar,
so concurrent asyncio requests and threads each see their own); the cache
core reports into it. With no trace open, reporting costs one ContextVar
read on the hit path. The same call sites log hits and misses at DEBUG on
the ``wa_perfkit`` logger, with the cache name and a short key digest —
never a key built from a token, never a value.

Listeners (`add_listener`) see every miss, stale hit and loader error with
its loader wait time, whether or not a trace is open: that is how the
Prometheus integration fills its loader-time histogram without the core
knowing about Prometheus. Hits never reach listeners — the hit path only
calls `note` when a trace is open or DEBUG is on, so a listener could not
count them exactly; hit counts come from `wa_perfkit.metrics.Stats`.

`RequestObserver` is what the web integrations report each request's route
template, status and duration to (the Prometheus collector implements it).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from wa_perfkit._log import logger
from wa_perfkit.keys import digest

__all__ = [
    "CacheEvent",
    "Listener",
    "Outcome",
    "RequestObserver",
    "RequestTrace",
    "add_listener",
    "current_trace",
    "note",
    "server_timing",
    "show_cache_details",
    "start_trace",
    "stop_trace",
]

class Outcome:
    """
    The outcome names a `CacheEvent` carries (plain strings, as they appear in headers).
    """

    HIT: Final = "hit"
    STALE: Final = "stale"
    MISS: Final = "miss"
    ERROR: Final = "error"


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


@dataclass(slots=True)
class RequestTrace:
    """
    The cache events of one request, in order.

    Attributes:
        events: the outcomes, in order.
        details: list them in ``Server-Timing`` (see `show_cache_details`).
    """

    events: list[CacheEvent] = field(default_factory=list)
    details: bool = False

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


def show_cache_details() -> None:
    """
    Let this request's ``Server-Timing`` header list its cache outcomes and loader time.

    Without it the header carries the application time only, unless the
    middleware was built with ``cache_details=True``: whether a lookup hit
    or missed tells a client whether someone asked for the same thing
    recently. The FastAPI and Flask ``cached_user`` adapters call it once a
    request is authenticated; call it yourself (or use it as a FastAPI
    dependency) on other routes whose outcomes you want to see.
    """
    trace = _trace.get()
    if trace is not None:
        trace.details = True


def stop_trace(token: contextvars.Token[RequestTrace | None]) -> None:
    """
    Close the trace opened by `start_trace`.
    """
    _trace.reset(token)


_debug = logger.isEnabledFor

#: ``known_debug(logging.DEBUG)``: logging's cached answer of `_debug` for that level (True,
#: False, or None if not asked since the last level change; logging clears the cache
#: in place then). A hit reads a cached False with one C call instead of calling
#: ``isEnabledFor``, a Python function; anything else still asks ``isEnabledFor``.
known_debug: Callable[[int], bool | None] = getattr(logger, "_cache", {}).get


def note(name: str, outcome: str, key: str, load_seconds: float = 0.0) -> None:
    """
    Report one outcome: into the open trace, and to the DEBUG log.

    Args:
        name: the cache or function name.
        outcome: ``"hit"``, ``"stale"``, ``"miss"`` or ``"error"``.
        key: the full key; only a 12-character digest of it is logged.
        load_seconds: loader time, for misses.
    """
    event = None
    trace = _trace.get()
    if trace is not None:
        event = CacheEvent(name, outcome, load_seconds)
        trace.events.append(event)
    if outcome != Outcome.HIT and _listeners:
        _dispatch(event or CacheEvent(name, outcome, load_seconds))
    if _debug(logging.DEBUG):
        logger.debug(
            "wa_perfkit %s %s key=%s load_ms=%.2f",
            name, outcome, digest(key)[:12], load_seconds * 1000,
        )


def observing() -> bool:
    """
    True when an outcome would be recorded or logged (the hit path's guard).
    """
    return _trace.get() is not None or (
        known_debug(logging.DEBUG) is not False and _debug(logging.DEBUG)
    )


# -- listeners ------------------------------------------------------------------

#: Called with each miss, stale hit and loader error (never with hits).
Listener = Callable[[CacheEvent], None]

# Copy-on-write: `note` iterates a tuple without a lock; only (un)registering locks.
_listeners: tuple[Listener, ...] = ()
_listeners_lock = threading.Lock()


def add_listener(listener: Listener) -> Callable[[], None]:
    """
    Call ``listener`` with every miss, stale hit and loader error, in the calling thread.

    A listener must be quick and must not raise; an exception it raises is
    logged at DEBUG and swallowed, never passed to the cache's caller.

    Args:
        listener: receives a `CacheEvent` per outcome.

    Returns:
        A function that unregisters ``listener`` (idempotent).
    """
    global _listeners
    with _listeners_lock:
        _listeners = (*_listeners, listener)

    def remove() -> None:
        global _listeners
        with _listeners_lock:
            _listeners = tuple(item for item in _listeners if item is not listener)

    return remove


def _dispatch(event: CacheEvent) -> None:
    for listener in _listeners:
        try:
            listener(event)
        except Exception:  # observability must never fail a request
            logger.debug("wa_perfkit: listener %r failed", listener, exc_info=True)


# -- web integrations -----------------------------------------------------------


class RequestObserver(Protocol):
    """
    Receives one call per finished HTTP request (implemented by the Prometheus collector).
    """

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """
        Record one request.

        Args:
            route: the route template (``/messages/{conversation_id}``), never the raw path.
            method: the HTTP method.
            status: the response status code.
            seconds: wall time from the request's arrival to its response's end.
        """


#: Most cache entries one ``Server-Timing`` header lists (the rest are summarised).
MAX_TIMING_EVENTS = 16


def server_timing(
    trace: RequestTrace, app_seconds: float, loader_name: str = "db", details: bool = False
) -> str:
    """
    Format a ``Server-Timing`` header value from a request's trace.

    One ``cache;desc="hit"`` entry per cache outcome, in order (outcomes only:
    no key, no function name, no value), then ``db;dur=`` with the total
    loader time in milliseconds when a loader ran, then ``app;dur=`` with the
    time the application took to start its response. The cache and loader
    entries are listed only when ``details`` is true or the request called
    `show_cache_details`; otherwise the value is ``app;dur=`` alone.

    Args:
        trace: the request's trace.
        app_seconds: seconds from the request's arrival to its response's start.
        loader_name: the metric name of the loader time entry.
        details: list the cache outcomes whatever the request said.

    Returns:
        The header value, e.g. ``cache;desc="miss", db;dur=12.3, app;dur=13.0``.
    """
    events = trace.events
    if not events or not (details or trace.details):  # skip the assembly
        return f"app;dur={app_seconds * 1000:.1f}"
    parts = [f'cache;desc="{event.outcome}"' for event in events[:MAX_TIMING_EVENTS]]
    if len(events) > MAX_TIMING_EVENTS:
        parts.append(f'cache;desc="+{len(events) - MAX_TIMING_EVENTS} more"')
    loaded = sum(event.load_seconds for event in events if event.outcome != Outcome.HIT)
    if any(event.outcome in (Outcome.MISS, Outcome.ERROR) for event in events):
        parts.append(f"{loader_name};dur={loaded * 1000:.1f}")
    parts.append(f"app;dur={app_seconds * 1000:.1f}")
    return ", ".join(parts)
