"""
Shared fixtures: real Redis, per-test namespaces, backends, a fake clock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from tests.services import RedisServer, delete_namespace, find_redis, throwaway_redis
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.testing import FakeClock

__all__ = ["FakeClock"]


@pytest.fixture(name="redis_url", scope="session")
def fixture_redis_url() -> Iterator[str]:
    """The URL of the session's Redis (env var, local port, or a throwaway server)."""
    yield from find_redis()


@pytest.fixture(name="namespace")
def fixture_namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace no other test uses; its Redis keys are deleted afterwards."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    yield namespace
    if "redis_url" in request.fixturenames:
        delete_namespace(request.getfixturevalue("redis_url"), namespace + ":")


@pytest.fixture(name="redis_client")
def fixture_redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A raw redis-py client on the session's Redis, for tampering with entries."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(name="redis_server")
def fixture_redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server this test may kill, pause or restart."""
    with throwaway_redis() as server:
        yield server


@pytest.fixture(name="clock")
def fixture_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="backend", params=["memory", "redis"])
async def fixture_backend(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[MemoryBackend | RedisBackend]:
    """Each backend in turn: the contract suite runs over all of them."""
    if request.param == "memory":
        yield MemoryBackend(maxsize=1000, timer=clock)
        return
    backend = RedisBackend(request.getfixturevalue("redis_url"))
    yield backend
    backend.close()
    await backend.aclose()


@pytest.fixture(name="cache")
def fixture_cache(backend: MemoryBackend | RedisBackend, namespace: str, clock: FakeClock) -> Cache:
    """A cache on each backend in turn, in the test's own namespace."""
    return Cache(backend, namespace=namespace, clock=clock)
