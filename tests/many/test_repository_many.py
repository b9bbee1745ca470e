"""
The whole ttl_repository suite again, on a 3-master Redis Cluster and on a tiered backend.

The test classes are imported from tests/test_repository.py; this module's
``backend`` fixture replaces the memory/redis one of tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.cluster_services import Cluster
from tests.test_repository import (  # noqa: F401  (collected again here, on other backends)
    TestKeys,
    TestPolicies,
    TestSingleFlight,
    TestStats,
    TestWrapper,
)
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend


@pytest.fixture(name="backend", params=["cluster", "tiered-cluster"])
async def fixture_backend(
    request: pytest.FixtureRequest, cluster: Cluster
) -> AsyncIterator[RedisBackend | TieredBackend]:
    """A cluster backend, and a tiered backend over the cluster."""
    redis_backend = RedisBackend(cluster.url, cluster=True)
    backend: RedisBackend | TieredBackend = redis_backend
    if request.param == "tiered-cluster":
        backend = TieredBackend(MemoryBackend(1000), redis_backend)
        assert backend.wait_ready()
    yield backend
    backend.close()
    await backend.aclose()
