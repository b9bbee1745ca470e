"""
Logging helpers: the ``wa_perfkit`` logger and a rate limit for repeated warnings.

Logs carry cache names, key digests and timings — never keys built from
user data in full, never tokens, never values.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["RateLimitedWarning", "logger"]

logger = logging.getLogger("wa_perfkit")


class RateLimitedWarning:
    """
    Emits one WARNING per ``interval`` seconds per message kind, counting the rest.

    Args:
        interval: minimum seconds between two warnings of one kind.
    """

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def warn(self, kind: str, message: str, *args: object) -> None:
        """
        Log ``message % args`` at WARNING unless ``kind`` was logged less than ``interval`` ago.
        """
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -self.interval) < self.interval:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message += " (%d similar suppressed)"
            args = (*args, suppressed)
        logger.warning(message, *args)
