"""
Redis helpers shared by the WhatsApp test modules and their conftest.
"""

from __future__ import annotations

from wa_perfkit.backends.redis import RedisBackend


def redis_backend(url: str) -> RedisBackend:
    """
    A RedisBackend with timeouts generous enough for a loaded test machine.
    """
    return RedisBackend(url, socket_timeout=5.0, connect_timeout=5.0)
