"""
Per-key single-flight: concurrent misses for one key run the loader once.

`ThreadFlight` serves threads: the first caller runs the work while the
others wait on an event and receive the same result or the same exception.

`AsyncFlight` serves asyncio: the first caller starts the work as a task and
every caller, the first included, awaits a future of its own, which the task's
one done callback settles for all of them (``asyncio.shield`` per caller would
add a callback and a loop turn per waiter) — a cancelled request gives up its
wait without cancelling the load that other requests are waiting for.

Neither caches anything: once the work finishes the key is forgotten, so a
failure is never served to a later caller. An invalidation makes them forget
a key at once (`forget`, `forget_all`): callers that arrive afterwards start
new work instead of sharing work that began before the invalidation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["AsyncFlight", "ThreadFlight"]

T = TypeVar("T")


class _Call(Generic[T]):
    # No __init__ and no lock until a follower comes: the leader's path (every shared
    # read takes it) allocates this object alone. The first follower makes ``done``, a
    # held Lock (cheaper than an Event's Condition); followers wait by acquiring it,
    # then pass it on, and the leader releases it when it is done.
    done: threading.Lock | None = None
    result: T | None = None
    error: BaseException | None = None


class ThreadFlight:
    """
    Deduplicates concurrent calls per key across threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _Call[Any]] = {}

    def run(self, key: str, work: Callable[..., T], *args: Any) -> T:
        """
        Run ``work(*args)`` unless a call for ``key`` is in flight; then share its outcome.

        Raises:
            BaseException: whatever ``work`` raised, in every caller that shared it.
        """
        return self.join(key, work, *args)[0]

    def join(self, key: str, work: Callable[..., T], *args: Any) -> tuple[T, bool]:
        """
        As `run`, and say whether this caller ran ``work`` (True) or shared it.

        Raises:
            BaseException: whatever ``work`` raised, in every caller that shared it.
        """
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                call = self._calls[key] = _Call()
                done = None
            else:
                done = call.done
                if done is None:  # the first follower: the leader releases it when done
                    done = call.done = threading.Lock()
                    done.acquire()
        if done is not None:
            done.acquire()
            done.release()  # the next follower's turn
            if call.error is not None:
                raise call.error
            return call.result, False  # type: ignore[return-value]
        try:
            call.result = work(*args)
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            self._done(key, call)
        return call.result, True

    def _done(self, key: str, call: _Call[Any]) -> None:
        # Under the lock, no follower can still be joining: each one that found the
        # call has made or taken ``done`` already, and later ones no longer find it.
        with self._lock:
            if self._calls.get(key) is call:  # not forgotten (and replaced) meanwhile
                del self._calls[key]
            done = call.done
        if done is not None:
            done.release()

    def in_flight(self, key: str) -> bool:
        """
        Return True if a call for ``key`` is running.
        """
        return key in self._calls

    def forget(self, keys: Iterable[str]) -> None:
        """
        Let later callers of ``keys`` start new work; running calls finish for their waiters.
        """
        with self._lock:
            for key in keys:
                self._calls.pop(key, None)

    def forget_all(self) -> None:
        """
        `forget` every key.
        """
        with self._lock:
            self._calls.clear()


class _Flight:
    # One running task and the futures of the callers waiting for it. Each caller
    # awaits a future of its own, so a cancelled caller cancels that future alone;
    # the task's one done callback settles them all (no callback per waiter).
    __slots__ = ("leader", "task", "waiters")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.leader: asyncio.Future[Any] | None = None  # the future of the caller that started it
        self.waiters: list[asyncio.Future[Any]] = []


class AsyncFlight:
    """
    Deduplicates concurrent awaits per key within an event loop.
    """

    def __init__(self) -> None:
        self._flights: dict[str, _Flight] = {}

    async def run(self, key: str, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """
        Await the in-flight task for ``key``, starting it with ``work()`` if none runs.

        Raises:
            BaseException: whatever the task raised, in every awaiting caller.
        """
        return (await self.join(key, work))[0]

    def join(
        self, key: str, work: Callable[[], Coroutine[Any, Any, T]]
    ) -> asyncio.Future[tuple[T, bool]]:
        """
        As `run`: a future of the outcome, and whether this caller started the task (True).

        The future is this caller's own: cancelling it (or the task awaiting it)
        leaves the task running for the others.

        Raises:
            BaseException: whatever the task raised, in every awaiting caller
                (from the future).
        """
        loop = asyncio.get_running_loop()
        flight = self._flights.get(key)
        # A task of another loop (a closed test loop, a second thread's loop) is not joinable.
        waiter: asyncio.Future[tuple[T, bool]] = loop.create_future()
        if flight is None or flight.task.get_loop() is not loop:
            flight = self._start(key, work)
            flight.leader = waiter
        flight.waiters.append(waiter)
        return waiter

    def forget(self, keys: Iterable[str]) -> None:
        """
        Let later awaits of ``keys`` start new tasks; running tasks finish for their waiters.
        """
        for key in keys:
            self._flights.pop(key, None)

    def forget_all(self) -> None:
        """
        `forget` every key.
        """
        self._flights.clear()

    def start(self, key: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task[Any]:
        """
        Start ``work()`` in the background unless a task for ``key`` runs already.

        Returns:
            The task running for ``key`` (the new one, or the one already running).
        """
        flight = self._flights.get(key)
        if flight is None or flight.task.done():
            flight = self._start(key, work)
        return flight.task

    def in_flight(self, key: str) -> bool:
        """
        Return True if a task for ``key`` is running.
        """
        return key in self._flights

    @property
    def flights(self) -> Mapping[str, object]:
        """
        The keys with a task running (a hit path's first, C-level look before `joinable`).
        """
        return self._flights

    def joinable(self, key: str) -> bool:
        """
        Return True if `join` would join a task for ``key`` that a caller's `join` started.

        A background task (`start`) does not count: a caller that would be
        served a stale value at once should not wait for its refresh.
        """
        flight = self._flights.get(key)
        return (
            flight is not None
            and flight.leader is not None
            and flight.task.get_loop() is asyncio.get_running_loop()
        )

    def _start(self, key: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> _Flight:
        task = asyncio.get_running_loop().create_task(work())
        flight = self._flights[key] = _Flight(task)
        task.add_done_callback(lambda done: self._settle(key, flight))
        return flight

    def _settle(self, key: str, flight: _Flight) -> None:
        # The task's one done callback: forget it, then settle every waiter at once.
        if self._flights.get(key) is flight:
            del self._flights[key]
        task, waiters = flight.task, flight.waiters
        flight.waiters = []
        if task.cancelled():
            for waiter in waiters:
                waiter.cancel()
            return
        error = task.exception()  # retrieved: every waiter gets it, or nobody waits
        if error is not None:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        value = task.result()
        shared, leader = (value, False), flight.leader
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result((value, True) if waiter is leader else shared)
