"""
In-process memory backend: bounded, per-entry TTL, lock-free reads.

Values are kept as the Python objects themselves, so a hit costs one dict
lookup and one clock read — no decode. The price: a caller who mutates a
returned object mutates the cached entry. Treat cached values as read-only,
or build the backend with ``copy=True`` (the cache then stores serialized
bytes and every hit decodes a fresh copy).

Why not ``cachetools.TTLCache``: its ``__getitem__`` reorders links on every
read, so reads need the lock a write takes; here reads are a single
``OrderedDict.get`` (atomic under the GIL) and only writes lock. Expired
entries are never returned and are dropped when read.

Eviction, when full, is chosen at construction:

* ``eviction="fifo"`` (the default): the entry written longest ago goes
  first (``popitem(last=False)``, O(1)); for TTL entries it is the one
  nearest to expiry. A hit costs nothing beyond the lookup.
* ``eviction="lru"``: a hit also moves its entry to the young end
  (``OrderedDict.move_to_end``, one C call on a ``str`` key, atomic under the
  GIL, so reads still take no lock), and the least recently used entry goes
  first. On a skewed (Zipf) workload it keeps hot keys that FIFO evicts as
  readily as cold ones; ``docs/benchmarks.md`` has the hit ratios and the
  hit cost of both.

The tag index is bounded with the entries: an entry that is evicted,
deleted or expired leaves every tag it carried, and a tag nobody carries is
forgotten, so the index never holds more than the live entries' tags.

Leases (`wa_perfkit.backends.base.Leases`) are object identities: a lease on
a live entry is the entry tuple itself, on an empty key a placeholder object
kept beside the data (never in it, so reads stay one dict lookup). Every
write, delete or clear replaces or drops them, which revokes the lease.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

from wa_perfkit.backends.base import MISS
from wa_perfkit.errors import ConfigurationError

__all__ = ["Eviction", "MemoryBackend"]

#: How a full `MemoryBackend` picks the entry to evict.
Eviction = Literal["fifo", "lru"]


class _SyncOps(Protocol):
    def get(self, key: str) -> Any: ...
    def get_many(self, keys: Sequence[str]) -> list[Any]: ...
    def set(self, key: str, value: Any, ttl: float) -> None: ...
    def add(self, key: str, value: Any, ttl: float) -> bool: ...
    def delete(self, key: str) -> bool: ...
    def delete_many(self, keys: Sequence[str]) -> int: ...
    def close(self) -> None: ...
    def clear_prefix(self, prefix: str) -> int: ...
    def tag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None: ...
    def pop_tag(self, tag: str) -> list[str]: ...
    def lease(self, key: str, ttl: float) -> tuple[Any, Any]: ...
    def store_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool: ...
    def release_lease(self, key: str, token: Any) -> bool: ...


class _AsyncTwins:
    """
    Async twins for a backend whose sync methods never block: they just call them.
    """

    async def aget(self: _SyncOps, key: str) -> Any:
        """Async twin of `get`."""
        return self.get(key)

    async def aget_many(self: _SyncOps, keys: Sequence[str]) -> list[Any]:
        """Async twin of `get_many`."""
        return self.get_many(keys)

    async def aset(self: _SyncOps, key: str, value: Any, ttl: float) -> None:
        """Async twin of `set`."""
        self.set(key, value, ttl)

    async def aadd(self: _SyncOps, key: str, value: Any, ttl: float) -> bool:
        """Async twin of `add`."""
        return self.add(key, value, ttl)

    async def adelete(self: _SyncOps, key: str) -> bool:
        """Async twin of `delete`."""
        return self.delete(key)

    async def adelete_many(self: _SyncOps, keys: Sequence[str]) -> int:
        """Async twin of `delete_many`."""
        return self.delete_many(keys)

    async def aclose(self: _SyncOps) -> None:
        """Async twin of `close`."""
        self.close()

    async def aclear_prefix(self: _SyncOps, prefix: str) -> int:
        """Async twin of `clear_prefix`."""
        return self.clear_prefix(prefix)

    async def atag_keys(self: _SyncOps, tag: str, keys: Sequence[str], ttl: float) -> None:
        """Async twin of `tag_keys`."""
        self.tag_keys(tag, keys, ttl)

    async def apop_tag(self: _SyncOps, tag: str) -> list[str]:
        """Async twin of `pop_tag`."""
        return self.pop_tag(tag)

    async def alease(self: _SyncOps, key: str, ttl: float) -> tuple[Any, Any]:
        """Async twin of `lease`."""
        return self.lease(key, ttl)

    async def astore_leased(self: _SyncOps, key: str, token: Any, value: Any, ttl: float) -> bool:
        """Async twin of `store_leased`."""
        return self.store_leased(key, token, value, ttl)

    async def arelease_lease(self: _SyncOps, key: str, token: Any) -> bool:
        """Async twin of `release_lease`."""
        return self.release_lease(key, token)


class MemoryBackend(_AsyncTwins):
    """
    A bounded in-process store with a TTL per entry, safe under threads and asyncio.

    Args:
        maxsize: the most entries held.
        copy: store serialized bytes instead of objects, so callers may mutate
            what they get (each hit then pays a decode).
        timer: a monotonic clock in seconds; tests inject a fake one.
        eviction: ``"fifo"`` (default) evicts the entry written longest ago;
            ``"lru"`` evicts the one read or written longest ago, which keeps
            hot keys on a skewed workload (a hit then also reorders one link).

    Raises:
        ConfigurationError: ``maxsize`` is not a positive integer, or
            ``eviction`` is not ``"fifo"`` or ``"lru"``.
    """

    #: In-process: sync calls never block, so async callers may use them directly.
    local = True

    def __init__(
        self,
        maxsize: int = 10_000,
        *,
        copy: bool = False,
        timer: Callable[[], float] = time.monotonic,
        eviction: Eviction = "fifo",
    ) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
            raise ConfigurationError(f"maxsize must be a positive int, not {maxsize!r}")
        if eviction not in ("fifo", "lru"):
            raise ConfigurationError(f"eviction must be 'fifo' or 'lru', not {eviction!r}")
        self.maxsize = maxsize
        self.eviction = eviction
        self.stores_objects = not copy
        self._timer = timer
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._tags: dict[str, dict[str, None]] = {}  # tag -> keys carrying it
        self._key_tags: dict[str, set[str]] = {}  # key -> its tags (kept with the entry)
        self._leases: dict[str, object] = {}  # empty key -> its placeholder lease
        self._lock = threading.Lock()
        if eviction == "lru":
            self.get = self._get_lru  # type: ignore[method-assign]  # decided once

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return (
            f"MemoryBackend(maxsize={self.maxsize}, entries={len(self._data)}"
            + (f", eviction={self.eviction!r})" if self.eviction != "fifo" else ")")
        )

    def tag_count(self) -> int:
        """
        Return how many tags the index holds (only tags some live entry carries).
        """
        return len(self._tags)

    def get(self, key: str) -> Any:
        """
        Return the live value under ``key``, or `MISS`.
        """
        entry = self._data.get(key)
        if entry is None:
            return MISS
        if entry[0] > self._timer():
            return entry[1]
        self._drop_if_same(key, entry)
        return MISS

    def _get_lru(self, key: str) -> Any:
        # `get` with eviction="lru": a hit moves the entry to the young end, lock-free.
        data = self._data
        entry = data.get(key)
        if entry is None:
            return MISS
        if entry[0] > self._timer():
            try:  # noqa: SIM105 (contextlib.suppress costs a context manager per hit)
                data.move_to_end(key)
            except KeyError:  # deleted since we read it: still this read's answer
                pass
            return entry[1]
        self._drop_if_same(key, entry)
        return MISS

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Return one value or `MISS` per key.
        """
        return [self.get(key) for key in keys]

    def set(self, key: str, value: Any, ttl: float) -> None:
        """
        Store ``value`` for ``ttl`` seconds, evicting the oldest entry when full.
        """
        entry = (self._timer() + ttl, value)
        with self._lock:
            self._store(key, entry)

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """
        Store ``value`` only if no live entry exists under ``key``.
        """
        now = self._timer()
        with self._lock:
            current = self._data.get(key)
            if current is not None and current[0] > now:
                return False
            self._store(key, (now + ttl, value))
            return True

    def delete(self, key: str) -> bool:
        """
        Remove ``key``; return True if a live entry existed.
        """
        with self._lock:
            entry = self._data.pop(key, None)
            self._leases.pop(key, None)
            if entry is not None:
                self._untag(key)
        return entry is not None and entry[0] > self._timer()

    def delete_many(self, keys: Sequence[str]) -> int:
        """
        Remove every key; return how many live entries existed.
        """
        return sum(self.delete(key) for key in keys)

    def clear_prefix(self, prefix: str) -> int:
        """
        Remove every entry whose key starts with ``prefix``.
        """
        with self._lock:
            # A snapshot: lock-free LRU reads may reorder the dict meanwhile.
            doomed = [key for key in list(self._data) if key.startswith(prefix)]
            for key in doomed:
                self._data.pop(key, None)
                self._untag(key)
            for key in [key for key in self._leases if key.startswith(prefix)]:
                del self._leases[key]
            for tag in [tag for tag in self._tags if tag.startswith(prefix)]:
                self._forget_tag(tag)
        return len(doomed)

    def tag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Remember that ``keys`` carry ``tag``.

        The membership lasts as long as the entry: evicting, deleting or
        expiring it removes it from the tag, so the index stays bounded.
        """
        with self._lock:
            key_tags = self._key_tags
            for key in keys:
                self._tags.setdefault(tag, {})[key] = None
                key_tags.setdefault(key, set()).add(tag)
            if len(key_tags) > 2 * self.maxsize:
                # Keys tagged but never stored (or gone some other way) would
                # stay forever: sweep them. At most maxsize survive, so this
                # runs once per maxsize new keys at most (amortized O(1)).
                data = self._data
                for key in [k for k in key_tags if k not in data]:
                    self._untag(key)

    def pop_tag(self, tag: str) -> list[str]:
        """
        Forget ``tag`` and return the keys that carried it.
        """
        with self._lock:
            return self._forget_tag(tag)

    def close(self) -> None:
        """
        Drop every entry.
        """
        with self._lock:
            self._data.clear()
            self._tags.clear()
            self._key_tags.clear()
            self._leases.clear()

    def lease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Return ``(token, value or MISS)``: a lease on what ``key`` holds now.
        """
        now = self._timer()
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[0] > now:
                return entry, entry[1]
            token = self._leases.get(key)
            if token is None:
                if len(self._leases) >= self.maxsize:
                    self._leases.clear()  # bounded: a revoked lease only drops one store
                token = self._leases[key] = object()
            return token, MISS

    def store_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Store ``value`` if ``key`` still holds what ``token`` leased.
        """
        entry = (self._timer() + ttl, value)
        with self._lock:
            if self._data.get(key) is not token and self._leases.get(key) is not token:
                return False
            self._store(key, entry)
            return True

    def release_lease(self, key: str, token: Any) -> bool:
        """
        Drop the lease ``token``; True if nothing touched ``key`` since it was taken.
        """
        with self._lock:
            if self._leases.get(key) is token:
                del self._leases[key]
                return True
            return self._data.get(key) is token

    def _store(self, key: str, entry: tuple[float, Any]) -> None:
        # Caller holds the lock. Any write revokes the key's outstanding leases.
        self._leases.pop(key, None)
        data = self._data
        if key in data:
            del data[key]
        elif len(data) >= self.maxsize:
            evicted, _ = data.popitem(last=False)
            self._untag(evicted)
        data[key] = entry

    def _untag(self, key: str) -> None:
        # Caller holds the lock: ``key`` left the store, so it leaves its tags.
        tags = self._key_tags.pop(key, None)
        if not tags:
            return
        index = self._tags
        for tag in tags:
            members = index.get(tag)
            if members is not None:
                members.pop(key, None)
                if not members:
                    del index[tag]

    def _forget_tag(self, tag: str) -> list[str]:
        # Caller holds the lock.
        members = list(self._tags.pop(tag, ()))
        key_tags = self._key_tags
        for key in members:
            tags = key_tags.get(key)
            if tags is not None:
                tags.discard(tag)
                if not tags:
                    del key_tags[key]
        return members

    def _drop_if_same(self, key: str, entry: tuple[float, Any]) -> None:
        with self._lock:
            # Another thread may have stored a fresh entry since we read.
            if self._data.get(key) is entry:
                del self._data[key]
                self._untag(key)
