"""
Fixtures of the WhatsApp tests: caches on the real Redis, in the test's namespace.

``redis_url`` and ``namespace`` come from tests/conftest.py (the namespace's
keys are deleted after each test; never FLUSHDB).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.whatsapp._redis import redis_backend
from wa_perfkit.cache import Cache


@pytest.fixture(name="redis_cache")
def fixture_redis_cache(redis_url: str, namespace: str) -> Iterator[Cache]:
    """
    A sync cache on the real Redis.
    """
    cache = Cache(redis_backend(redis_url), namespace=namespace)
    yield cache
    cache.close()


@pytest.fixture(name="aredis_cache")
async def fixture_aredis_cache(redis_url: str, namespace: str) -> AsyncIterator[Cache]:
    """
    An async cache on the real Redis, closed on the test's event loop.
    """
    backend = redis_backend(redis_url)
    cache = Cache(backend, namespace=namespace)
    yield cache
    await cache.aclose()
    cache.close()
