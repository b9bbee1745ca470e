"""
The backend contract: seven operations and their async twins.

A backend stores opaque values under string keys with a TTL in seconds. It
knows nothing of serialization, namespaces, single-flight or statistics: the
`Cache` in front of it does all of that once, for every backend.

Two kinds of backend exist:

* object backends (``stores_objects = True``, the in-process memory store)
  keep the Python value itself, so a hit costs no decode;
* byte backends (Redis) store ``bytes`` produced by the cache's serializer.

Optional powers are separate, small protocols declared here and nowhere
else (`PrefixClearable`, `TagIndex`, `LockStore`, `Peekable`,
`SerializerAware`, `Guarded`, `Layered`, `Leases`), so a minimal backend only implements
the seven operations. `powers` reads them once, when a `Cache` is built:
nothing probes a backend on the hit path.

A miss is the `MISS` sentinel, never ``None``: ``None`` is a value a cache
may legitimately hold (``cache_none=True``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from wa_perfkit.backends.breaker import CircuitBreaker
    from wa_perfkit.serialization import Serializer

__all__ = [
    "MISS",
    "Backend",
    "Guarded",
    "Layered",
    "Leases",
    "LockStore",
    "Missing",
    "Peekable",
    "Powers",
    "PrefixClearable",
    "SerializerAware",
    "TagIndex",
    "powers",
]


class Missing(enum.Enum):
    """
    Type of the `MISS` sentinel (an enum, so ``value is MISS`` narrows for mypy).
    """

    MISS = "MISS"

    def __repr__(self) -> str:
        return "MISS"

    def __bool__(self) -> Literal[False]:
        return False


MISS: Final = Missing.MISS


@runtime_checkable
class Backend(Protocol):
    """
    What every cache backend implements.

    ``ttl`` is in seconds (a float; fractions allowed) and is always positive:
    the cache never asks a backend to store something forever.
    """

    #: True when values are kept as Python objects rather than bytes.
    stores_objects: bool
    #: True when reads never leave the process (no I/O, no failure, nothing to share).
    local: bool

    def get(self, key: str) -> Any:
        """
        Return the value stored under ``key``, or `MISS`.
        """

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Return one value or `MISS` per key, in order.
        """

    def set(self, key: str, value: Any, ttl: float) -> None:
        """
        Store ``value`` under ``key`` for ``ttl`` seconds.
        """

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """
        Store ``value`` only if ``key`` is absent; return True if it was stored.
        """

    def delete(self, key: str) -> bool:
        """
        Remove ``key``; return True if it existed.
        """

    def delete_many(self, keys: Sequence[str]) -> int:
        """
        Remove every key given; return how many existed.
        """

    def close(self) -> None:
        """
        Release connections or memory held by the backend.
        """

    async def aget(self, key: str) -> Any:
        """
        Async twin of `get`.
        """

    async def aget_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Async twin of `get_many`.
        """

    async def aset(self, key: str, value: Any, ttl: float) -> None:
        """
        Async twin of `set`.
        """

    async def aadd(self, key: str, value: Any, ttl: float) -> bool:
        """
        Async twin of `add`.
        """

    async def adelete(self, key: str) -> bool:
        """
        Async twin of `delete`.
        """

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """
        Async twin of `delete_many`.
        """

    async def aclose(self) -> None:
        """
        Async twin of `close`.
        """


@runtime_checkable
class PrefixClearable(Protocol):
    """
    A backend that can remove every key starting with a prefix (used by `Cache.clear`).
    """

    def clear_prefix(self, prefix: str) -> int:
        """
        Remove every key starting with ``prefix``; return how many were removed.
        """

    async def aclear_prefix(self, prefix: str) -> int:
        """
        Async twin of `clear_prefix`.
        """


@runtime_checkable
class TagIndex(Protocol):
    """
    A backend that remembers which keys carry a tag, for group invalidation.
    """

    def tag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Record that ``keys`` carry ``tag``; the record lives at least ``ttl`` seconds.
        """

    def pop_tag(self, tag: str) -> list[str]:
        """
        Forget ``tag`` and return the keys that carried it.
        """

    async def atag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Async twin of `tag_keys`.
        """

    async def apop_tag(self, tag: str) -> list[str]:
        """
        Async twin of `pop_tag`.
        """


@runtime_checkable
class LockStore(Protocol):
    """
    What a cross-process lock needs from a backend: set-if-absent and compare-and-delete.
    """

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent; True if stored."""

    def delete_if_equals(self, key: str, token: bytes) -> bool:
        """Delete ``key`` only if it holds ``token``."""

    async def aadd(self, key: str, value: Any, ttl: float) -> bool:
        """Async twin of `add`."""

    async def adelete_if_equals(self, key: str, token: bytes) -> bool:
        """Async twin of `delete_if_equals`."""


