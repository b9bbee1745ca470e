"""
`NullBackend`: a backend that stores nothing, so every read is a miss.

It is what a disabled `Cache` uses (``Cache(..., enabled=False)`` or
``WA_PERFKIT_CACHE_DISABLED=1``): every call goes to the loader, which is
what tests and debugging sessions want, without a code change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wa_perfkit.backends.base import MISS

__all__ = ["NullBackend"]


class NullBackend:
    """
    Stores nothing: every ``get`` is `MISS`, every ``add`` succeeds.

    ``add`` answers True (as if the key were always free), so a webhook
    deduplicated through a disabled cache is processed every time it arrives.
    """

    stores_objects = True
    local = True

    def __repr__(self) -> str:
        return "NullBackend()"

    def get(self, key: str) -> Any:
        """Return `MISS`."""
        return MISS

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """Return one `MISS` per key."""
        return [MISS] * len(keys)

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store nothing."""

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """Store nothing; True."""
        return True

    def delete(self, key: str) -> bool:
        """Delete nothing; False."""
        return False

    def delete_many(self, keys: Sequence[str]) -> int:
        """Delete nothing; 0."""
        return 0

    def close(self) -> None:
        """Nothing to close."""

    async def aget(self, key: str) -> Any:
        """Async twin of `get`."""
        return MISS

    async def aget_many(self, keys: Sequence[str]) -> list[Any]:
        """Async twin of `get_many`."""
        return [MISS] * len(keys)

    async def aset(self, key: str, value: Any, ttl: float) -> None:
        """Async twin of `set`."""

    async def aadd(self, key: str, value: Any, ttl: float) -> bool:
        """Async twin of `add`."""
        return True

    async def adelete(self, key: str) -> bool:
        """Async twin of `delete`."""
        return False

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """Async twin of `delete_many`."""
        return 0

    async def aclose(self) -> None:
        """Async twin of `close`."""
