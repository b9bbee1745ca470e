"""
Backends for the contract suite: every shipped backend, and two instances of each.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster_services import Cluster, throwaway_cluster


@pytest.fixture(name="cluster", scope="session")
def fixture_cluster() -> Iterator[Cluster]:
    """A throwaway 3-master Redis Cluster for the whole session."""
    with throwaway_cluster() as cluster:
        yield cluster