@runtime_checkable
class SerializerAware(Protocol):
    """
    A backend that keeps decoded objects and encodes for a remote tier itself.

    The `Cache` hands it its serializer and namespace once, when built on it,
    and then treats it as an object backend (``stores_objects = True``): a
    value crosses the cache undecoded, so an in-process hit costs no decode.
    """

    def bind(
        self,
        namespace: str,
        serializer: Serializer,
        report: Callable[[str, str], None] | None = None,
    ) -> None:
        """
        Encode with ``serializer``; expect keys of ``namespace``.

        ``report(key, reason)``, when given, is called for each stored entry of
        the namespace that cannot be decoded (the cache counts it).

        Raises:
            ConfigurationError: another cache bound an incompatible serializer.
        """


@runtime_checkable
class Peekable(Protocol):
    """
    A backend with a non-blocking in-process first tier (an async hit needs no await).
    """

    def peek(self, key: str) -> Any:
        """
        Return the in-process value under ``key``, or `MISS`; never does I/O.
        """


@runtime_checkable
class Guarded(Protocol):
    """
    A remote backend behind a circuit breaker (its state shows in stats and metrics).
    """

    breaker: CircuitBreaker


@runtime_checkable
class Layered(Protocol):
    """
    A backend made of an in-process first tier over a shared second one.
    """

    l1: Backend
    l2: Backend


@runtime_checkable
class Bounded(Protocol):
    """
    A backend with a ceiling on the size of one stored value (a remote store).
    """

    max_value_bytes: int


@runtime_checkable
class Leases(Protocol):
    """
    A backend that stores a loaded value only if nothing touched its key since the load began.

    This is how an invalidation during a load stays effective (the leases of
    memcache, "Scaling Memcache at Facebook", 2013): before loading, the cache
    takes a lease on the key; a delete, a clear or any other write revokes it;
    `store_leased` then refuses the late, possibly stale value. A lease is a
    fingerprint of what the key held, so loaders that lease the same state
    share it and the first store wins.
    """

    def lease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Return ``(token, stored)``: a lease on ``key``'s current state and what it holds.

        ``stored`` is the value (as `Backend.get` returns it) or `MISS`; an empty
        key keeps a placeholder for ``ttl`` seconds, which reads see as a miss.
        """

    def store_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Store ``value`` only if ``key`` is as it was leased; return True if stored.
        """

    def release_lease(self, key: str, token: Any) -> bool:
        """
        Give up a lease without storing; return True if it was still valid.
        """

    async def alease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Async twin of `lease`.
        """

    async def astore_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Async twin of `store_leased`.
        """

    async def arelease_lease(self, key: str, token: Any) -> bool:
        """
        Async twin of `release_lease`.
        """


@dataclass(frozen=True)
class Powers:
    """
    What a backend can do beyond the contract, read once when a `Cache` is built.

    Attributes:
        local: reads never leave the process (see `Backend.local`).
        peek: the in-process first-tier read of a layered backend, or None.
        breaker: the circuit breaker guarding the backend (or its shared tier), or None.
        lock_store: where a cross-process lock can live (the backend or its shared
            tier), or None when locks can only be in-process.
        tags: the tag index, or None when tags are not supported.
        clearable: the prefix-clearing backend, or None.
        max_value_bytes: the largest stored value the backend (or its shared tier)
            accepts and reads back, or None for no ceiling.
        leases: the backend, if it can make a store conditional on a lease
            (invalidations during a load then stay effective), or None.
    """

    local: bool
    peek: Callable[[str], Any] | None
    breaker: CircuitBreaker | None
    lock_store: LockStore | None
    tags: TagIndex | None
    clearable: PrefixClearable | None
    max_value_bytes: int | None = None
    leases: Leases | None = None

    @property
    def breaker_state(self) -> str:
        """The breaker's state, or ``"closed"`` for a backend without one."""
        return self.breaker.state if self.breaker is not None else "closed"


def powers(backend: Backend) -> Powers:
    """
    Read what ``backend`` can do, once (a `Cache` does this when it is built).

    Args:
        backend: any backend.

    Returns:
        Its `Powers`; the shared tier of a `Layered` backend lends its breaker and lock.
    """
    shared = backend.l2 if isinstance(backend, Layered) else backend
    return Powers(
        local=bool(backend.local),
        peek=backend.peek if isinstance(backend, Peekable) else None,
        breaker=_breaker_of(backend) or _breaker_of(shared),
        lock_store=next(
            (b for b in (backend, shared) if isinstance(b, LockStore)), None
        ),
        tags=backend if isinstance(backend, TagIndex) else None,
        clearable=backend if isinstance(backend, PrefixClearable) else None,
        max_value_bytes=shared.max_value_bytes if isinstance(shared, Bounded) else None,
        leases=backend if isinstance(backend, Leases) else None,
    )


def _breaker_of(backend: object) -> CircuitBreaker | None:
    return backend.breaker if isinstance(backend, Guarded) else None
