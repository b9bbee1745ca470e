"""
What the engine needs from a cache: the storage side, as a protocol.

Reads are plain twins (a hit must cost no generator); every write is a flow
of backend steps, so it runs under either driver, inside the engine's flows.

The engine types against `Store` only, never against `wa_perfkit.Cache`, so
the cache depends on the engine and not the other way round. `Cache` is the
one implementation: it namespaces keys, encodes values, guards the backend
(a fault is a miss or a no-op, counted) and holds the leases.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol, TypeVar

from wa_perfkit.backends.base import Powers
from wa_perfkit.metrics import Stats

__all__ = ["Flow", "Step", "Store"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Step(Protocol[T_co]):
    """
    One piece of I/O a flow asks for.
    """

    def do(self, store: Store) -> T_co:
        """Perform it, blocking."""

    async def ado(self, store: Store) -> T_co:
        """Perform it, awaiting."""


#: A flow yields steps, receives each step's result and returns its answer.
Flow = Generator["Step[Any]", Any, T]


class Store(Protocol):
    """
    The storage operations a miss is served with; every fault is already handled.
    """

    name: str
    _powers: Powers
    _clock: Callable[[], float]

    def full_key(self, key: str) -> str:
        """The backend key of a key of this namespace."""

    def _read(self, full_key: str) -> Any:
        """The stored value (decoded), or `MISS`."""

    async def _aread(self, full_key: str) -> Any:
        """Async twin of `read`."""

    def _report_corrupt(self, key: str, reason: str) -> None:
        """Count and log an entry that could not be used."""

    def _lease(self, full_key: str, tags: tuple[str, ...], tag_ttl: float) -> Flow[Any]:
        """Lease ``full_key`` before loading it: ``(token, what it holds now or MISS)``."""

    def _write_leased(
        self, full_key: str, token: Any, value: Any, ttl: float,
        tags: tuple[str, ...], stats: Stats | None,
    ) -> Flow[bool]:
        """Store under a lease; False only if the lease was revoked."""

    def _release_lease(self, full_key: str, token: Any) -> Flow[bool]:
        """Give a lease up without storing; False only if it was revoked."""

    def _write(
        self, full_key: str, value: Any, ttl: float,
        tags: tuple[str, ...] = (), stats: Stats | None = None,
    ) -> Flow[bool]:
        """Store without a lease; True if stored."""

    def _discard(self, full_key: str, *, strict: bool = False) -> Flow[bool]:
        """Remove a full key; True if it existed."""

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """Values of keys of this namespace, `MISS` where absent."""

    async def aget_many(self, keys: Sequence[str]) -> list[Any]:
        """Async twin of `get_many`."""
