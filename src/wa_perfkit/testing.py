"""
Helpers for testing code that uses wa_perfkit: a hand-moved clock, a
backend wrapper that counts calls, and the backend contract suite
(`BackendContract`) to run against your own backend.

```python
clock = FakeClock()
backend = CountingBackend(MemoryBackend(timer=clock))
cache = Cache(backend, namespace="test", clock=clock)
...
clock.advance(61)                       # expire without sleeping
assert backend.calls["get"] == 2        # one backend read per call
```
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from wa_perfkit.backends.base import MISS, Backend, Leases, PrefixClearable, TagIndex
from wa_perfkit.cache import Cache

__all__ = ["BackendContract", "CountingBackend", "FakeClock"]


class FakeClock:
    """
    A clock tests move by hand; usable as a monotonic timer and as a wall clock.

    Args:
        start: the initial time in seconds.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """
        Move the clock forward by ``seconds``.
        """
        self.now += seconds


class CountingBackend:
    """
    Wraps a backend and counts calls per method name in `calls`.

    Every attribute is the wrapped backend's; callables are counted first.

    Args:
        inner: the backend to wrap.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: collections.Counter[str] = collections.Counter()
        # The wrapped backend's methods become attributes of this instance now:
        # from Python 3.12 on, isinstance() against the runtime-checkable powers
        # (`Leases`, `TagIndex`...) looks attributes up statically and never calls
        # __getattr__, so a lazily wrapped method would hide the power.
        for name in dir(type(inner)):
            static = inspect.getattr_static(type(inner), name)
            if name.startswith("_") or name in vars(self) or isinstance(static, property):
                continue
            attr = getattr(inner, name)
            if callable(attr):
                setattr(self, name, self._counted(name, attr))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        return self._counted(name, attr) if callable(attr) else attr

    def _counted(self, name: str, attr: Callable[..., Any]) -> Callable[..., Any]:
        calls = self.calls
        if inspect.iscoroutinefunction(attr):

            async def acounted(*args: Any, **kwargs: Any) -> Any:
                calls[name] += 1
                return await attr(*args, **kwargs)

            return acounted

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def _has(backend: Any, power: type) -> bool:
    # An optional power (a runtime-checkable protocol); a plain bool keeps ``backend`` Any.
    return isinstance(backend, power)


def _payload(backend: Any, text: str) -> Any:
    # What a backend stores: the object itself, or bytes (the cache encodes for byte backends).
    return text if backend.stores_objects else text.encode()


class BackendContract:
    """
    The backend contract as pytest tests: subclass it in a test module and give it two fixtures.

    ``backend`` returns the backend under test (closed by your fixture); ``peer``
    returns a second backend on the same storage — another process's view of it
    (a second client of the same Redis), or ``backend`` itself for an in-process
    store. Optional powers (`PrefixClearable`, `TagIndex`) are tested only when
    the backend has them. The async tests need an asyncio plugin for pytest
    (pytest-asyncio with ``asyncio_mode = "auto"``).

    ```python
    class TestMyBackend(BackendContract):
        @pytest.fixture(name="backend")
        def fixture_backend(self) -> Iterator[MyBackend]:
            backend = MyBackend(URL)
            yield backend
            backend.close()

        @pytest.fixture(name="peer")
        def fixture_peer(self) -> Iterator[MyBackend]:
            ...
    ```

    Every key the suite writes starts with a fresh random prefix and lives at
    most 30 seconds, so the suite can run against a shared server.
    """

    @functools.cached_property
    def prefix(self) -> str:
        """A key prefix no other test uses (pytest builds one instance per test)."""
        return f"wpk-contract-{uuid.uuid4().hex[:12]}"

    def key(self, name: str) -> str:
        """Return a full backend key of this test."""
        return f"{self.prefix}:1:{name}"

    def cache(self, backend: Any) -> Cache:
        """Return a `Cache` on ``backend`` in this test's own namespace."""
        return Cache(backend, namespace=self.prefix)

    # -- the seven operations -------------------------------------------------

    def test_implements_the_protocol(self, backend: Any) -> None:
        """The backend is a `Backend` and says whether it stores objects or bytes."""
        assert isinstance(backend, Backend)
        assert isinstance(backend.stores_objects, bool)
        assert isinstance(backend.local, bool)

    def test_get_set_delete(self, backend: Any) -> None:
        """A stored value is read back until deleted; a miss is `MISS`, never None."""
        key = self.key("k")
        assert backend.get(key) is MISS
        backend.set(key, _payload(backend, "v"), 30)
        assert backend.get(key) == _payload(backend, "v")
        backend.set(key, _payload(backend, "w"), 30)
        assert backend.get(key) == _payload(backend, "w")
        assert backend.delete(key) is True
        assert backend.delete(key) is False
        assert backend.get(key) is MISS

    def test_add_is_set_if_absent(self, backend: Any) -> None:
        """``add`` stores only when the key holds nothing, and says so."""
        key = self.key("a")
        assert backend.add(key, _payload(backend, "1"), 30) is True
        assert backend.add(key, _payload(backend, "2"), 30) is False
        assert backend.get(key) == _payload(backend, "1")

    def test_many(self, backend: Any) -> None:
        """``get_many`` keeps order; ``delete_many`` counts what existed."""
        keys = [self.key(f"m{i}") for i in range(3)]
        backend.set(keys[0], _payload(backend, "0"), 30)
        backend.set(keys[2], _payload(backend, "2"), 30)
        assert backend.get_many(keys) == [_payload(backend, "0"), MISS, _payload(backend, "2")]
        assert backend.get_many([]) == []
        assert backend.delete_many(keys) == 2
        assert backend.get_many(keys) == [MISS, MISS, MISS]

    def test_bytes_round_trip(self, backend: Any) -> None:
        """Any bytes a serializer may produce come back identical (NUL, non-UTF-8, 1 MB)."""
        if backend.stores_objects:
            return
        for i, data in enumerate((b"", b"\x00\xff\xfe", bytes(range(256)), b"x" * 1_000_000)):
            backend.set(self.key(f"b{i}"), data, 30)
            assert backend.get(self.key(f"b{i}")) == data

    async def test_async_twins(self, backend: Any) -> None:
        """The ``a``-prefixed twins behave as the sync methods."""
        key = self.key("ak")
        assert await backend.aget(key) is MISS
        await backend.aset(key, _payload(backend, "v"), 30)
        assert await backend.aget(key) == _payload(backend, "v")
        assert await backend.aadd(key, _payload(backend, "w"), 30) is False
        assert await backend.aadd(key + "n", _payload(backend, "n"), 30) is True
        assert await backend.aget_many([key, key + "x"]) == [_payload(backend, "v"), MISS]
        assert await backend.adelete_many([key, key + "x", key + "n"]) == 2
        assert await backend.adelete(key) is False

    def test_peer_sees_writes_and_deletes(self, backend: Any, peer: Any) -> None:
        """What one instance stores or deletes, the other one reads."""
        key = self.key("shared")
        backend.set(key, _payload(backend, "v"), 30)
        assert peer.get(key) == _payload(peer, "v")
        assert peer.delete(key) is True
        assert backend.get(key) is MISS

    # -- optional powers --------------------------------------------------------

    def test_clear_prefix_spares_other_keys(self, backend: Any) -> None:
        """``clear_prefix`` removes its prefix only, glob characters included."""
        if not _has(backend, PrefixClearable):
            return
        backend.set(self.key("a*:1"), _payload(backend, "x"), 30)
        backend.set(self.key("a*:2"), _payload(backend, "x"), 30)
        backend.set(self.key("ab:1"), _payload(backend, "y"), 30)
        assert backend.clear_prefix(self.key("a*:")) == 2
        assert backend.get(self.key("ab:1")) == _payload(backend, "y")
        assert backend.get(self.key("a*:1")) is MISS

    async def test_async_clear_prefix(self, backend: Any) -> None:
        """``aclear_prefix`` is the twin of ``clear_prefix``."""
        if not _has(backend, PrefixClearable):
            return
        backend.set(self.key("c:1"), _payload(backend, "x"), 30)
        assert await backend.aclear_prefix(self.key("c:")) == 1
        assert backend.get(self.key("c:1")) is MISS

    def test_tags(self, backend: Any) -> None:
        """``pop_tag`` returns every key recorded under a tag, once."""
        if not _has(backend, TagIndex):
            return
        tag = self.key("__tag__:t")
        backend.tag_keys(tag, [self.key("1"), self.key("2")], 30)
        backend.tag_keys(tag, [self.key("3")], 30)
        assert sorted(backend.pop_tag(tag)) == [self.key(i) for i in "123"]
        assert backend.pop_tag(tag) == []

    async def test_async_tags(self, backend: Any) -> None:
        """``atag_keys``/``apop_tag`` are the twins of the sync tag methods."""
        if not _has(backend, TagIndex):
            return
        tag = self.key("__tag__:at")
        await backend.atag_keys(tag, [self.key("1")], 30)
        assert await backend.apop_tag(tag) == [self.key("1")]
        assert await backend.apop_tag(tag) == []

    # -- through a Cache ------------------------------------------------------

    def test_cache_round_trips_values(self, backend: Any) -> None:
        """A `Cache` on the backend returns equal values of the same type."""
        cache = self.cache(backend)
        values = {"d": {"a": [1, 2.5, None, True]}, "t": (1, "x"), "s": "é", "n": None, "i": 2**70}
        for key, value in values.items():
            assert cache.set(key, value, 30) is True
            got = cache.get(key)
            assert got == value and type(got) is type(value)

    def test_cache_single_flight_under_threads(self, backend: Any) -> None:
        """16 threads missing one key together run the loader once."""
        cache = self.cache(backend)
        barrier, runs = threading.Barrier(16), []

        def loader() -> str:
            runs.append(1)
            return "v"

        def call() -> None:
            barrier.wait(10)
            assert cache.get_or_load("k", loader, 30) == "v"

        threads = [threading.Thread(target=call) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(runs) == 1

    async def test_cache_single_flight_under_tasks(self, backend: Any) -> None:
        """100 tasks missing one key together run the loader once."""
        cache = self.cache(backend)
        runs = []

        async def loader() -> str:
            runs.append(1)
            await asyncio.sleep(0)
            return "v"

        results = await asyncio.gather(*(cache.aget_or_load("k", loader, 30) for _ in range(100)))
        assert results == ["v"] * 100 and len(runs) == 1

    def test_cache_tags_and_clear(self, backend: Any, peer: Any) -> None:
        """Tag invalidation and clear on one instance remove the entries for both."""
        if not (_has(backend, TagIndex) and _has(backend, PrefixClearable)):
            return
        cache, other = self.cache(backend), self.cache(peer)
        cache.set("a", 1, 30, tags=["t"])
        cache.set("b", 2, 30)
        assert other.invalidate_tags("t") == 1
        # Read back on the invalidating instance: another instance's in-process copy
        # (a tiered L1) is dropped when the invalidation message reaches it.
        assert other.get("a") is MISS and other.get("b") == 2
        cache.set("c", 3, 30, tags=["t", "u"])
        # clear counts entries, not the tag indexes (or lease markers) it removes too.
        assert other.clear() == 2
        assert other.get("b") is MISS and cache.get("c") is MISS

    # -- leases: what is invalidated during a load stays invalidated -------------

    def test_lease_then_store(self, backend: Any) -> None:
        """A lease on an empty key reads as a miss; the leased store lands once."""
        if not _has(backend, Leases):
            return
        key = self.key("l")
        token, found = backend.lease(key, 30)
        assert found is MISS and backend.get(key) is MISS
        assert backend.store_leased(key, token, _payload(backend, "v"), 30) is True
        assert backend.get(key) == _payload(backend, "v")
        assert backend.store_leased(key, token, _payload(backend, "w"), 30) is False
        token, found = backend.lease(key, 30)  # a lease on a value (a refresh)
        assert found == _payload(backend, "v")
        assert backend.store_leased(key, token, _payload(backend, "w"), 30) is True
        assert backend.get(key) == _payload(backend, "w")

    def test_delete_and_writes_revoke_a_lease(self, backend: Any, peer: Any) -> None:
        """A delete, a clear or a write on any instance makes the leased store a no-op."""
        if not _has(backend, Leases):
            return
        revokers: dict[str, Callable[[str], object]] = {
            "delete": lambda key: peer.delete(key),
            "delete_many": lambda key: peer.delete_many([key]),
            "set": lambda key: peer.set(key, _payload(peer, "other"), 30),
        }
        if _has(peer, PrefixClearable):
            revokers["clear_prefix"] = lambda key: peer.clear_prefix(key)
        for name, revoke in revokers.items():
            key = self.key(f"r-{name}")
            token, _ = backend.lease(key, 30)
            revoke(key)
            assert backend.store_leased(key, token, _payload(backend, "old"), 30) is False, name
            assert backend.get(key) != _payload(backend, "old"), name
            assert backend.release_lease(key, token) is False, name

    def test_shared_lease_first_store_wins(self, backend: Any, peer: Any) -> None:
        """Two loaders leasing one empty key share the lease: the first store wins."""
        if not _has(backend, Leases):
            return
        key = self.key("shared-lease")
        first, _ = backend.lease(key, 30)
        second, _ = peer.lease(key, 30)
        assert peer.store_leased(key, second, _payload(peer, "b"), 30) is True
        assert backend.store_leased(key, first, _payload(backend, "a"), 30) is False
        assert backend.get(key) == _payload(backend, "b")

    def test_release_lease(self, backend: Any) -> None:
        """A released lease was valid; the key reads as empty again."""
        if not _has(backend, Leases):
            return
        key = self.key("rel")
        token, _ = backend.lease(key, 30)
        assert backend.release_lease(key, token) is True
        assert backend.get(key) is MISS
        assert backend.add(key, _payload(backend, "x"), 30) is True

    async def test_async_leases(self, backend: Any, peer: Any) -> None:
        """``alease``/``astore_leased``/``arelease_lease`` are the twins of the sync methods."""
        if not _has(backend, Leases):
            return
        key = self.key("al")
        token, found = await backend.alease(key, 30)
        assert found is MISS
        assert await backend.astore_leased(key, token, _payload(backend, "v"), 30) is True
        token, found = await backend.alease(key, 30)
        assert found == _payload(backend, "v")
        await peer.adelete(key)
        assert await backend.astore_leased(key, token, _payload(backend, "w"), 30) is False
        assert await backend.arelease_lease(key, token) is False

    def test_invalidation_during_a_load_stays(self, backend: Any, peer: Any) -> None:
        """An invalidation on another instance while a load runs drops that load's store."""
        cache, other = self.cache(backend), self.cache(peer)
        for name, invalidate in _invalidations(other, backend):
            key, row = f"during-{name}", {"v": "old"}

            def load(row: dict[str, str] = row, key: str = key, drop: Any = invalidate) -> str:
                read = row["v"]
                row["v"] = "new"  # the row changes and is invalidated while the load runs
                drop(key)
                return read

            assert cache.get_or_load(key, load, 30, tags=[key]) == "old"
            assert cache.get_or_load(key, partial(dict.__getitem__, row, "v"), 30) == "new", name

    async def test_async_invalidation_during_a_load_stays(self, backend: Any, peer: Any) -> None:
        """Async twin: the load's late store is dropped."""
        cache, other = self.cache(backend), self.cache(peer)
        for name, invalidate in _invalidations(other, backend):
            key, row = f"adur-{name}", {"v": "old"}

            async def load(
                row: dict[str, str] = row, key: str = key, drop: Any = invalidate
            ) -> str:
                read = row["v"]
                row["v"] = "new"
                drop(key)
                return read

            async def reload(row: dict[str, str] = row) -> str:
                return row["v"]

            assert await cache.aget_or_load(key, load, 30, tags=[key]) == "old"
            assert await cache.aget_or_load(key, reload, 30) == "new", name


def _invalidations(other: Cache, backend: Any) -> list[tuple[str, Any]]:
    # Every way to invalidate one key of ``other``'s namespace, from another instance.
    ways: list[tuple[str, Any]] = [("delete", other.delete)]
    if _has(backend, TagIndex):
        ways.append(("tags", other.invalidate_tags))
    if _has(backend, PrefixClearable):
        ways.append(("clear", lambda key: other.clear()))
    return ways
