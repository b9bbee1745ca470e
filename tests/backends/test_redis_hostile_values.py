"""
Values planted in Redis by a hostile writer: oversized, deeply nested, not UTF-8.

Whatever sits under a cache key or in a tag set, a read is a miss (counted), never
a crash, never a decode that costs far more than the entry's size; and an
invalidation or ``clear()`` always finishes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis

from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache

DEFAULT_CEILING = 4 * 1024 * 1024


def _empty_lists(size: int) -> bytes:
    """A plain envelope of about ``size`` bytes that decodes to the most memory per byte."""
    count = max(size // 3, 1)
    return b"W1p[" + b"[]," * count + b"[]]"


@pytest.fixture(name="kind", params=["redis", "tiered"])
def fixture_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(name="make")
async def fixture_make(
    kind: str, redis_url: str, namespace: str
) -> AsyncIterator[Callable[..., Cache]]:
    """Build caches of this kind in the test's namespace; all closed afterwards."""
    made: list[Cache] = []

    def make(**options: Any) -> Cache:
        l2 = RedisBackend(redis_url, socket_timeout=2.0, **options)
        if kind == "redis":
            cache = Cache(l2, namespace=namespace)
        else:
            tiered = TieredBackend(l2=l2)
            cache = Cache(tiered, namespace=namespace)
            assert tiered.wait_ready(5)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()
        await cache.aclose()


@pytest.fixture(name="small")
def fixture_small(make: Callable[..., Cache]) -> Cache:
    """A cache whose backend refuses entries over 1,000 bytes."""
    return make(max_value_bytes=1000)


def _decode_errors(cache: Cache) -> int:
    tiered = getattr(cache.backend, "decode_errors", None)
    return cache.stats().decode_errors + (tiered or 0)


class TestSizeCeiling:
    def test_the_default_ceiling_is_a_few_megabytes(self, redis_url: str) -> None:
        """`RedisBackend.max_value_bytes` defaults to 4 MiB."""
        assert RedisBackend(redis_url).max_value_bytes == DEFAULT_CEILING

    async def test_an_oversized_planted_entry_is_a_miss_without_decoding_it(
        self, make: Callable[..., Cache], redis_client: redis.Redis
    ) -> None:
        """An entry just over the default ceiling is a miss counted as a decode error,
        and reading it costs about its size in memory, not the ~25x its decode would."""
        cache = make()
        data = _empty_lists(DEFAULT_CEILING + 1024)
        redis_client.set(cache.full_key("big"), data, ex=60)
        tracemalloc.start()
        try:
            value = cache.get("big")
            avalue = await cache.aget("big")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert value is MISS and avalue is MISS
        assert _decode_errors(cache) >= 2
        assert peak < 4 * len(data)

    async def test_entries_over_the_ceiling_are_not_stored(self, small: Cache) -> None:
        """A value that encodes over ``max_value_bytes`` is not written (it could never be read)."""
        assert small.set("k", "x" * 2000, 60) is False
        assert await small.aset("k", "x" * 2000, 60) is False
        assert small.get("k") is MISS
        assert small.set("k", "x" * 100, 60) is True
        assert small.get("k") == "x" * 100

    async def test_a_planted_entry_over_a_custom_ceiling_is_a_miss(
        self, small: Cache, redis_client: redis.Redis
    ) -> None:
        """The ceiling holds for single reads, batch reads and async reads."""
        redis_client.set(small.full_key("p"), b"W1p" + b'"' + b"y" * 1500 + b'"', ex=60)
        assert small.get("p") is MISS
        assert small.get_many(["p"]) == [MISS]
        assert await small.aget("p") is MISS
        assert await small.aget_many(["p"]) == [MISS]
        assert _decode_errors(small) >= 4

    @pytest.mark.parametrize(
        "data",
        [
            b"W1p" + b"[" * 200_000 + b"]" * 200_000,
            b"W1t" + b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
            b"W1t" + b'{"__wpk__":"tuple","v":' * 50_000 + b"[]" + b"}" * 50_000,
        ],
        ids=["lists", "objects", "tags"],
    )
    async def test_deep_nesting_is_a_miss(
        self, make: Callable[..., Cache], redis_client: redis.Redis, data: bytes
    ) -> None:
        """Nesting deep enough to exhaust the decoder's recursion is a counted miss."""
        cache = make()
        redis_client.set(cache.full_key("deep"), data, ex=60)
        assert cache.get("deep") is MISS
        assert await cache.aget("deep") is MISS
        assert _decode_errors(cache) >= 2


class TestNotUtf8:
    async def test_a_non_utf8_tag_member_does_not_stop_the_invalidation(
        self, make: Callable[..., Cache], redis_client: redis.Redis
    ) -> None:
        """Every genuine member of a tag set is deleted, whatever else was added to it."""
        cache = make()
        for name in ("a", "b", "c"):
            assert cache.set(name, name, 60, tags=["t"])
        redis_client.sadd(cache._tag_key("t"), b"\xff\xfe" + cache.prefix.encode())
        assert cache.invalidate_tags("t") == 3
        assert [cache.get(name) for name in ("a", "b", "c")] == [MISS] * 3
        for name in ("a", "b"):
            assert await cache.aset(name, name, 60, tags=["t"])
        redis_client.sadd(cache._tag_key("t"), b"\xc3")
        assert await cache.ainvalidate_tags("t") == 2
        assert [await cache.aget(name) for name in ("a", "b")] == [MISS] * 2

    async def test_a_non_utf8_key_does_not_stop_clear(
        self, make: Callable[..., Cache], redis_client: redis.Redis
    ) -> None:
        """`clear` removes every key under the cache's prefix, including undecodable ones."""
        cache = make()
        cache.set("a", 1, 60)
        planted = cache.prefix.encode() + b"\xff\xfe"
        redis_client.set(planted, b"x", ex=60)
        assert cache.clear() == 2
        assert cache.get("a") is MISS
        assert redis_client.exists(planted) == 0
        cache.set("a", 1, 60)
        redis_client.set(planted, b"x", ex=60)
        assert await cache.aclear() == 2
        assert redis_client.exists(planted) == 0
