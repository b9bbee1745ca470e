"""
The cached_user core suite again, on a 3-master Redis Cluster and on a tiered backend over it.

The test class is imported from tests/auth/test_user_cache.py; this module's
``kind`` and ``ucache`` fixtures replace the memory/redis ones of tests/auth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.auth.conftest import (  # noqa: F401  (fixtures the imported tests use)
    fixture_acurrent,
    fixture_current,
    fixture_jwks,
    fixture_keys,
    fixture_users,
    fixture_verifier,
)
from tests.auth.test_user_cache import TestCachedUser  # noqa: F401  (collected again here)
from tests.cluster_services import Cluster
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache


@pytest.fixture(name="kind", params=["cluster", "tiered-cluster"])
def fixture_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(name="ucache")
async def fixture_ucache(kind: str, cluster: Cluster, namespace: str) -> AsyncIterator[Cache]:
    """A user cache on the cluster, directly or behind a tiered L1."""
    if kind == "redis":  # a test pinned to the single server (reads its PTTLs)
        pytest.skip("pinned to the single Redis server; runs in tests/auth")
    redis_backend = RedisBackend(cluster.url, cluster=True, socket_timeout=1.0)
    backend: RedisBackend | TieredBackend = redis_backend
    if kind == "tiered-cluster":
        backend = TieredBackend(MemoryBackend(10_000), redis_backend)
        assert backend.wait_ready()
    yield Cache(backend, namespace=namespace)
    backend.close()
    await backend.aclose()
