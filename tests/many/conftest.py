"""
Helpers of the many-instances tests: a plain or tiered backend (the cluster: tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend

BackendFactory = Callable[[str], RedisBackend | TieredBackend]


def make_backend(kind: str, url: str, **options: object) -> RedisBackend | TieredBackend:
    """A plain Redis backend, or a tiered one over it, ready (bus subscribed)."""
    redis_backend = RedisBackend(url, **options)  # type: ignore[arg-type]
    if kind == "redis":
        return redis_backend
    tiered = TieredBackend(MemoryBackend(10_000), redis_backend, l1_ttl=30)
    return tiered

