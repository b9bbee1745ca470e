"""
Sans-I/O decisions about what to store and for how long.

Everything here is pure: given a value and the clock, it says whether to
store, for how long, and whether what was read is fresh or stale. The sync
and async drivers in `wa_perfkit.cache` only do the I/O around it, so both
paths decide identically.

With ``stale_ttl`` an entry is stored as ``[fresh_until, value]`` for
``ttl + stale_ttl`` seconds: until ``fresh_until`` (a wall-clock time, so
every process agrees) it is a hit; after it, and until the backend expires
it, it is served stale while one refresh runs.
"""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import timedelta
from typing import Any, TypeAlias

from wa_perfkit.errors import ConfigurationError

__all__ = ["MAX_SECONDS", "Duration", "Policy", "seconds", "ttl_seconds"]

#: A length of time: seconds (``int`` or ``float``) or a `datetime.timedelta`.
Duration: TypeAlias = float | timedelta

#: The longest duration accepted (about 31,700 years): every backend can still
#: express the expiry (Redis counts milliseconds in a signed 64-bit integer).
MAX_SECONDS = 10**12


# Bounded so that a corrupted or foreign [fresh_until, value] pair is still a plain value check.
_STALE_PAIR_LEN = 2


def seconds(value: Duration, name: str = "ttl") -> float:
    """
    Return ``value`` in seconds: a number as is, a `datetime.timedelta` converted.

    Args:
        value: seconds or a `datetime.timedelta`.
        name: the argument's name, for the error message.

    Returns:
        The duration in seconds, as a float.

    Raises:
        ConfigurationError: ``value`` is neither a number nor a timedelta (a
            ``bool`` or a string too), is not finite, or is longer than
            `MAX_SECONDS` either way.
    """
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigurationError(f"{name} must be finite, not {value!r}")
        if abs(value) > MAX_SECONDS:
            raise ConfigurationError(
                f"{name} must be at most {MAX_SECONDS:.0e} seconds either way, not {value!r}"
            )
        return float(value)
    raise ConfigurationError(
        f"{name} must be seconds (int or float) or a datetime.timedelta, "
        f"not {type(value).__name__} {value!r}"
    )


def ttl_seconds(value: Duration, name: str = "ttl") -> float:
    """
    Return a time to live in seconds: as `seconds`, and positive.

    Args:
        value: seconds or a `datetime.timedelta`.
        name: the argument's name, for the error message.

    Raises:
        ConfigurationError: what `seconds` refuses, and zero or negative durations.
    """
    ttl = seconds(value, name)
    if not ttl > 0:
        raise ConfigurationError(f"{name} must be positive, not {value!r}")
    return ttl


@dataclasses.dataclass(frozen=True, init=False)
class Policy:
    """
    How one cached function (or one `Cache.get_or_load` call) stores its values.

    Every duration is seconds or a `datetime.timedelta` (stored as seconds).

    Args:
        ttl: seconds a value is fresh.
        jitter: a fraction in [0, 1): each stored TTL is shortened by a random
            amount up to ``jitter * ttl``, so entries written together do not
            all expire together. Never lengthened, so a TTL bound (a token's
            ``exp``) still holds.
        stale_ttl: seconds after ``ttl`` during which the old value is served
            while one refresh runs (0 disables stale-while-revalidate).
        cache_none: store ``None`` results too (for ``none_ttl`` seconds).
        none_ttl: TTL of a cached ``None``; defaults to ``ttl``.

    Raises:
        ConfigurationError: a value is out of range.
    """

    ttl: float
    jitter: float = 0.0
    stale_ttl: float = 0.0
    cache_none: bool = False
    none_ttl: float | None = None

    def __init__(
        self,
        ttl: Duration,
        jitter: float = 0.0,
        stale_ttl: Duration = 0.0,
        cache_none: bool = False,
        none_ttl: Duration | None = None,
    ) -> None:
        set_field = object.__setattr__  # frozen: the only writes happen here
        set_field(self, "ttl", seconds(ttl))
        if isinstance(jitter, timedelta):
            raise ConfigurationError(f"jitter is a fraction of ttl in [0, 1), not {jitter!r}")
        set_field(self, "jitter", seconds(jitter, "jitter"))
        set_field(self, "stale_ttl", seconds(stale_ttl, "stale_ttl"))
        set_field(self, "cache_none", bool(cache_none))
        set_field(self, "none_ttl", None if none_ttl is None else seconds(none_ttl, "none_ttl"))
        self.__post_init__()

    def __post_init__(self) -> None:
        if not self.ttl > 0:
            raise ConfigurationError(f"ttl must be positive, not {self.ttl!r}")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError(f"jitter must be in [0, 1), not {self.jitter!r}")
        if self.stale_ttl < 0:
            raise ConfigurationError(f"stale_ttl must be >= 0, not {self.stale_ttl!r}")
        if self.none_ttl is not None and not self.none_ttl > 0:
            raise ConfigurationError(f"none_ttl must be positive, not {self.none_ttl!r}")

    def fresh_ttl(self, value: Any, cap: float | None = None) -> float | None:
        """
        Return how long ``value`` stays fresh, or None if it must not be stored.

        Args:
            value: what the loader returned.
            cap: an upper bound (seconds), e.g. until a token's ``exp``.
        """
        if value is None and not self.cache_none:
            return None
        ttl = self.none_ttl if value is None and self.none_ttl is not None else self.ttl
        if self.jitter:
            ttl -= ttl * self.jitter * random.random()  # noqa: S311 (spreading expiry, not security)
        if cap is not None:
            ttl = min(ttl, cap)
        return ttl if ttl > 0 else None

    def to_store(self, value: Any, fresh_ttl: float, now: float) -> tuple[Any, float]:
        """
        Return what to store and the backend TTL.

        Args:
            value: the loaded value.
            fresh_ttl: the result of `fresh_ttl`.
            now: the wall clock (seconds since the epoch).
        """
        if not self.stale_ttl:
            return value, fresh_ttl
        return [now + fresh_ttl, value], fresh_ttl + self.stale_ttl

    def from_store(self, stored: Any, now: float) -> tuple[Any, bool]:
        """
        Split what was read into ``(value, is_fresh)``.

        Raises:
            ValueError: with ``stale_ttl``, the stored shape is not ``[fresh_until, value]``
                with a number first (the caller counts a corrupt entry and loads).
        """
        if not self.stale_ttl:
            return stored, True
        if type(stored) is not list or len(stored) != _STALE_PAIR_LEN:
            raise ValueError("entry is not a [fresh_until, value] pair")
        fresh_until, value = stored
        # Written without stale_ttl, a two-item list looks like a pair: only a
        # number (not a bool) is a freshness time, anything else is a miss.
        if type(fresh_until) is not float and type(fresh_until) is not int:
            raise ValueError("entry is not a [fresh_until, value] pair")
        return value, fresh_until > now
