"""
A circuit breaker that stops a dead backend from costing a timeout per call.

```text
closed ──N consecutive failures──▶ open ──reset_timeout elapsed──▶ half-open
  ▲                                  ▲                                 │
  └──────────── probe succeeds ──────┼──────── probe fails ────────────┘
```

While open, `allow` answers False at the cost of one clock read, and the
cache goes straight to the loader (or the L1 of a tiered backend). After
``reset_timeout`` one caller is let through as a probe (half-open); its
success closes the breaker, its failure opens it again. A probe that ends
neither way (the caller's task was cancelled mid-call) is `abandon`-ed, so the
breaker never waits forever for a verdict. `healthy` (closed, no failure since the
last success) lets a caller skip `allow` and `success` on the common path: they
have nothing to do then. Every state change is logged once,
at WARNING when opening and INFO when closing, and counted (`opened_count`,
`closed_count`) for stats.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]

logger = logging.getLogger("wa_perfkit")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """
    Counts consecutive failures of one backend and decides whether to try it.

    Args:
        name: what is protected, for logs.
        failure_threshold: consecutive failures that open the breaker.
        reset_timeout: seconds to stay open before a probe.
        timer: monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout: float = 1.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._timer = timer
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._failed_at = float("-inf")
        self._probing = False
        self.state = CLOSED
        #: Closed with no failure since the last success: `allow` would say yes and
        #: `success` would change nothing, so callers may skip both.
        self.healthy = True
        #: How many times the breaker opened (closed -> open, or half-open -> open).
        self.opened_count = 0
        #: How many times it closed again after being open.
        self.closed_count = 0

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state!r}, opened={self.opened_count})"

    def allow(self) -> bool:
        """
        Return True if the backend should be tried now.
        """
        if self.state == CLOSED:
            return True
        with self._lock:
            if self.state == OPEN and self._timer() - self._opened_at >= self.reset_timeout:
                self._change(HALF_OPEN)
            if self.state == HALF_OPEN and not self._probing:
                self._probing = True  # exactly one probe at a time
                return True
            return False

    def success(self) -> None:
        """
        Record a successful call.
        """
        if self.state == CLOSED and self._failures == 0:
            return
        with self._lock:
            self._failures = 0
            self._probing = False
            if self.state != CLOSED:
                self._change(CLOSED)
            self.healthy = True

    def failure(self) -> None:
        """
        Record a failed call.
        """
        with self._lock:
            self._failures += 1
            self.healthy = False
            self._failed_at = self._timer()
            self._probing = False
            if self.state == HALF_OPEN or (
                self.state == CLOSED and self._failures >= self.failure_threshold
            ):
                self._opened_at = self._timer()
                self._change(OPEN)

    def suspect(self, window: float) -> bool:
        """
        True if the last call failed less than ``window`` seconds ago and none succeeded since.

        Used to skip optional work (a cache write after a failed read) while the
        breaker is still counting towards open: a caller pays one timeout, not two.
        """
        return self._failures > 0 and self._timer() - self._failed_at < window

    def abandon(self) -> None:
        """
        Record a call that ended without a verdict (cancelled): free the probe slot.
        """
        if self._probing:
            with self._lock:
                self._probing = False

    def _change(self, state: str) -> None:
        # Caller holds the lock.
        previous, self.state = self.state, state
        self.healthy = state == CLOSED and self._failures == 0
        if state == OPEN:
            self.opened_count += 1
            if previous == CLOSED:  # half-open -> open is the same outage: log it once
                logger.warning("wa_perfkit: %s unreachable, circuit breaker open", self.name)
        elif state == CLOSED:
            self.closed_count += 1
            logger.info("wa_perfkit: %s reachable again, circuit breaker closed", self.name)
