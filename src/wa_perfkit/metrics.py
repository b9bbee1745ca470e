"""
Statistics counters, exact under threads and asyncio, cheap on the hit path.

A counter is an ``itertools.count``: ``next()`` on it is a single C call that
the GIL makes atomic, so 64 threads incrementing the same counter never lose
an update and the hit path pays one call, no lock. Load time is a float sum,
updated under a lock on the miss path only.

Every decorated function and every `Cache` owns a `Stats`; a cache's
`Cache.stats` adds its own to those of the functions that use it. Exporters
(Prometheus, logs) read `StatsSnapshot` values and never touch the counters.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterable

__all__ = ["Stats", "StatsSnapshot"]


def _read(counter: itertools.count[int]) -> int:
    # repr is "count(N)": the one way to read a count without consuming a value
    # that works on every Python (its pickle support is gone in 3.14).
    return int(repr(counter)[6:-1])


@dataclasses.dataclass(frozen=True)
class StatsSnapshot:
    """
    Counter values at one instant.

    Attributes:
        hits: reads answered from the cache with a fresh value.
        misses: reads that found nothing usable.
        stale_hits: reads answered with a stale value while a refresh ran.
        loads: loader calls that returned a value.
        load_errors: loader calls that raised.
        backend_errors: backend operations that failed (the call degraded).
        decode_errors: stored entries that could not be decoded (treated as misses).
        encode_errors: loaded values that could not be stored (the caller got them,
            uncached: a type the serializer does not carry, or a value it cannot write).
        load_time: total seconds spent in loaders.
        breaker_state: ``"closed"``, ``"open"`` or ``"half-open"`` (``"closed"``
            for backends without a breaker).
    """

    hits: int = 0
    misses: int = 0
    stale_hits: int = 0
    loads: int = 0
    load_errors: int = 0
    backend_errors: int = 0
    decode_errors: int = 0
    encode_errors: int = 0
    load_time: float = 0.0
    breaker_state: str = "closed"

    @property
    def hit_ratio(self) -> float:
        """
        Fresh and stale hits over all reads (0.0 when nothing was read).
        """
        reads = self.hits + self.stale_hits + self.misses
        return (self.hits + self.stale_hits) / reads if reads else 0.0

    def __add__(self, other: StatsSnapshot) -> StatsSnapshot:
        fields = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in dataclasses.fields(self)
            if f.name != "breaker_state"
        }
        state = self.breaker_state if self.breaker_state != "closed" else other.breaker_state
        return StatsSnapshot(**fields, breaker_state=state)


class Stats:
    """
    Live counters of one cache or one decorated function.

    The ``count_*`` attributes are bound ``next`` methods: call them with no
    argument to add one (``stats.count_hit()``).
    """

    __slots__ = (
        "_backend_errors",
        "_decode_errors",
        "_encode_errors",
        "_hits",
        "_load_errors",
        "_load_time",
        "_loads",
        "_lock",
        "_misses",
        "_stale_hits",
        "count_backend_error",
        "count_decode_error",
        "count_encode_error",
        "count_hit",
        "count_load_error",
        "count_miss",
        "count_stale_hit",
        "name",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self._hits = itertools.count()
        self._misses = itertools.count()
        self._stale_hits = itertools.count()
        self._loads = itertools.count()
        self._load_errors = itertools.count()
        self._backend_errors = itertools.count()
        self._decode_errors = itertools.count()
        self._encode_errors = itertools.count()
        self._load_time = 0.0
        self._lock = threading.Lock()
        self.count_hit = self._hits.__next__
        self.count_miss = self._misses.__next__
        self.count_stale_hit = self._stale_hits.__next__
        self.count_load_error = self._load_errors.__next__
        self.count_backend_error = self._backend_errors.__next__
        self.count_decode_error = self._decode_errors.__next__
        self.count_encode_error = self._encode_errors.__next__

    def record_load(self, seconds: float) -> None:
        """
        Count one successful load that took ``seconds``.
        """
        next(self._loads)
        with self._lock:
            self._load_time += seconds

    def snapshot(self, breaker_state: str = "closed") -> StatsSnapshot:
        """
        Return the current values.
        """
        return StatsSnapshot(
            hits=_read(self._hits),
            misses=_read(self._misses),
            stale_hits=_read(self._stale_hits),
            loads=_read(self._loads),
            load_errors=_read(self._load_errors),
            backend_errors=_read(self._backend_errors),
            decode_errors=_read(self._decode_errors),
            encode_errors=_read(self._encode_errors),
            load_time=self._load_time,
            breaker_state=breaker_state,
        )


def total(snapshots: Iterable[StatsSnapshot]) -> StatsSnapshot:
    """
    Add snapshots together.
    """
    result = StatsSnapshot()
    for snap in snapshots:
        result = result + snap
    return result
