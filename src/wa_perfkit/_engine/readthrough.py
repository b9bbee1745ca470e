"""
The read-through engine behind `Cache.get_or_load`, `ttl_repository` and `CachedUser`.

```text
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
```

Invalidation during a load (the leases of memcache, "Scaling Memcache at
Facebook", 2013): an invalidation revokes the lease, so the load's late
store — of a row read before the invalidation — is dropped; it also makes
the flights forget the key, so later callers start a new load. A caller
that had joined a load whose lease was revoked reads again (and loads again
on a miss), since its call may have begun after the invalidation; the
caller that ran the load gets its value (its call began before).

The miss path is written once, as flows (`_lead`, `_load`, the lock's
flow) that yield their I/O as steps; `run` drives them for threads and
`arun` for asyncio. What stays twice is what threads and tasks truly do
differently: which single-flight they join and how a refresh is started.
The engine never raises a cache fault: only the loader's own exception
reaches callers (all of them, once).

`CachedUser` brings its own miss flow (verify, revocation and generation
markers, load, store, look at the markers again) and its own entry policy;
`share`/`ashare` run that flow on the same flights, with the same miss
counting and timing, so an invalidation of its key detaches it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from wa_perfkit._engine.lock import LockedFlight
from wa_perfkit._engine.port import Store
from wa_perfkit._engine.singleflight import AsyncFlight, ThreadFlight
from wa_perfkit._engine.steps import Call, Flow, Read, arun, run
from wa_perfkit._log import logger
from wa_perfkit.backends.base import MISS
from wa_perfkit.metrics import Stats
from wa_perfkit.observe import Outcome, note, observing
from wa_perfkit.policy import Policy

__all__ = ["MAX_REFRESHES", "Plan", "ReadThrough"]

T = TypeVar("T")

# How often a caller whose shared load was invalidated tries again before loading alone.
_ROUNDS = 3

#: The most stale refreshes one cache runs at a time (threads, or tasks per cache).
#: A stale read beyond it is served without starting one; a later read starts it.
MAX_REFRESHES = 8


class Plan:
    """
    What a decorated function (or one `get_or_load` call) fixed once: how to serve its misses.

    Args:
        policy: TTLs, jitter, stale-while-revalidate, cache_none.
        stats: where hits, misses and loads are counted.
        lock: run loads once across processes, or None (once per process).
    """

    __slots__ = ("lock", "policy", "stats", "tag_ttl")

    def __init__(self, policy: Policy, stats: Stats, lock: LockedFlight | None = None) -> None:
        self.policy = policy
        self.stats = stats
        self.lock = lock
        # Tags are recorded before the load: long enough for whatever it may store.
        self.tag_ttl = max(policy.ttl, policy.none_ttl or 0.0) + policy.stale_ttl


class _Shared:
    # What a flight hands its callers: the value, and whether its lease was revoked.
    __slots__ = ("revoked", "value")

    def __init__(self, value: Any, revoked: bool = False) -> None:
        self.value = value
        self.revoked = revoked


class ReadThrough:
    """
    Per-cache read-through: single-flight loads, leases, stale refreshes, locks.

    Args:
        store: the cache's storage side, which the engine reads and writes.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._thread_flight = ThreadFlight()
        self._async_flight = AsyncFlight()
        self._landings: dict[str, float] = {}  # full key -> when its last load finished
        # Stale refreshes running: one per key, at most MAX_REFRESHES per cache.
        self._refreshing: set[str] = set()
        self._refreshing_lock = threading.Lock()
        self._arefreshing: dict[str, asyncio.Task[Any]] = {}
        #: The store's async read, except that a key whose load runs misses at once (no
        #: round trip): the caller joins the load. Shared by every async entry point.
        self.aread_or_join = self._unless_loading(store._aread)

    # -- entry points: threads ---------------------------------------------------

    def load_through(
        self, plan: Plan, full_key: str, loader: Callable[[], T], tags: tuple[str, ...] = ()
    ) -> T:
        """
        Read ``full_key``, then `resolve`.
        """
        stored = self._store._read(full_key)
        return self.resolve(plan, full_key, stored, loader, tags)

    def resolve(
        self,
        plan: Plan,
        full_key: str,
        stored: Any,
        loader: Callable[[], T],
        tags: tuple[str, ...] = (),
    ) -> T:
        """
        Answer from what was read (``stored``, possibly `MISS`), loading once on a miss.
        """
        outcome, value = self._classify(plan, full_key, stored)
        if outcome is Outcome.STALE:
            self._refresh_in_thread(plan, full_key, loader, tags)
        if outcome is not Outcome.MISS:
            return value  # type: ignore[no-any-return]
        # A follower only joins: the loader's Call is built by the caller that leads.
        store, started = self._store, time.perf_counter()
        shared: Any  # a flight's _Shared, then what a second look found
        try:
            for _ in range(_ROUNDS):
                shared, led = self._thread_flight.join(
                    full_key,
                    lambda: run(self._lead(plan, full_key, Call(loader, None), tags), store),
                )
                if led or not shared.revoked:
                    break
                # The load this call joined was invalidated: its value may predate the
                # invalidation and this call may not. Look again, else load again.
                shared = run(self._check(plan, full_key), store)
                if shared is not MISS:
                    break
            else:  # invalidated each time
                shared = run(self._lead(plan, full_key, Call(loader, None), tags), store)
        except BaseException:
            note(plan.stats.name, Outcome.ERROR, full_key, time.perf_counter() - started)
            raise
        note(plan.stats.name, Outcome.MISS, full_key, time.perf_counter() - started)
        return shared.value  # type: ignore[no-any-return]

    # -- entry points: asyncio ---------------------------------------------------

    async def aload_through(
        self,
        plan: Plan,
        full_key: str,
        loader: Callable[[], Awaitable[T]],
        tags: tuple[str, ...] = (),
    ) -> T:
        """
        Async twin of `load_through`; ``loader`` is an async callable.

        A caller arriving while ``full_key`` loads joins that load without a read.
        """
        stored = await self.aread_or_join(full_key)
        return await self.aresolve(plan, full_key, stored, loader, tags)

    async def aresolve(
        self,
        plan: Plan,
        full_key: str,
        stored: Any,
        loader: Callable[[], Awaitable[T]],
        tags: tuple[str, ...] = (),
    ) -> T:
        """
        Async twin of `resolve`.
        """
        outcome, value = self._classify(plan, full_key, stored)
        if outcome is Outcome.STALE:
            self._refresh_in_task(plan, full_key, loader, tags)
        if outcome is not Outcome.MISS:
            return value  # type: ignore[no-any-return]
        store, started = self._store, time.perf_counter()  # see `resolve`
        shared: Any
        try:
            for _ in range(_ROUNDS):
                shared, led = await self._async_flight.join(
                    full_key,
                    lambda: arun(self._lead(plan, full_key, Call(None, loader), tags), store),
                )
                if led or not shared.revoked:
                    break
                shared = await arun(self._check(plan, full_key), store)
                if shared is not MISS:
                    break
            else:
                shared = await arun(self._lead(plan, full_key, Call(None, loader), tags), store)
        except BaseException:
            note(plan.stats.name, Outcome.ERROR, full_key, time.perf_counter() - started)
            raise
        note(plan.stats.name, Outcome.MISS, full_key, time.perf_counter() - started)
        return shared.value  # type: ignore[no-any-return]

    # -- entry points for a caller's own miss flow (`CachedUser`) ---------------------

    def share(self, stats: Stats, full_key: str, flow: Callable[[], Flow[T]]) -> T:
        """
        Serve a miss of ``full_key`` with ``flow()``, run once by concurrent threads.

        The miss is counted and timed as `resolve` counts and times its own;
        invalidating ``full_key`` detaches the running flow as it detaches a load.
        """
        stats.count_miss()
        store = self._store
        with _timed_miss(stats.name, full_key):
            return self._thread_flight.run(full_key, lambda: run(flow(), store))

    async def ashare(self, stats: Stats, full_key: str, flow: Callable[[], Flow[T]]) -> T:
        """
        Async twin of `share`: run once by concurrent tasks.
        """
        stats.count_miss()
        store = self._store
        with _timed_miss(stats.name, full_key):
            return await self._async_flight.run(full_key, lambda: arun(flow(), store))

    def _unless_loading(
        self, aread: Callable[[str], Awaitable[Any]]
    ) -> Callable[[str], Awaitable[Any]]:
        """
        Wrap an async remote read: a key whose load runs reads as a miss.

        A caller that finds a load of its key running (`AsyncFlight.joinable`) then
        joins it without a round trip: the read would miss, the load is under way.
        One C-level look per read; the read's own coroutine is returned as it is.
        """
        loads, joinable = self._async_flight.flights, self._async_flight.joinable

        def read(full_key: str) -> Awaitable[Any]:
            if full_key in loads and joinable(full_key):
                return _missed()
            return aread(full_key)

        return read

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

    # -- decisions shared by both drivers ------------------------------------------

    def _classify(self, plan: Plan, full_key: str, stored: Any) -> tuple[str, Any]:
        # Hit, stale (serve and refresh) or miss; counted.
        stats = plan.stats
        if stored is not MISS:
            value, fresh = self._unpack(plan, full_key, stored)
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

    def _fresh_or_miss(self, plan: Plan, full_key: str, stored: Any) -> Any:
        # What a lock waiter accepts: a fresh value (a stale one is what is being refreshed).
        if stored is MISS:
            return MISS
        value, fresh = self._unpack(plan, full_key, stored)
        return value if fresh else MISS

    def _unpack(self, plan: Plan, full_key: str, stored: Any) -> tuple[Any, bool]:
        try:
            return plan.policy.from_store(stored, self._store._clock())
        except ValueError:
            self._store._report_corrupt(full_key, "bad-stale-pair")
            return MISS, False

    def _landed_recently(self, full_key: str) -> bool:
        landed = self._landings.get(full_key)
        if landed is None or time.monotonic() - landed >= 1.0:
            return False
        # A backend that just failed would only make the second look cost a second
        # timeout: the read that sent us here most likely failed too.
        breaker = self._store._powers.breaker
        return breaker is None or not breaker.suspect(1.0)

    def _landed(self, full_key: str) -> None:
        landings = self._landings
        if len(landings) > 1024:  # bounded: forgetting only costs a possible duplicate load
            landings.clear()
        landings[full_key] = time.monotonic()

    # -- the miss path, written once --------------------------------------------------

    def _lead(
        self, plan: Plan, full_key: str, call: Call[Any], tags: tuple[str, ...]
    ) -> Flow[_Shared]:
        # The flight leader's work: look again if a load just landed, then load
        # (under the cross-process lock when the plan has one).
        if self._landed_recently(full_key):
            # A caller whose read lost the race with the previous flight's store
            # (slow reply under 64 threads): look again before loading twice.
            found = yield from self._check(plan, full_key)
            if found is not MISS:
                return found  # type: ignore[no-any-return]
        try:
            if plan.lock is None:
                return (yield from self._load(plan, full_key, call, tags))
            shared: _Shared = yield from plan.lock.flow(
                full_key,
                lambda: self._check(plan, full_key),
                lambda: self._load(plan, full_key, call, tags),
            )
            return shared
        finally:
            self._landed(full_key)

    def _check(self, plan: Plan, full_key: str) -> Flow[Any]:
        # A fresh value stored meanwhile, as a flight's result, or MISS.
        stored = yield Read(full_key)
        found = self._fresh_or_miss(plan, full_key, stored)
        return MISS if found is MISS else _Shared(found)

    def _load(
        self, plan: Plan, full_key: str, call: Call[Any], tags: tuple[str, ...]
    ) -> Flow[_Shared]:
        # Lease, load, store under the lease: an invalidation during the load drops the store.
        token, found = yield from self._store._lease(full_key, tags, plan.tag_ttl)
        found = self._fresh_or_miss(plan, full_key, found)
        if found is not MISS:
            return _Shared(found)  # stored since this caller's read: no load
        stats, started = plan.stats, time.perf_counter()
        try:
            value = yield call
        except BaseException:
            stats.count_load_error()
            yield from self._store._release_lease(full_key, token)
            raise
        stats.record_load(time.perf_counter() - started)
        fresh_ttl = plan.policy.fresh_ttl(value)
        if fresh_ttl is None:  # not cached (None without cache_none)
            kept = yield from self._store._release_lease(full_key, token)
            return _Shared(value, not kept)
        stored, ttl = plan.policy.to_store(value, fresh_ttl, self._store._clock())
        kept = yield from self._store._write_leased(full_key, token, stored, ttl, tags, stats)
        return _Shared(value, not kept)

    # -- stale refreshes: a thread or a task, bounded --------------------------------

    def _refresh_in_thread(
        self, plan: Plan, full_key: str, loader: Callable[[], Any], tags: tuple[str, ...]
    ) -> None:
        refreshing = self._refreshing
        with self._refreshing_lock:
            if full_key in refreshing or len(refreshing) >= MAX_REFRESHES:
                return  # one runs for this key, or enough run: serve stale, retry later
            if self._thread_flight.in_flight(full_key):
                return
            refreshing.add(full_key)
        flow = self._load(plan, full_key, Call(loader, None), tags)

        def refresh() -> None:
            try:
                self._thread_flight.run(full_key, lambda: run(flow, self._store))
            except Exception:  # the stale value was served; the next read retries
                logger.debug("wa_perfkit: background refresh failed in %s", self._store.name)
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
        plan: Plan,
        full_key: str,
        loader: Callable[[], Awaitable[Any]],
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
        call: Call[Any] = Call(None, loader)
        task = self._async_flight.start(
            full_key, lambda: arun(self._load(plan, full_key, call, tags), self._store)
        )
        running[full_key] = task
        task.add_done_callback(
            lambda done: running.pop(full_key, None) if running.get(full_key) is done else None
        )


async def _missed() -> Any:
    return MISS


def _alive(task: asyncio.Task[Any] | None) -> bool:
    return task is not None and not task.done() and not task.get_loop().is_closed()


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
