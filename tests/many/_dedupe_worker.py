"""
The child-process side of the multi-process dedupe test (imported by spawn).
"""

from __future__ import annotations

import logging
from typing import Any

from tests.whatsapp._redis import redis_backend
from wa_perfkit.cache import Cache
from wa_perfkit.whatsapp.dedupe import dedupe


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def run(url: str, namespace: str, ids: list[str], barrier: Any, results: Any) -> None:
    """
    Dedupe every id in order after all workers reach the barrier; report what was accepted.
    """
    warnings = _Counter()
    logging.getLogger("wa_perfkit").addHandler(warnings)
    cache = Cache(redis_backend(url), namespace=namespace)
    cache.add("warm-up", 1, 60)  # connect before the race starts
    barrier.wait(timeout=60)
    accepted = [message_id for message_id in ids if dedupe(cache, message_id, ttl=600)]
    cache.close()
    results.put((accepted, warnings.count))
