"""
Prometheus metrics for caches and routes (extra ``prometheus``).

```python
from prometheus_client import CollectorRegistry
from wa_perfkit.integrations.prometheus import CacheCollector

metrics = CacheCollector([cache])                  # into the default REGISTRY
metrics = CacheCollector([cache], registry=CollectorRegistry())  # or your own
app.add_middleware(ServerTimingMiddleware, metrics=metrics)      # per-route latency
```

Nothing happens at import: a registry only learns of wa_perfkit when you
build a collector, so two apps in one process (or one test suite) never
collide with "Duplicated timeseries" unless they register two collectors
into one registry. Use one collector per registry and `track` more caches.

Counters are read from `StatsSnapshot` values at scrape time (no state
here, nothing on the hit path). Two histograms hold state: the loader wait
of each miss (fed by an `wa_perfkit.observe` listener) and the duration of
each HTTP request (fed by the web integrations). Labels are cache names,
function names and route templates — developer-chosen, bounded sets; never
a key, a token, a user id or a raw path.

Exported families (``cache`` and ``function`` labels unless noted):

```text
wa_perfkit_cache_{hits,misses,stale_hits,loads,load_errors}_total
wa_perfkit_cache_{backend_errors,decode_errors,encode_errors}_total
wa_perfkit_cache_load_time_seconds_total        summed loader time
wa_perfkit_cache_load_duration_seconds          histogram: wait per miss
wa_perfkit_cache_breaker_state{cache,state}     1 for the current state
wa_perfkit_http_request_duration_seconds{route,method,status}   histogram
```
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wa_perfkit.cache import Cache
from wa_perfkit.metrics import StatsSnapshot
from wa_perfkit.observe import CacheEvent, Outcome, add_listener

__all__ = ["BUCKETS", "METRIC_NAMES", "CacheCollector"]

#: Histogram buckets in seconds: 1 ms to 5 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)

_COUNTERS = {
    "hits": "Reads answered with a fresh cached value.",
    "misses": "Reads that found nothing usable.",
    "stale_hits": "Reads answered with a stale value while one refresh ran.",
    "loads": "Loader calls that returned a value.",
    "load_errors": "Loader calls that raised.",
    "backend_errors": "Backend operations that failed (the call degraded to the loader).",
    "decode_errors": "Stored entries that could not be decoded (served as misses).",
    "encode_errors": "Loaded values that could not be stored (returned uncached).",
}
_PREFIX = "wa_perfkit_cache_"
_STATES = ("closed", "open", "half-open")
# Anything else is folded into "other": a client must not mint label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LOAD = "wa_perfkit_cache_load_duration_seconds"
_HTTP = "wa_perfkit_http_request_duration_seconds"

#: Every metric family the collector exports (sample names add _total, _bucket...).
METRIC_NAMES = (
    *(f"{_PREFIX}{name}" for name in _COUNTERS),
    f"{_PREFIX}load_time_seconds",
    f"{_PREFIX}breaker_state",
    _LOAD,
    _HTTP,
)


class CacheCollector(Collector):
    """
    A prometheus_client collector for wa_perfkit caches, their functions and routes.

    Building one registers it into ``registry`` (the default ``REGISTRY`` when
    None) and starts observing loader times; `close` undoes both. It is also the
    ``metrics=`` argument of the ASGI middleware and the Flask hook.

    Args:
        caches: the caches to export; more can be added with `track`.
        registry: where to register; the default ``REGISTRY`` when None.
        buckets: histogram buckets in seconds (1 ms to 5 s by default).

    Raises:
        ValueError: ``registry`` already holds a wa_perfkit collector.
    """

    def __init__(
        self,
        caches: Iterable[Cache] = (),
        *,
        registry: CollectorRegistry | None = None,
        buckets: Iterable[float] = BUCKETS,
    ) -> None:
        self._caches: list[Cache] = []
        self._owners: dict[str, str] = {}
        self._unknown: dict[str, float] = {}
        # Label children by (route, method, status): labels() takes a lock and
        # validates on every call; a dict lookup does not (bounded: routes x methods x codes).
        self._routes: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()
        buckets = tuple(buckets)
        # Unregistered prometheus_client histograms: thread-safe accumulators
        # whose samples this collector yields, so nothing is registered twice.
        self._load = Histogram(
            _LOAD, "Seconds a read waited for its loader on a miss.",
            ["cache", "function"], buckets=buckets, registry=None,
        )
        self._http = Histogram(
            _HTTP, "Seconds from a request's arrival to its response's end, per route template.",
            ["route", "method", "status"], buckets=buckets, registry=None,
        )
        for cache in caches:
            self.track(cache)
        self.registry = registry or REGISTRY
        self.registry.register(self)
        self._remove_listener = add_listener(self._on_event)

    def track(self, cache: Cache) -> None:
        """
        Export ``cache`` too (and every function decorated with it, now or later).
        """
        with self._lock:
            if all(cache is not known for known in self._caches):
                self._caches.append(cache)
            self._unknown.clear()

    def close(self) -> None:
        """
        Unregister from the registry and stop observing loader times (idempotent).
        """
        self._remove_listener()
        with contextlib.suppress(KeyError):  # already unregistered
            self.registry.unregister(self)

    # -- feeding the histograms ---------------------------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """
        Record one HTTP request under its route template (`RequestObserver`).
        """
        if method not in _METHODS:
            method = "other"
        key = (route, method, status)
        child = self._routes.get(key)
        if child is None:  # first request of this kind: resolve the labels once
            child = self._routes[key] = self._http.labels(route, method, str(status))
        child.observe(seconds)

    def _on_event(self, event: CacheEvent) -> None:
        if event.outcome in (Outcome.MISS, Outcome.ERROR):
            cache = self._owner(event.cache)
            if cache is not None:
                self._load.labels(cache, event.cache).observe(event.load_seconds)

    def _owner(self, name: str) -> str | None:
        owner = self._owners.get(name)
        if owner is not None:
            return owner
        # A name first seen, or a cache this collector does not export: look
        # again at most every 10 s, so untracked caches cost a dict lookup.
        now = time.monotonic()
        if now - self._unknown.get(name, -10.0) < 10.0:
            return None
        with self._lock:
            caches = list(self._caches)
        for cache in caches:
            for function in cache.stats_by_name():
                self._owners.setdefault(function, cache.name)
        owner = self._owners.get(name)
        if owner is None:
            self._unknown[name] = now
        return owner

    # -- the Collector protocol -------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        """
        Return the families without samples (lets the registry refuse a duplicate).
        """
        return list(self._families({}))

    def collect(self) -> Iterable[Metric]:
        """
        Return every family with its current samples.
        """
        with self._lock:
            caches = list(self._caches)
        rows: dict[tuple[str, str], StatsSnapshot] = {}
        states: dict[str, str] = {}
        for cache in caches:
            for function, snap in cache.stats_by_name().items():
                key = (cache.name, function)
                rows[key] = rows[key] + snap if key in rows else snap
            state = states.get(cache.name, "closed")
            states[cache.name] = state if state != "closed" else cache.stats().breaker_state
        yield from self._families(rows, states)
        yield from self._load.collect()
        yield from self._http.collect()

    def _families(
        self, rows: dict[tuple[str, str], StatsSnapshot], states: dict[str, str] | None = None
    ) -> Iterator[Metric]:
        labels = ["cache", "function"]
        for field, doc in _COUNTERS.items():
            family = CounterMetricFamily(_PREFIX + field, doc, labels=labels)
            for key, snap in rows.items():
                family.add_metric(list(key), getattr(snap, field))
            yield family
        seconds = CounterMetricFamily(
            _PREFIX + "load_time_seconds", "Total seconds spent in loaders.", labels=labels
        )
        for key, snap in rows.items():
            seconds.add_metric(list(key), snap.load_time)
        yield seconds
        breaker = GaugeMetricFamily(
            _PREFIX + "breaker_state",
            "Circuit breaker state of the cache's backend: 1 for the current state.",
            labels=["cache", "state"],
        )
        for cache, current in (states or {}).items():
            for state in _STATES:
                breaker.add_metric([cache, state], 1.0 if state == current else 0.0)
        yield breaker
        if states is None:  # describe(): the histograms' names too
            yield from self._load.describe()
            yield from self._http.describe()
