"""
Shared fixtures: real Redis, per-test namespaces, backends, a fake clock; and the
PostgreSQL ones of tests/postgres_services.py (registered here, once, for every folder).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from tests.cluster_services import Cluster, throwaway_cluster
from tests.postgres_services import (
    connect_fixture,
    databases_fixture,
    fresh_dsn_fixture,
    pg_server_fixture,
    pgbouncer_fixture,
    seeded_fixture,
)
from tests.services import (
    SERVER_KINDS,
    RedisServer,
    delete_namespace,
    find_redis,
    find_valkey,
    throwaway_redis,
)
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.testing import FakeClock

__all__ = [
    "FakeClock",
    "connect_fixture",
    "databases_fixture",
    "fresh_dsn_fixture",
    "pg_server_fixture",
    "pgbouncer_fixture",
    "seeded_fixture",
]


@pytest.fixture(name="redis_url", scope="session")
def fixture_redis_url() -> Iterator[str]:
    """The URL of the session's Redis (env var, local port, or a throwaway server)."""
    yield from find_redis()


@pytest.fixture(name="valkey_url", scope="session")
def fixture_valkey_url() -> Iterator[str]:
    """The URL of the session's Valkey (env var, or a throwaway valkey-server)."""
    yield from find_valkey()


@pytest.fixture(name="server_url", params=SERVER_KINDS)
def fixture_server_url(request: pytest.FixtureRequest) -> str:
    """The session's Redis, then its Valkey: the URL of each server kind in turn."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(name="namespace")
def fixture_namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace no other test uses; its Redis (and Valkey) keys are deleted afterwards."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    yield namespace
    for url_fixture in ("redis_url", "valkey_url"):
        if url_fixture in request.fixturenames:
            delete_namespace(request.getfixturevalue(url_fixture), namespace + ":")


@pytest.fixture(name="redis_client")
def fixture_redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A raw redis-py client on the session's Redis, for tampering with entries."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(name="redis_server")
def fixture_redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A throwaway redis-server this test may kill, pause or restart.

    Parametrize it with ``SERVER_KINDS`` (``indirect=True``) to run the test on a
    throwaway valkey-server too.
    """
    kind = getattr(request, "param", "redis")
    with throwaway_redis(kind=kind) as server:
        yield server


@pytest.fixture(name="cluster", scope="session")
def fixture_cluster() -> Iterator[Cluster]:
    """A throwaway 3-master Redis Cluster for the whole session (tests/backends, tests/many)."""
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(name="clock")
def fixture_clock() -> FakeClock:
    return FakeClock()


async def _backend(
    kind: str, request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[MemoryBackend | RedisBackend]:
    if kind == "memory":
        yield MemoryBackend(maxsize=1000, timer=clock)
        return
    backend = RedisBackend(request.getfixturevalue(f"{kind}_url"))
    yield backend
    backend.close()
    await backend.aclose()


@pytest.fixture(name="backend", params=["memory", *SERVER_KINDS])
async def fixture_backend(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[MemoryBackend | RedisBackend]:
    """Each backend in turn (memory, Redis, Valkey): the contract suite runs over all."""
    async for backend in _backend(request.param, request, clock):
        yield backend


# The Cache-level suites run on memory and Redis; Valkey is covered by the backend
# contract and the RedisBackend tests (keeps `make test` within its time on 4 Pythons).
@pytest.fixture(name="cache_backend", params=["memory", "redis"])
async def fixture_cache_backend(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[MemoryBackend | RedisBackend]:
    """Each backend a `cache` runs on, in turn."""
    async for backend in _backend(request.param, request, clock):
        yield backend


@pytest.fixture(name="cache")
def fixture_cache(
    cache_backend: MemoryBackend | RedisBackend, namespace: str, clock: FakeClock
) -> Cache:
    """A cache on each backend in turn, in the test's own namespace."""
    return Cache(cache_backend, namespace=namespace, clock=clock)
