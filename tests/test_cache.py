"""
Cache: the public API over each backend (memory and real Redis).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, ClassVar

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.policy import Policy, ttl_seconds
from wa_perfkit.whatsapp import dedupe


class TestCache:
    def test_get_set_delete(self, cache: Cache) -> None:
        """get returns MISS (or the default) until set; delete removes."""
        assert cache.get("k") is MISS
        assert cache.get("k", None) is None
        assert cache.set("k", {"a": 1}, 10) is True
        assert cache.get("k") == {"a": 1}
        assert cache.delete("k") is True
        assert cache.get("k") is MISS

    async def test_async_twins(self, cache: Cache) -> None:
        """The a-prefixed methods mirror the sync ones."""
        assert await cache.aget("k") is MISS
        assert await cache.aset("k", [1, 2], 10) is True
        assert await cache.aget("k") == [1, 2]
        assert await cache.aadd("k", 3, 10) is False
        assert await cache.aget_many(["k", "x"]) == [[1, 2], MISS]
        assert await cache.adelete_many(["k", "x"]) == 1
        assert await cache.adelete("k") is False

    def test_none_is_a_value(self, cache: Cache) -> None:
        """None can be stored and is told apart from a miss."""
        cache.set("n", None, 10)
        assert cache.get("n") is None

    def test_add_and_many(self, cache: Cache) -> None:
        """add is set-if-absent; get_many keeps order."""
        assert cache.add("a", 1, 10) is True
        assert cache.add("a", 2, 10) is False
        cache.set("b", 2, 10)
        assert cache.get_many(["a", "missing", "b"]) == [1, MISS, 2]
        assert cache.delete_many(["a", "b", "missing"]) == 2

    def test_get_or_load(self, cache: Cache) -> None:
        """get_or_load runs the loader once, then hits."""
        calls: list[int] = []

        def loader() -> int:
            calls.append(1)
            return 42

        assert cache.get_or_load("k", loader, 10) == 42
        assert cache.get_or_load("k", loader, Policy(10)) == 42
        assert calls == [1]
        assert cache.stats().hits == 1

    async def test_aget_or_load_single_flight(self, cache: Cache) -> None:
        """aget_or_load deduplicates 100 concurrent callers."""
        calls = 0

        async def loader() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.02)
            return "v"

        results = await asyncio.gather(*(cache.aget_or_load("k", loader, 10) for _ in range(100)))
        assert results == ["v"] * 100 and calls == 1

    def test_unstorable_value_is_returned_not_raised(self, namespace: str, redis_url: str) -> None:
        """A value the serializer refuses is returned to the caller and simply not cached."""
        cache = Cache(RedisBackend(redis_url), namespace=namespace)
        marker = object()
        assert cache.get_or_load("k", lambda: marker, 10) is marker
        assert cache.get("k") is MISS
        cache.close()

    def test_long_keys_are_digested(self, cache: Cache) -> None:
        """Very long keys are hashed, and still round-trip."""
        key = "x" * 5000
        assert len(cache.full_key(key)) < 100
        cache.set(key, 1, 10)
        assert cache.get(key) == 1

    def test_bad_namespace(self) -> None:
        """Namespaces and versions must be non-empty and colon-free."""
        for kwargs in ({"namespace": ""}, {"namespace": "a:b"}, {"version": "1:2"}):
            with pytest.raises(ConfigurationError):
                Cache(MemoryBackend(), **kwargs)  # type: ignore[arg-type]


class _SlowRemote(MemoryBackend):
    """A byte backend that is not local (its reads are shared) and reads slowly."""

    local = False

    def __init__(self, fail: bool = False) -> None:
        super().__init__(copy=True)
        self.reads, self.fail = 0, fail

    def get(self, key: str) -> Any:
        self.reads += 1
        time.sleep(0.2)  # long enough for every reader to arrive on a busy machine
        if self.fail:
            raise LookupError("driver bug")  # not a BackendError: reaches every reader
        return super().get(key)


class TestSharedReads:
    @pytest.mark.parametrize("fail", [False, True], ids=["value", "error"])
    def test_threads_reading_one_key_share_one_read(self, fail: bool) -> None:
        """16 threads reading one key at once cause one backend read and share its outcome."""
        backend = _SlowRemote()
        cache = Cache(backend, namespace="shared")
        cache.set("k", {"v": 1}, 60)
        backend.fail = fail
        barrier, outcomes = threading.Barrier(16), []

        def reader() -> None:
            barrier.wait()
            try:
                outcomes.append(cache.get("k"))
            except LookupError as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert backend.reads == 1 and len(outcomes) == 16
        if fail:
            assert all(isinstance(o, LookupError) for o in outcomes)
        else:
            assert outcomes == [{"v": 1}] * 16
        backend.fail = False
        assert cache.get("k") == {"v": 1} and backend.reads == 2  # nothing kept in flight


class TestNamespaces:
    def test_clear_removes_only_this_namespace(
        self, redis_url: str, namespace: str, redis_client: redis.Redis
    ) -> None:
        """clear() leaves other namespaces, other versions and foreign keys alone."""
        mine = Cache(RedisBackend(redis_url), namespace=namespace)
        other_version = Cache(RedisBackend(redis_url), namespace=namespace, version=2)
        neighbour = Cache(RedisBackend(redis_url), namespace=namespace + "x")
        foreign = f"{namespace}-foreign"
        redis_client.set(foreign, b"keep", ex=60)
        for cache in (mine, other_version, neighbour):
            for i in range(50):
                cache.set(f"k{i}", i, 60)
        assert mine.clear() == 50
        assert mine.get("k1") is MISS
        assert other_version.get("k1") == 1 and neighbour.get("k1") == 1
        assert redis_client.get(foreign) == b"keep"
        redis_client.delete(foreign)
        for cache in (other_version, neighbour):
            cache.clear()
        for cache in (mine, other_version, neighbour):
            cache.close()

    @pytest.mark.parametrize("bad", ["", "a:b", "\ud800", None, 5])
    def test_unusable_namespaces_fail_at_construction(self, bad: object) -> None:
        """A namespace no backend could write (a lone surrogate too) fails at construction."""
        with pytest.raises(ConfigurationError, match="namespace"):
            Cache(MemoryBackend(), namespace=bad)  # type: ignore[arg-type]
        if isinstance(bad, str):  # a version may be an int, and is written as text
            with pytest.raises(ConfigurationError, match="version"):
                Cache(MemoryBackend(), version=bad)

    async def test_aclear_on_each_backend(self, cache: Cache) -> None:
        """aclear empties the namespace."""
        await cache.aset("k", 1, 10)
        assert await cache.aclear() == 1
        assert await cache.aget("k") is MISS


class TestTestingHelpers:
    async def test_counting_backend_counts_one_read_per_hit(self, namespace: str) -> None:
        """CountingBackend shows a decorated hit costs one backend read."""
        from wa_perfkit.repository import ttl_repository
        from wa_perfkit.testing import CountingBackend, FakeClock

        clock = FakeClock()
        backend = CountingBackend(MemoryBackend(timer=clock))
        cache = Cache(backend, namespace=namespace, clock=clock)  # type: ignore[arg-type]

        @ttl_repository(ttl=60, cache=cache)
        async def f(k: str) -> str:
            return k

        await f("a")
        await f("a")
        assert backend.calls["get"] == 2 and backend.calls["astore_leased"] == 1
        clock.advance(61)
        await f("a")
        assert backend.calls["astore_leased"] == 2


class TestAnyKeyText:
    KEYS: ClassVar[list[str]] = ["\ud800", "a\udfffb", "é 中文 🙂", "k" * 500]

    @pytest.mark.parametrize("key", KEYS, ids=["surrogate", "surrogate-inside", "unicode", "long"])
    async def test_every_str_key_works_on_every_backend(self, cache: Cache, key: str) -> None:
        """A key with a lone surrogate (json.loads makes them) is a key like any other."""
        assert cache.set(key, 1, 30) is True
        assert cache.get(key) == 1 and await cache.aget(key) == 1
        assert cache.get(key + "x") is MISS  # still distinct from its neighbours
        assert cache.get_or_load(key, lambda: 2, ttl=30) == 1
        assert await cache.adelete(key) is True
        assert cache.get(key) is MISS

    async def test_one_str_is_not_a_sequence_of_keys_or_tags(self, cache: Cache) -> None:
        """get_many("ab") would read keys "a" and "b": refused, like a list where *tags go."""
        cache.set("a", 1, 30)
        for call in (
            lambda: cache.get_many("ab"),  # type: ignore[arg-type]
            lambda: cache.delete_many("ab"),  # type: ignore[arg-type]
            lambda: cache.get_many([1]),  # type: ignore[list-item]
            lambda: cache.set("t", 1, 30, tags="abc"),
            lambda: cache.invalidate_tags(["abc"]),  # type: ignore[arg-type]
        ):
            with pytest.raises(ConfigurationError):
                call()
        with pytest.raises(ConfigurationError):
            await cache.aget_many("ab")  # type: ignore[arg-type]
        assert cache.get("a") == 1 and cache.get("t") is MISS

    async def test_a_key_never_spells_another_keys_digest(self, cache: Cache) -> None:
        """Digested keys are marked "#": a key written as that mark is a different entry."""
        for key in ("\ud800", "k" * 500):
            mark = cache.full_key(key).removeprefix(cache.prefix)
            assert mark.startswith("#")
            cache.set(key, "original", 30)
            cache.set(mark, "impostor", 30)
            assert cache.get(key) == "original"
            assert cache.get(mark) == "impostor"


# Anything a caller may pass as a TTL: numbers of every size and sign, non-finite
# floats, bools, timedeltas, and values of the wrong type.
_ANY_TTL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 10**12, 10**12 + 1, 1e-9, 0.0004]),
    st.booleans(),
    st.timedeltas(),
    st.none(),
    st.text(max_size=3),
)


def _accepted(ttl: object) -> bool:
    try:
        ttl_seconds(ttl)  # type: ignore[arg-type]
    except ConfigurationError:
        return False
    return True


class TestAnyTTL:
    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(ttl=_ANY_TTL)
    def test_one_rule_for_every_ttl_on_every_backend(self, cache: Cache, ttl: object) -> None:
        """A TTL is refused with ConfigurationError, or stored: never a backend error."""
        calls = [
            lambda: cache.set("k", 1, ttl),  # type: ignore[arg-type]
            lambda: cache.add("a", 1, ttl),  # type: ignore[arg-type]
            lambda: cache.get_or_load("g", lambda: 1, ttl=ttl),  # type: ignore[arg-type]
            lambda: dedupe(cache, "wamid.T", ttl=ttl),  # type: ignore[arg-type]
        ]
        for call in calls:
            if _accepted(ttl):
                assert call() in (True, 1)
            else:
                with pytest.raises(ConfigurationError):
                    call()
        cache.delete_many(["k", "a", "g", "wa:dedupe:wamid.T"])
        stats = cache.stats()
        assert stats.backend_errors == 0 and stats.breaker_state == "closed"
