"""
Fixtures of the WhatsApp tests: a real Redis under a private namespace.

Temporary until the shared Redis fixtures land in ``tests/conftest.py``. Only
keys under this test's random namespace are ever deleted (SCAN + DEL of
``<namespace>:*``); never FLUSHDB.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from _wa_redis import redis_backend

from wa_perfkit.cache import Cache

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(name="redis_url", scope="session")
def fixture_redis_url() -> str:
    """
    The Redis to test against; skipped with a hint when unreachable, failed under CI.
    """
    url = os.environ.get("WA_PERFKIT_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        message = (
            f"Redis unreachable at {url} ({exc}); run `redis-server` or set WA_PERFKIT_REDIS_URL"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(name="namespace")
def fixture_namespace(redis_url: str) -> Iterator[str]:
    """
    A random namespace whose keys are deleted after the test.
    """
    namespace = "wa-test-" + uuid.uuid4().hex
    yield namespace
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


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
    # RedisBackend builds its asyncio client on a pool it passes in, which
    # client.aclose() does not disconnect: release the pool's sockets explicitly.
    client = backend.async_client()
    await cache.aclose()
    await client.connection_pool.disconnect()
    cache.close()
