"""
`TieredBackend`: an in-process L1 in front of Redis, kept coherent by pub/sub.

```text
get(key)                                   set(key, value, ttl)
  │                                          │
  ├─ L1 hit ──────────────▶ value            ├─ encode ─▶ L2 SET PX ── fails ─▶ BackendError
  │  (decoded object: no I/O, no decode)     │                                  (L1 dropped)
  ▼                                          ├─ L1 set, ttl ≤ l1_ttl (if bus up)
  ticket = bus.ticket(key)                   └─ PUBLISH {"k": [key]} ─▶ other L1s drop key
  L2 GET + PTTL (one round trip)
  ├─ fault / breaker open ─▶ BackendError ─▶ Cache: miss ─▶ loader
  ├─ nil ─▶ MISS
  └─ bytes ─▶ decode ─▶ L1 set for min(l1_ttl, PTTL)
                        only if the ticket still holds
                        (no message for key, no flush since)

delete / delete_many / clear_prefix / tag invalidation
  L2 DEL ─▶ L1 drop (always, even if L2 failed) ─▶ PUBLISH keys or prefix
  ─▶ wait until every subscribed instance confirmed it dropped them
     (confirm_timeout: BackendError)

invalidation bus (one listener thread)
  message from another instance ─▶ drop keys from L1, void their tickets
  message naming a reply list ─▶ confirm on it once applied
  connection lost / no PONG for 1.5 s ─▶ flush L1, no L1 fills until resubscribed
  resubscribed ─▶ flush L1 again (messages may have been missed)
```

Failure modes and their bounds:

* Redis down: L1 was flushed when the bus lost its connection, so every read
  is a miss served by the loader; the L2 breaker makes that cost nothing
  after a few failures. No stale value can come out of the L1.
* Redis hung (SIGSTOP): the L1 keeps serving until the bus gives up (1.5 s);
  nobody can write to a hung Redis, so nothing it holds is stale.
* A publish fails after a successful write (Redis died in between): other
  instances keep their copy until their L1 TTL (``l1_ttl`` at most). This is
  the one bounded-staleness window; keep ``l1_ttl`` short (the default is
  30 s) if that matters. A delete whose publish fails, or that some instance
  does not confirm in time, raises `BackendError` instead.
* Redis evicts a key (maxmemory): no message is sent; the L1 copy lives at
  most ``l1_ttl`` longer.

The L1 keeps decoded objects and the L2 bytes: a `Cache` built on this
backend hands it its serializer (`SerializerAware.bind`) and treats it as an
object backend, so an L1 hit costs what a `MemoryBackend` hit costs, and the
L2 read of an L1 miss decodes once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from wa_perfkit._log import RateLimitedWarning
from wa_perfkit.backends._acks import confirm, reply_key
from wa_perfkit.backends._bus import InvalidationBus, by_channel, channel_of
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.errors import BackendError, ConfigurationError, SerializationError
from wa_perfkit.policy import Duration, ttl_seconds
from wa_perfkit.serialization import JsonSerializer, Serializer

__all__ = ["TieredBackend"]


class TieredBackend:
    """
    Memory (L1) in front of Redis (L2), with invalidations shared through Redis pub/sub.

    Args:
        l1: the in-process tier (a `MemoryBackend` keeping objects).
        l2: the shared tier (a `RedisBackend`, plain or cluster).
        l1_ttl: the longest an entry lives in L1 (never longer than in L2).
        channel_prefix: prefix of the pub/sub channels (one per namespace).
        ping_interval: seconds between liveness pings of the bus connection.
        dead_after: seconds without a reply after which the bus reconnects.
        confirm_timeout: how long a delete, tag invalidation or clear waits for
            every instance to confirm it dropped its L1 copies before raising
            `BackendError` (default: the L2's, 2 s).

    Raises:
        ConfigurationError: ``l1`` stores bytes; ``l1_ttl``, ``ping_interval`` or
            ``dead_after`` is not a positive, finite duration, or ``dead_after`` is
            not longer than ``ping_interval``; ``l2`` has no sync client (the
            listener thread needs one).
    """

    #: The cache passes decoded values; this backend encodes for L2 itself.
    stores_objects = True
    #: A miss does network I/O: async callers must await it (hits use `peek`).
    local = False

    def __init__(
        self,
        l1: MemoryBackend | None = None,
        l2: RedisBackend | None = None,
        *,
        l1_ttl: Duration = 30.0,
        channel_prefix: str = "wa_perfkit:inv:",
        ping_interval: Duration = 0.5,
        dead_after: Duration = 1.5,
        confirm_timeout: Duration | None = None,
    ) -> None:
        if l2 is None:
            raise ConfigurationError("TieredBackend needs l2=RedisBackend(...)")
        l1 = l1 if l1 is not None else MemoryBackend()
        if not l1.stores_objects:
            raise ConfigurationError("the L1 of a TieredBackend must keep objects (copy=False)")
        l1_ttl = ttl_seconds(l1_ttl, "l1_ttl")
        ping_interval = ttl_seconds(ping_interval, "ping_interval")
        dead_after = ttl_seconds(dead_after, "dead_after")
        if not dead_after > ping_interval:
            raise ConfigurationError(
                f"dead_after ({dead_after}) must be longer than ping_interval ({ping_interval})"
            )
        if confirm_timeout is not None:
            l2.confirm_timeout = ttl_seconds(confirm_timeout, "confirm_timeout")
        self.l1, self.l2, self.l1_ttl = l1, l2, l1_ttl
        self._serializer: Serializer | None = None
        self._reporters: dict[str, Callable[[str, str], None]] = {}  # namespace -> cache
        self._warn = RateLimitedWarning()
        self.decode_errors = 0
        self.publish_errors = 0
        self.l2_reads = 0
        client = l2.client  # raises ConfigurationError if there is none
        # This backend announces its own writes and deletes, after its L1 is updated.
        l2.announce = False
        self.bus = InvalidationBus(
            client.pubsub,
            l1.delete_many,
            l1.clear_prefix,
            functools.partial(confirm, client),
            prefix=channel_prefix,
            ping_interval=ping_interval,
            dead_after=dead_after,
        )
        # The hit path: the L1's own bound method, no wrapper in between.
        self.peek = l1.get
        self.bus.start()

    def __repr__(self) -> str:
        state = "up" if self.bus.connected else "down"
        return f"TieredBackend(l1={self.l1!r}, l2={self.l2!r}, bus={state})"

    @property
    def breaker(self) -> Any:
        """
        The L2's circuit breaker (read by `Cache.stats`).
        """
        return self.l2.breaker

    # -- the SerializerAware hook -----------------------------------------------

    def bind(
        self,
        namespace: str,
        serializer: Serializer,
        report: Callable[[str, str], None] | None = None,
    ) -> None:
        """
        Encode L2 values with ``serializer``; listen to ``namespace``'s channel.

        ``report(key, reason)`` is told of each undecodable L2 entry of the
        namespace (the cache counts it in its ``decode_errors``).

        Raises:
            ConfigurationError: a cache bound a different serializer before.
        """
        current = self._serializer
        if current is not None and not _same_serializer(current, serializer):
            raise ConfigurationError(
                "caches sharing a TieredBackend must use the same serializer"
            )
        self._serializer = current or serializer
        if report is not None:
            self._reporters[namespace] = report
        self.bus.want(namespace)

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """
        Wait until the invalidation bus is subscribed (the L1 is used only then).
        """
        return self.bus.wait_ready(timeout)

    @property
    def serializer(self) -> Serializer:
        """
        The serializer of the L2 bytes (`JsonSerializer` until a cache binds one).
        """
        if self._serializer is None:
            self._serializer = JsonSerializer()
        return self._serializer

    # -- reads --------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """
        The L1 value, else the L2 value (filling L1), else `MISS`.
        """
        value = self.l1.get(key)
        if value is not MISS:
            return value
        ticket = self.bus.ticket(key)
        data, remaining = self.l2.get_with_ttl(key)
        return self._fill(key, data, remaining, ticket)

    async def aget(self, key: str) -> Any:
        """
        Async twin of `get`.
        """
        value = self.l1.get(key)
        if value is not MISS:
            return value
        ticket = self.bus.ticket(key)
        data, remaining = await self.l2.aget_with_ttl(key)
        return self._fill(key, data, remaining, ticket)

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """
        One value or `MISS` per key: L1 first, one L2 round trip for the rest.
        """
        values = self.l1.get_many(keys)
        missing = [k for k, v in zip(keys, values, strict=True) if v is MISS]
        if missing:
            raw = self.l2.get_many(missing)
            found = dict(zip(missing, self._decode_all(missing, raw), strict=True))
            values = [found[k] if v is MISS else v for k, v in zip(keys, values, strict=True)]
        return values

    async def aget_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Async twin of `get_many`.
        """
        values = self.l1.get_many(keys)
        missing = [k for k, v in zip(keys, values, strict=True) if v is MISS]
        if missing:
            raw = await self.l2.aget_many(missing)
            found = dict(zip(missing, self._decode_all(missing, raw), strict=True))
            values = [found[k] if v is MISS else v for k, v in zip(keys, values, strict=True)]
        return values

    def _fill(self, key: str, data: Any, remaining: float, ticket: int | None) -> Any:
        self.l2_reads += 1
        if data is MISS:
            return MISS
        value = self._decode(key, data)
        ttl = min(self.l1_ttl, remaining)
        if ticket is not None and value is not MISS and ttl > 0:
            bus = self.bus
            with bus.lock:
                if bus.valid(key, ticket):
                    self.l1.set(key, value, ttl)
        return value

    def _decode(self, key: str, data: bytes) -> Any:
        try:
            if len(data) > self.l2.max_value_bytes:  # never decoded: see max_value_bytes
                raise SerializationError("too-large", f"{len(data)} bytes > max_value_bytes")
            return self.serializer.loads(data)
        except SerializationError as exc:
            self.decode_errors += 1
            report = self._reporters.get(key.partition(":")[0])
            if report is not None:
                report(key, exc.reason)  # counted and logged by the cache
                return MISS
            self._warn.warn(
                "decode", "wa_perfkit: tiered backend ignored an undecodable entry (%s)",
                exc.reason,
            )
            return MISS

    def _decode_quietly(self, data: Any) -> Any:
        # A lease's second look at an entry the read already judged (and counted).
        if data is MISS or len(data) > self.l2.max_value_bytes:
            return MISS
        try:
            return self.serializer.loads(data)
        except SerializationError:
            return MISS

    def _dumps(self, value: Any) -> bytes:
        data = self.serializer.dumps(value)
        if len(data) > self.l2.max_value_bytes:  # it would be a miss on every read
            raise SerializationError("too-large", f"{len(data)} bytes > max_value_bytes")
        return data

    def _decode_all(self, keys: Sequence[str], raw: list[Any]) -> list[Any]:
        # Batch reads do not fill L1: they carry no TTL, and batches are rare.
        return [
            MISS if data is MISS else self._decode(key, data)
            for key, data in zip(keys, raw, strict=True)
        ]

    # -- writes -------------------------------------------------------------------

    def set(self, key: str, value: Any, ttl: float) -> None:
        """
        Write L2, then L1, then tell the other instances.
        """
        ticket = self.bus.ticket(key)
        try:
            self.l2.set(key, self._dumps(value), ttl)
        except BackendError:
            self._forget([key])
            raise
        self._store_local(key, value, ttl, ticket)
        self._announce(channel_of(self.bus.prefix, key), self.bus.message([key]))

    async def aset(self, key: str, value: Any, ttl: float) -> None:
        """
        Async twin of `set`.
        """
        ticket = self.bus.ticket(key)
        try:
            await self.l2.aset(key, self._dumps(value), ttl)
        except BackendError:
            self._forget([key])
            raise
        self._store_local(key, value, ttl, ticket)
        await self._aannounce(channel_of(self.bus.prefix, key), self.bus.message([key]))

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """
        Set-if-absent, decided by L2 alone (it is the one all instances share).
        """
        ticket = self.bus.ticket(key)
        stored = self.l2.add(key, self._dumps(value), ttl)
        if stored:
            self._store_local(key, value, ttl, ticket)
        return stored

    async def aadd(self, key: str, value: Any, ttl: float) -> bool:
        """
        Async twin of `add`.
        """
        ticket = self.bus.ticket(key)
        stored = await self.l2.aadd(key, self._dumps(value), ttl)
        if stored:
            self._store_local(key, value, ttl, ticket)
        return stored

    # -- leases (kept in L2, the store every instance shares) ----------------------

    def lease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Lease ``key`` in L2: ``(token, decoded value or MISS)``.
        """
        token, data = self.l2.lease(key, ttl)
        return token, self._decode_quietly(data)

    async def alease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Async twin of `lease`.
        """
        token, data = await self.l2.alease(key, ttl)
        return token, self._decode_quietly(data)

    def store_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Compare-and-set in L2; only a value L2 accepted enters L1 and is announced.
        """
        ticket = self.bus.ticket(key)
        try:
            stored = self.l2.store_leased(key, token, self._dumps(value), ttl)
        except BackendError:
            self._forget([key])
            raise
        if stored:
            self._store_local(key, value, ttl, ticket)
            self._announce(channel_of(self.bus.prefix, key), self.bus.message([key]))
        return stored

    async def astore_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Async twin of `store_leased`.
        """
        ticket = self.bus.ticket(key)
        try:
            stored = await self.l2.astore_leased(key, token, self._dumps(value), ttl)
        except BackendError:
            self._forget([key])
            raise
        if stored:
            self._store_local(key, value, ttl, ticket)
            await self._aannounce(channel_of(self.bus.prefix, key), self.bus.message([key]))
        return stored

    def release_lease(self, key: str, token: Any) -> bool:
        """
        Give up an L2 lease; True if it was still valid.
        """
        return self.l2.release_lease(key, token)

    async def arelease_lease(self, key: str, token: Any) -> bool:
        """
        Async twin of `release_lease`.
        """
        return await self.l2.arelease_lease(key, token)

    def _store_local(self, key: str, value: Any, ttl: float, ticket: int | None) -> None:
        bus = self.bus
        with bus.lock:
            # Only if no other write or message touched the key since our L2 write began.
            keep = ticket is not None and bus.connected and bus.valid(key, ticket)
            bus.touch([key])  # a concurrent fill of the old value must not land after us
            if keep:
                self.l1.set(key, value, min(self.l1_ttl, ttl))
            else:
                self.l1.delete(key)

    # -- deletes and invalidations ----------------------------------------------

    def delete(self, key: str) -> bool:
        """
        Delete from L2 and L1, then tell the other instances.
        """
        try:
            existed = self.l2.delete(key)
        finally:
            local = self._forget([key])
        self._invalidate_elsewhere(channel_of(self.bus.prefix, key), [key])
        return existed or local > 0

    async def adelete(self, key: str) -> bool:
        """
        Async twin of `delete`.
        """
        try:
            existed = await self.l2.adelete(key)
        finally:
            local = self._forget([key])
        await self._ainvalidate_elsewhere(channel_of(self.bus.prefix, key), [key])
        return existed or local > 0

    def delete_many(self, keys: Sequence[str]) -> int:
        """
        Delete every key from L2 and L1; return how many existed in L2.
        """
        try:
            count = self.l2.delete_many(keys)
        finally:
            self._forget(keys)
        for channel, group in by_channel(self.bus.prefix, keys).items():
            self._invalidate_elsewhere(channel, group)
        return count

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """
        Async twin of `delete_many`.
        """
        try:
            count = await self.l2.adelete_many(keys)
        finally:
            self._forget(keys)
        for channel, group in by_channel(self.bus.prefix, keys).items():
            await self._ainvalidate_elsewhere(channel, group)
        return count

    def clear_prefix(self, prefix: str) -> int:
        """
        Remove every key starting with ``prefix`` from L2 and every instance's L1.
        """
        try:
            count = self.l2.clear_prefix(prefix)
        finally:
            self._forget_prefix(prefix)
        self._invalidate_elsewhere(channel_of(self.bus.prefix, prefix), prefix=prefix)
        return count

    async def aclear_prefix(self, prefix: str) -> int:
        """
        Async twin of `clear_prefix`.
        """
        try:
            count = await self.l2.aclear_prefix(prefix)
        finally:
            self._forget_prefix(prefix)
        await self._ainvalidate_elsewhere(channel_of(self.bus.prefix, prefix), prefix=prefix)
        return count

    def _forget(self, keys: Sequence[str]) -> int:
        with self.bus.lock:
            self.bus.touch(keys)
            return self.l1.delete_many(keys)

    def _forget_prefix(self, prefix: str) -> None:
        with self.bus.lock:
            self.bus.void_all()
            self.l1.clear_prefix(prefix)

    def _announce(self, channel: str, message: bytes) -> None:
        try:
            self.l2.publish(channel, message)
        except BackendError as exc:
            self._publish_failed(exc)

    async def _aannounce(self, channel: str, message: bytes) -> None:
        try:
            await self.l2.apublish(channel, message)
        except BackendError as exc:
            self._publish_failed(exc)

    def _invalidate_elsewhere(
        self, channel: str, keys: Sequence[str] = (), prefix: str | None = None
    ) -> None:
        # Tell every instance, and return once each confirmed: a failure raises, since
        # their L1s may still hold what the caller just invalidated.
        reply = reply_key(self.bus.prefix)
        try:
            self.l2.publish(channel, self.bus.message(keys, prefix, reply), reply=reply)
        except BackendError:
            self.publish_errors += 1
            raise

    async def _ainvalidate_elsewhere(
        self, channel: str, keys: Sequence[str] = (), prefix: str | None = None
    ) -> None:
        reply = reply_key(self.bus.prefix)
        try:
            await self.l2.apublish(channel, self.bus.message(keys, prefix, reply), reply=reply)
        except BackendError:
            self.publish_errors += 1
            raise

    def _publish_failed(self, exc: BackendError) -> None:
        # The write itself succeeded; other L1s keep their copy at most l1_ttl.
        self.publish_errors += 1
        self._warn.warn("publish", "wa_perfkit: invalidation not published: %s", exc)

    # -- tags (kept in L2 only: they are shared bookkeeping) -----------------------

    def tag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Record tag membership in L2.
        """
        self.l2.tag_keys(tag, keys, ttl)

    async def atag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Async twin of `tag_keys`.
        """
        await self.l2.atag_keys(tag, keys, ttl)

    def pop_tag(self, tag: str) -> list[str]:
        """
        Pop a tag's members from L2 (the cache then deletes them, which publishes).
        """
        return self.l2.pop_tag(tag)

    async def apop_tag(self, tag: str) -> list[str]:
        """
        Async twin of `pop_tag`.
        """
        return await self.l2.apop_tag(tag)

    # -- lifecycle ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """
        Tier counters: L2 reads, bus messages, reconnects, flushes, errors, breaker.
        """
        breaker = self.l2.breaker
        return {
            "l1_entries": len(self.l1),
            "l2_reads": self.l2_reads,
            "bus_connected": self.bus.connected,
            "bus_received": self.bus.received,
            "bus_reconnects": self.bus.reconnects,
            "l1_flushes": self.bus.flushes,
            "decode_errors": self.decode_errors,
            "publish_errors": self.publish_errors,
            "breaker_state": breaker.state,
            "breaker_opened": breaker.opened_count,
        }

    def close(self) -> None:
        """
        Stop the listener, drop the L1, close the L2's sync client.
        """
        self.bus.stop()
        self.l1.close()
        self.l2.close()

    async def aclose(self) -> None:
        """
        Stop the listener, drop the L1, close the L2's asyncio client.
        """
        self.bus.stop()
        self.l1.close()
        await self.l2.aclose()


def _same_serializer(a: Serializer, b: Serializer) -> bool:
    return a is b or (type(a) is type(b) and vars(a) == vars(b))
