"""
The read-through engine behind `Cache.get_or_load` and `ttl_repository`.

::

    read ──▶ MISS ────────────────────────────────┐
      │                                           ▼
      ├─ fault / corrupt ─▶ counted, a miss ─▶ single-flight (threads or tasks)
      │                                           │  landed < 1 s ago? look again
      │                                           │  lock=True? cross-process lock
      │                                           ▼
      │                              tags recorded, lease taken (value found? done)
      │                                           ▼
      │                              loader() ─▶ store if the lease still holds
      └─ value ─▶ policy: fresh ─▶ hit
                          stale ─▶ serve it, one background refresh (leased too)

Invalidation during a load (the leases of memcache, "Scaling Memcache at
Facebook", 2013): an invalidation revokes the lease, so the load's late
store — of a row read before the invalidation — is dropped; it also makes
the flights forget the key, so later callers start a new load. A caller
that had joined a load whose lease was revoked reads again (and loads again
on a miss), since its call may have begun after the invalidation; the
caller that ran the load gets its value (its call began before).

Sync and async twins sit side by side; what they decide is shared through
`wa_perfkit.policy`. The engine never raises a cache fault: only the
loader's own exception reaches callers (all of them, once).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from wa_perfkit._log import logger
from wa_perfkit._singleflight import AsyncFlight, ThreadFlight
from wa_perfkit.backends.base import MISS
from wa_perfkit.metrics import Stats
from wa_perfkit.observe import Outcome, note, observing
from wa_perfkit.policy import Policy

if TYPE_CHECKING:
    from wa_perfkit._lock import LockedFlight
    from wa_perfkit.cache import Cache

__all__ = ["ReadThrough"]

T = TypeVar("T")

# How often a caller whose shared load was invalidated tries again before loading alone.
_ROUNDS = 3


class _Shared:
    # What a flight hands its callers: the value, and whether its lease was revoked.
    __slots__ = ("revoked", "value")

    def __init__(self, value: Any, revoked: bool = False) -> None:
        self.value = value
        self.revoked = revoked


def _tag_ttl(policy: Policy) -> float:
    # Tags are recorded before the load: long enough for whatever it may store.
    return max(policy.ttl, policy.none_ttl or 0.0) + policy.stale_ttl

#: The most stale refreshes one cache runs at a time (threads, or tasks per cache).
#: A stale read beyond it is served without starting one; a later read starts it.
MAX_REFRESHES = 8


class ReadThrough:
    """
    Per-cache read-through: single-flight loads, stale refreshes, locks.

    Args:
        cache: the cache whose reads and writes it drives.
    """

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._thread_flight = ThreadFlight()
        self._async_flight = AsyncFlight()
        self._landings: dict[str, float] = {}  # full key -> when its last load finished
        # Stale refreshes running: one per key, at most MAX_REFRESHES per cache.
        self._refreshing: set[str] = set()
        self._refreshing_lock = threading.Lock()
        self._arefreshing: dict[str, asyncio.Task[Any]] = {}

    def load_through(
        self,
        full_key: str,
        loader: Callable[[], T],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...] = (),
    ) -> T:
        """
        The sync read-through engine: read ``full_key``, then `resolve`.
        """
        return self.resolve(full_key, self._cache.read(full_key), loader, policy, stats, tags)

    def resolve(
        self,
        full_key: str,
        stored: Any,
        loader: Callable[[], T],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...] = (),
        lock: LockedFlight | None = None,
    ) -> T:
        """
        Answer from what was read (``stored``, possibly `MISS`), loading once on a miss.

        With ``lock``, the load also runs once across processes (after the
        per-process single-flight, so on a miss only).
        """
        outcome, value = self._classify(full_key, stored, policy, stats)
        if outcome is Outcome.STALE:
            self._refresh_in_thread(full_key, loader, policy, stats, tags)
        if outcome is not Outcome.MISS:
            return value  # type: ignore[no-any-return]
        with _timed_miss(stats.name, full_key):
            return self._miss(  # type: ignore[no-any-return]
                full_key, lambda: self._lead(full_key, loader, policy, stats, tags, lock), policy
            )

    def _miss(self, full_key: str, lead: Callable[[], _Shared], policy: Policy) -> Any:
        for _ in range(_ROUNDS):
            shared, led = self._thread_flight.join(full_key, lead)
            if led or not shared.revoked:
                return shared.value
            # The load this call joined was invalidated: its value may predate the
            # invalidation and this call may not. Look again, else load again.
            found = self._fresh_or_miss(full_key, self._cache.read(full_key), policy)
            if found is not MISS:
                return found
        return lead().value  # invalidated again and again: load alone

    def forget(self, full_keys: Iterable[str]) -> None:
        """
        Detach running loads of ``full_keys``: later callers start new ones.
        """
        self._thread_flight.forget(full_keys)
        self._async_flight.forget(full_keys)

    def forget_all(self) -> None:
        """
        Detach every running load.
        """
        self._thread_flight.forget_all()
        self._async_flight.forget_all()

    async def aload_through(
        self,
        full_key: str,
        loader: Callable[[], Awaitable[T]],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...] = (),
    ) -> T:
        """
        The async read-through engine: read ``full_key``, then `aresolve`.
        """
        stored = await self._cache.aread(full_key)
        return await self.aresolve(full_key, stored, loader, policy, stats, tags)

    async def aresolve(
        self,
        full_key: str,
        stored: Any,
        loader: Callable[[], Awaitable[T]],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...] = (),
        lock: LockedFlight | None = None,
    ) -> T:
        """
        Async twin of `resolve`; ``loader`` is an async callable.
        """
        outcome, value = self._classify(full_key, stored, policy, stats)
        if outcome is Outcome.STALE:
            self._refresh_in_task(full_key, loader, policy, stats, tags)
        if outcome is not Outcome.MISS:
            return value  # type: ignore[no-any-return]
        with _timed_miss(stats.name, full_key):
            return await self._amiss(  # type: ignore[no-any-return]
                full_key, lambda: self._alead(full_key, loader, policy, stats, tags, lock), policy
            )

    async def _amiss(
        self, full_key: str, lead: Callable[[], Coroutine[Any, Any, _Shared]], policy: Policy
    ) -> Any:
        for _ in range(_ROUNDS):  # see `_miss`
            shared, led = await self._async_flight.join(full_key, lead)
            if led or not shared.revoked:
                return shared.value
            found = self._fresh_or_miss(full_key, await self._cache.aread(full_key), policy)
            if found is not MISS:
                return found
        return (await lead()).value

    def _classify(
        self, full_key: str, stored: Any, policy: Policy, stats: Stats
    ) -> tuple[str, Any]:
        # What the twins decide alike: hit, stale (serve and refresh) or miss; counted.
        if stored is not MISS:
            value, fresh = self._unpack(full_key, stored, policy)
            if fresh:
                stats.count_hit()
                if observing():
                    note(stats.name, Outcome.HIT, full_key)
                return Outcome.HIT, value
            if value is not MISS:
                stats.count_stale_hit()
                note(stats.name, Outcome.STALE, full_key)
                return Outcome.STALE, value
        stats.count_miss()
        return Outcome.MISS, MISS

    def _lead(
        self,
        full_key: str,
        loader: Callable[[], T],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
        lock: LockedFlight | None,
    ) -> _Shared:
        if self._landed_recently(full_key):
            # A caller whose read lost the race with the previous flight's store
            # (slow reply under 64 threads): look again before loading twice.
            found = self._fresh_or_miss(full_key, self._cache.read(full_key), policy)
            if found is not MISS:
                return _Shared(found)
        try:
            if lock is None:
                return self._load_and_store(full_key, loader, policy, stats, tags)
            return self._locked_load(full_key, loader, policy, stats, tags, lock)
        finally:
            self._landed(full_key)

    def _locked_load(
        self,
        full_key: str,
        loader: Callable[[], T],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
        lock: LockedFlight,
    ) -> _Shared:
        return lock.run(  # type: ignore[no-any-return]
            full_key,
            lambda: _shared(self._fresh_or_miss(full_key, self._cache.read(full_key), policy)),
            lambda: self._load_and_store(full_key, loader, policy, stats, tags),
        )

    async def _alead(
        self,
        full_key: str,
        loader: Callable[[], Awaitable[T]],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
        lock: LockedFlight | None,
    ) -> _Shared:

        async def check() -> Any:
            return _shared(
                self._fresh_or_miss(full_key, await self._cache.aread(full_key), policy)
            )

        if self._landed_recently(full_key):  # see `_lead`
            found = await check()
            if found is not MISS:
                return found  # type: ignore[no-any-return]
        try:
            if lock is None:
                return await self._aload_and_store(full_key, loader, policy, stats, tags)
            return await lock.arun(  # type: ignore[no-any-return]
                full_key, check,
                lambda: self._aload_and_store(full_key, loader, policy, stats, tags),
            )
        finally:
            self._landed(full_key)

    def _landed_recently(self, full_key: str) -> bool:
        landed = self._landings.get(full_key)
        if landed is None or time.monotonic() - landed >= 1.0:
            return False
        # A backend that just failed would only make the second look cost a second
        # timeout: the read that sent us here most likely failed too.
        breaker = self._cache.powers.breaker
        return breaker is None or not breaker.suspect(1.0)

    def _landed(self, full_key: str) -> None:
        landings = self._landings
        if len(landings) > 1024:  # bounded: forgetting only costs a possible duplicate load
            landings.clear()
        landings[full_key] = time.monotonic()

    def _fresh_or_miss(self, full_key: str, stored: Any, policy: Policy) -> Any:
        # What a lock waiter accepts: a fresh value (a stale one is what is being refreshed).
        if stored is MISS:
            return MISS
        value, fresh = self._unpack(full_key, stored, policy)
        return value if fresh else MISS

    def _unpack(self, full_key: str, stored: Any, policy: Policy) -> tuple[Any, bool]:
        try:
            return policy.from_store(stored, self._cache.clock())
        except ValueError:
            self._cache.report_corrupt(full_key, "bad-stale-pair")
            return MISS, False

    def _load_and_store(
        self,
        full_key: str,
        loader: Callable[[], T],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
    ) -> _Shared:
        cache = self._cache
        token, found = cache.lease(full_key, tags, _tag_ttl(policy))
        found = self._fresh_or_miss(full_key, found, policy)
        if found is not MISS:
            return _Shared(found)  # stored since this caller's read: no load
        try:
            with _counted_load(stats):
                value = loader()
        except BaseException:
            cache.release_lease(full_key, token)
            raise
        plan = self._store_plan(value, policy)
        if plan is None:
            return _Shared(value, not cache.release_lease(full_key, token))
        return _Shared(value, not cache.write_leased(full_key, token, *plan, tags, stats))

    async def _aload_and_store(
        self,
        full_key: str,
        loader: Callable[[], Awaitable[T]],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
    ) -> _Shared:
        cache = self._cache
        token, found = await cache.alease(full_key, tags, _tag_ttl(policy))
        found = self._fresh_or_miss(full_key, found, policy)
        if found is not MISS:
            return _Shared(found)
        try:
            with _counted_load(stats):
                value = await loader()
        except BaseException:
            await cache.arelease_lease(full_key, token)
            raise
        plan = self._store_plan(value, policy)
        if plan is None:
            return _Shared(value, not await cache.arelease_lease(full_key, token))
        written = await cache.awrite_leased(full_key, token, *plan, tags, stats)
        return _Shared(value, not written)

    def _store_plan(self, value: Any, policy: Policy) -> tuple[Any, float] | None:
        # What to store and for how long, or None: the policy decides, the twins write.
        fresh_ttl = policy.fresh_ttl(value)
        if fresh_ttl is None:
            return None
        return policy.to_store(value, fresh_ttl, self._cache.clock())

    def _refresh_in_thread(
        self,
        full_key: str,
        loader: Callable[[], Any],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
    ) -> None:
        refreshing = self._refreshing
        with self._refreshing_lock:
            if full_key in refreshing or len(refreshing) >= MAX_REFRESHES:
                return  # one runs for this key, or enough run: serve stale, retry later
            if self._thread_flight.in_flight(full_key):
                return
            refreshing.add(full_key)

        def refresh() -> None:
            try:
                self._thread_flight.run(
                    full_key, lambda: self._load_and_store(full_key, loader, policy, stats, tags)
                )
            except Exception:  # the stale value was served; the next read retries
                logger.debug("wa_perfkit: background refresh failed in %s", self._cache.name)
            finally:
                with self._refreshing_lock:
                    refreshing.discard(full_key)

        try:
            threading.Thread(target=refresh, name="wa_perfkit-refresh", daemon=True).start()
        except BaseException:
            with self._refreshing_lock:
                refreshing.discard(full_key)
            raise

    def _refresh_in_task(
        self,
        full_key: str,
        loader: Callable[[], Awaitable[Any]],
        policy: Policy,
        stats: Stats,
        tags: tuple[str, ...],
    ) -> None:
        running = self._arefreshing
        if _alive(running.get(full_key)):
            return  # one refresh per key
        if len(running) >= MAX_REFRESHES:
            # A task of a closed loop never finishes: forget it rather than block forever.
            for key, task in list(running.items()):
                if not _alive(task):
                    running.pop(key, None)
            if len(running) >= MAX_REFRESHES:
                return  # as for threads: serve stale, a later read retries
        task = self._async_flight.start(
            full_key, lambda: self._aload_and_store(full_key, loader, policy, stats, tags)
        )
        running[full_key] = task
        task.add_done_callback(
            lambda done: running.pop(full_key, None) if running.get(full_key) is done else None
        )


def _alive(task: asyncio.Task[Any] | None) -> bool:
    return task is not None and not task.done() and not task.get_loop().is_closed()


def _shared(found: Any) -> Any:
    # A lock waiter's check: MISS, or what it found, as a flight's result.
    return MISS if found is MISS else _Shared(found)


@contextlib.contextmanager
def _timed_miss(name: str, full_key: str) -> Iterator[None]:
    # A miss is reported once its flight ends: loaded (with the wait) or failed.
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        note(name, Outcome.ERROR, full_key, time.perf_counter() - started)
        raise
    note(name, Outcome.MISS, full_key, time.perf_counter() - started)


@contextlib.contextmanager
def _counted_load(stats: Stats) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        stats.count_load_error()
        raise
    stats.record_load(time.perf_counter() - started)
