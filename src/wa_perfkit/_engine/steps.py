"""
The steps a miss is served with, and the two drivers that perform them.

A flow is a generator that yields steps and receives what each step gave
(httpx's ``auth_flow``): it decides, the driver does the I/O. `run` performs
each step with blocking calls, `arun` with awaits; the flow is written once.
An exception raised by a step is thrown back into the flow at the ``yield``
that asked for it, so the flow's ``try``/``finally`` work as if the call were
inline (a failed load releases its lease, a lock is released).

Each step holds its own sync and async call (``do``/``ado``): the only
code that exists twice is one line per step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from wa_perfkit._engine.port import Flow, Step, Store

if TYPE_CHECKING:
    from wa_perfkit.backends.base import LockStore

__all__ = [
    "BackendCall",
    "Call",
    "Flow",
    "LockAdd",
    "LockDelete",
    "Read",
    "ReadMany",
    "Sleep",
    "Step",
    "arun",
    "run",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Read:
    """Read one full key: its value, or `MISS` (faults and corrupt entries are misses)."""

    key: str

    def do(self, store: Store) -> Any:
        return store._read(self.key)

    async def ado(self, store: Store) -> Any:
        return await store._aread(self.key)


@dataclass(frozen=True, slots=True)
class ReadMany:
    """Read several keys of the store's namespace (not full keys) in one round trip."""

    keys: list[str]

    def do(self, store: Store) -> list[Any]:
        return store.get_many(self.keys)

    async def ado(self, store: Store) -> list[Any]:
        return await store.aget_many(self.keys)


@dataclass(frozen=True, slots=True)
class BackendCall:
    """
    One backend operation and its twin: ``name`` under `run`, ``"a" + name`` under `arun`.

    ``target`` is the backend or one of its powers (tag index, leases, lock store).
    """

    target: Any
    name: str
    args: tuple[Any, ...]

    def do(self, store: Store) -> Any:
        return getattr(self.target, self.name)(*self.args)

    async def ado(self, store: Store) -> Any:
        return await getattr(self.target, "a" + self.name)(*self.args)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """
    Call user code: ``sync`` under `run`, ``async_`` under `arun`.

    Either may be None when a flow is only ever driven one way.
    """

    sync: Callable[[], T] | None
    async_: Callable[[], Awaitable[T]] | None

    def do(self, store: Store) -> T:
        assert self.sync is not None, "a sync driver needs a sync callable"
        return self.sync()

    async def ado(self, store: Store) -> T:
        assert self.async_ is not None, "an async driver needs an async callable"
        return await self.async_()


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait (a lock waiter's backoff)."""

    seconds: float

    def do(self, store: Store) -> None:
        time.sleep(self.seconds)

    async def ado(self, store: Store) -> None:
        await asyncio.sleep(self.seconds)


@dataclass(frozen=True, slots=True)
class LockAdd:
    """Take a lock key if it is free (``SET NX PX``): True if taken."""

    locks: LockStore
    key: str
    token: bytes
    ttl: float

    def do(self, store: Store) -> bool:
        return self.locks.add(self.key, self.token, self.ttl)

    async def ado(self, store: Store) -> bool:
        return await self.locks.aadd(self.key, self.token, self.ttl)


@dataclass(frozen=True, slots=True)
class LockDelete:
    """Free a lock key only if it still holds our token."""

    locks: LockStore
    key: str
    token: bytes

    def do(self, store: Store) -> bool:
        return self.locks.delete_if_equals(self.key, self.token)

    async def ado(self, store: Store) -> bool:
        return await self.locks.adelete_if_equals(self.key, self.token)


def run(flow: Flow[T], store: Store) -> T:
    """
    Drive ``flow`` with blocking I/O and return its answer.
    """
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None
        try:
            result = step.do(store)
        except BaseException as exc:  # thrown back into the flow, which decides
            result, error = None, exc


async def arun(flow: Flow[T], store: Store) -> T:
    """
    Drive ``flow`` with awaited I/O and return its answer.
    """
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None
        try:
            result = await step.ado(store)
        except BaseException as exc:
            result, error = None, exc
