"""
The backend contract: seven operations and their async twins.

A backend stores opaque values under string keys with a TTL in seconds. It
knows nothing of serialization, namespaces, single-flight or statistics: the
`Cache` in front of it does all of that once, for every backend.

Two kinds of backend exist:

* object backends (``stores_objects = True``, the in-process memory store)
  keep the Python value itself, so a hit costs no decode;
* byte backends (Redis) store ``bytes`` produced by the cache's serializer.

Optional powers are separate, small protocols (`PrefixClearable`,
`TagIndex`) so a minimal backend only implements the seven operations.

A miss is the `MISS` sentinel, never ``None``: ``None`` is a value a cache
may legitimately hold (``cache_none=True``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol, runtime_checkable

__all__ = ["MISS", "Backend", "Missing", "PrefixClearable", "TagIndex"]


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
