"""
Invalidations through a plain `RedisBackend` reach the L1 of every `TieredBackend`.

A normal deployment: web instances on a tiered cache, a worker on plain Redis. What
the worker deletes, overwrites, invalidates or clears must not keep being served
from the web instances' L1 for up to ``l1_ttl``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.services import eventually
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache


@pytest.fixture(name="pair")
async def fixture_pair(redis_url: str, namespace: str) -> AsyncIterator[tuple[Cache, Cache]]:
    """A tiered cache (a web instance) and a plain one (a worker) on one namespace."""
    tiered = TieredBackend(l2=RedisBackend(redis_url, socket_timeout=1.0), l1_ttl=600)
    web = Cache(tiered, namespace=namespace)
    assert tiered.wait_ready(5)
    plain = RedisBackend(redis_url, socket_timeout=1.0)
    worker = Cache(plain, namespace=namespace)
    yield web, worker
    tiered.close()
    await tiered.aclose()
    plain.close()
    await plain.aclose()


def _in_l1(web: Cache, key: str) -> Any:
    l1 = web.backend.l1  # type: ignore[attr-defined]
    return l1.get(web.full_key(key))


class TestPlainReachesTiered:
    def test_delete(self, pair: tuple[Cache, Cache]) -> None:
        """A plain delete drops the key from the tiered L1."""
        web, worker = pair
        web.set("k", "v", 600)
        assert _in_l1(web, "k") == "v"
        assert worker.delete("k")
        assert eventually(lambda: _in_l1(web, "k") is MISS)
        assert web.get("k") is MISS

    def test_overwrite(self, pair: tuple[Cache, Cache]) -> None:
        """A plain set of a new value replaces what the tiered instance serves."""
        web, worker = pair
        web.set("k", "old", 600)
        assert worker.set("k", "new", 600)
        assert eventually(lambda: _in_l1(web, "k") is MISS)
        assert web.get("k") == "new"

    async def test_tags_and_clear(self, pair: tuple[Cache, Cache]) -> None:
        """Plain tag invalidations and clear() drop the tiered L1 copies too."""
        web, worker = pair
        web.set("a", 1, 600, tags=["t"])
        web.set("b", 2, 600)
        assert await worker.ainvalidate_tags("t") == 1
        assert eventually(lambda: _in_l1(web, "a") is MISS)
        assert _in_l1(web, "b") == 2
        assert await worker.aclear() >= 1
        assert eventually(lambda: _in_l1(web, "b") is MISS)

    async def test_async_delete_many(self, pair: tuple[Cache, Cache]) -> None:
        """The async twins publish as well."""
        web, worker = pair
        web.set("a", 1, 600)
        web.set("b", 2, 600)
        assert await worker.adelete_many(["a", "b"]) == 2
        assert eventually(lambda: _in_l1(web, "a") is MISS and _in_l1(web, "b") is MISS)
        await worker.aset("a", 3, 600)
        assert web.get("a") == 3
