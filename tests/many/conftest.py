"""
Fixtures of the many-instances tests: tiered backends, throwaway servers, a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.cluster_services import Cluster, throwaway_cluster
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


@pytest.fixture(name="cluster", scope="session")
def fixture_cluster() -> Iterator[Cluster]:
    """A throwaway 3-master Redis Cluster for the whole session."""
    with throwaway_cluster() as cluster:
        yield cluster
