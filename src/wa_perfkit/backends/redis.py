"""
Redis backend on redis-py, sync and asyncio, one round trip per hit.

A hit is one ``GET``; a store is one ``SET ... PX``; set-if-absent is
``SET ... NX PX``. Only commands that Redis 6+, Valkey and Redis Cluster all
have are used (no ``GETEX``, no ``PEXPIRE GT``); tag upkeep is a small Lua
script touching one key.

Faults are cache misses, never caller errors: every driver exception becomes
a `BackendError` in one place (`_guarded` / `_aguarded`), which the `Cache`
counts and answers with the loader. Short default timeouts (250 ms read,
1 s connect), no driver-level retries, and a `CircuitBreaker` mean a dead
Redis costs at most one timeout per call until the breaker opens, then
nothing. Why not tens of ms: an asyncio timeout also counts the time the
event loop takes to come back to the socket, and a burst of 500 concurrent
requests opening 64 connections on two busy cores took over 250 ms to
connect — each false timeout a needless extra loader run. A refused
connection (Redis down) fails at once whatever the timeout; a hung server
(SIGSTOP) costs the read timeout.

The asyncio client is created lazily, once per event loop (an asyncio
connection cannot move between loops), behind a semaphore as large as its
pool: with 500 concurrent tasks, callers wait up to ``pool_timeout`` for a
connection instead of failing with "Too many connections".

Redis Cluster (``cluster=True`` with a URL, or a ``redis.RedisCluster`` /
``redis.asyncio.RedisCluster`` client): no key is hash-tagged. Nothing here
needs two keys on one slot — a tag set is one key updated by a one-key
script, ``pop_tag`` is a one-key script, a lock is one key, and the tiered
fill reads ``GET`` + ``PTTL`` of the same key — so a cache's keys spread over
every shard instead of making its namespace one hot slot. The multi-key
calls (``MGET``, ``delete_many``, ``clear_prefix``) are split per node by the
client and are not atomic, which a cache does not need.

Leases (`wa_perfkit.backends.base.Leases`) live in the entry's own key, so
each lease script touches one key: a lease is the SHA-1 of what the key
holds, an empty key first gets a short placeholder (``\\x00wpk-lease:`` plus
random bytes) that every read reports as a miss, and the leased store is a
compare-and-set script. ``DEL``, a clear or any other write changes the key
and so revokes the lease. A hit stays one ``GET``.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wa_perfkit.backends._acks import acollect, asubscribers, collect, reply_key, subscribers
from wa_perfkit.backends._bus import by_channel, channel_of, encode_message
from wa_perfkit.backends._gate import Gate
from wa_perfkit.backends._redis_ops import (
    _LEASE_SCRIPT,
    _POP_TAG_SCRIPT,
    _RELEASE_LEASE_SCRIPT,
    _RELEASE_SCRIPT,
    _STORE_LEASED_SCRIPT,
    _TAG_SCRIPT,
    LEASE_MARK,
    Notes,
    _aclear_each,
    _adelete_each,
    _aget_pttl,
    _amget,
    _anoted,
    _clear_each,
    _cluster,
    _delete_each,
    _get_pttl,
    _glob_escape,
    _is_cluster,
    _mget,
    _ms,
    _noted,
    _our_keys,
    _with_ttl,
    _without_pool_timeout,
)
from wa_perfkit.backends._redis_url import check_options, check_url
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.breaker import CircuitBreaker
from wa_perfkit.errors import BackendError, BackendUnavailable, ConfigurationError
from wa_perfkit.policy import ttl_seconds
from wa_perfkit.secret import redact_url

__all__ = ["RedisBackend"]

T = TypeVar("T")

# What a dead, hung or misbehaving server can make redis-py raise.
_DRIVER_ERRORS = (redis.RedisError, OSError, asyncio.TimeoutError)

class RedisBackend:
    """
    Store cache entries in Redis (or Valkey, or Redis Cluster).

    Args:
        url: a ``redis://`` or ``rediss://`` URL; both clients are built from it.
        client: a ready sync client (``redis.Redis`` or ``redis.RedisCluster``).
        async_client: a ready asyncio client; required for async use when
            ``client`` is given without ``url``.
        cluster: ``url`` names a node of a Redis Cluster (``redis.RedisCluster``
            clients are built from it).
        socket_timeout: read timeout in seconds for clients built from ``url``.
        connect_timeout: connect timeout in seconds for clients built from ``url``.
        max_connections: pool size per client built from ``url``.
        pool_timeout: seconds a caller waits for a free pooled connection.
        breaker: the circuit breaker; one with defaults is created if omitted
            (opens after 3 consecutive failures, probes after 1 s).
        max_value_bytes: the largest entry stored or read back (4 MiB): a larger
            value is not written, and a larger entry found in Redis (planted by
            another writer) is a miss counted as a decode error, never decoded.
        announce: publish what ``set``, ``delete``, ``delete_many`` and
            ``clear_prefix`` change (in the same round trip), so that every
            `TieredBackend` on this Redis drops its L1 copy. A `TieredBackend`
            turns this off on its own L2: it announces itself.
        channel_prefix: the invalidation channels' prefix (as the tiered backends').
        confirm_timeout: how long an announced invalidation (``delete``,
            ``delete_many``, ``clear_prefix``) waits for every subscribed
            `TieredBackend` to confirm it dropped its L1 copies; past it the
            call raises `BackendError`. No subscriber, no wait.

    Raises:
        ConfigurationError: neither ``url`` nor ``client`` was given; the URL has
            a bad port or a bad or unknown option; a timeout is not a positive
            finite number (``confirm_timeout`` included); ``max_connections`` or
            ``max_value_bytes`` is not positive.
    """

    stores_objects = False
    local = False

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        async_client: Any = None,
        cluster: bool = False,
        socket_timeout: float = 0.25,
        connect_timeout: float = 1.0,
        max_connections: int = 64,
        pool_timeout: float = 1.0,
        breaker: CircuitBreaker | None = None,
        max_value_bytes: int = 4 * 1024 * 1024,
        announce: bool = True,
        channel_prefix: str = "wa_perfkit:inv:",
        confirm_timeout: float = 2.0,
    ) -> None:
        if url is None and client is None and async_client is None:
            raise ConfigurationError("RedisBackend needs url= or client=")
        if url is not None:
            check_url(url)
        self._url = url
        self.cluster = cluster or _is_cluster(client) or _is_cluster(async_client)
        self.socket_timeout = socket_timeout
        self.connect_timeout = connect_timeout
        self._options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "max_connections": max_connections,
            "timeout": pool_timeout,
            # A retry would multiply the timeout a dead server costs; the breaker decides.
            "retry": Retry(NoBackoff(), 0),
        }
        check_options(
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            max_connections=max_connections,
        )
        self._client = client
        self._async_client = async_client
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._owns_async = async_client is None
        self._shown = redact_url(url) if url else "client"  # for logs and repr: no password
        self.breaker = breaker or CircuitBreaker(f"redis {self._shown}")
        if not max_value_bytes > 0:
            raise ConfigurationError(f"max_value_bytes must be positive, not {max_value_bytes!r}")
        self.max_value_bytes = int(max_value_bytes)
        self.announce = announce
        self.channel_prefix = channel_prefix
        self.confirm_timeout = ttl_seconds(confirm_timeout, "confirm_timeout")
        self._sender = uuid.uuid4().hex
        self._scripts: dict[str, Any] = {}
        self._async_ready: asyncio.Task[Any] | None = None
        self._async_gate: Gate | None = None

    def __repr__(self) -> str:
        return f"RedisBackend({self._shown!r}, breaker={self.breaker.state})"

    # -- clients ----------------------------------------------------------------

    @property
    def client(self) -> Any:
        """
        The sync redis-py client (built on first use from ``url``).
        """
        if self._client is None:
            if self._url is None:
                raise ConfigurationError("this RedisBackend was given no sync client")
            if self.cluster:
                self._client = redis.RedisCluster.from_url(self._url, **_cluster(self._options))
            else:
                pool = redis.BlockingConnectionPool.from_url(self._url, **self._options)
                self._client = redis.Redis(connection_pool=pool)
        return self._client

    def async_client(self) -> Any:
        """
        The asyncio client of the running event loop (built on first use from ``url``).
        """
        loop = asyncio.get_running_loop()
        if self._async_loop is loop and self._async_client is not None:
            return self._async_client
        if not self._owns_async:
            return self._async_client
        if self._url is None:
            raise ConfigurationError("this RedisBackend needs async_client= for asyncio use")
        if self.cluster:
            options = _cluster(self._options)
            self._async_client = aioredis.RedisCluster.from_url(self._url, **options)
            # Concurrent first commands race inside redis-py's lazy cluster discovery
            # (lost connections, AttributeError): discover once, before any command.
            self._async_ready = loop.create_task(self._async_client.initialize())
            # Its pools cannot make a caller wait for a free connection (they raise
            # MaxConnectionsError): a semaphore gives asyncio callers the blocking pool's
            # behaviour, as for a single server.
            self._async_gate = Gate(options["max_connections"])
        else:
            # A plain pool plus our semaphore, not redis-py's BlockingConnectionPool:
            # same waiting behaviour, about 20 µs less per call (its Condition dance).
            options = _without_pool_timeout(self._options)
            pool = aioredis.ConnectionPool.from_url(self._url, **options)
            self._async_client = aioredis.Redis(connection_pool=pool)
            self._async_gate = Gate(options["max_connections"])
        self._async_loop = loop
        return self._async_client

    # -- the one place driver errors are translated -------------------------------

    def _guarded(self, operation: str, call: Callable[..., T], *args: Any) -> T:
        # ``call(*args)``, not a closure: a hit pays no lambda. A healthy breaker (the
        # common case) needs neither ``allow`` nor ``success``.
        breaker = self.breaker
        if not breaker.healthy and not breaker.allow():
            raise BackendUnavailable("RedisBackend", operation, "circuit breaker open")
        try:
            result = call(*args)
        except _DRIVER_ERRORS as exc:
            breaker.failure()
            raise BackendError("RedisBackend", operation, type(exc).__name__) from exc
        except BaseException:
            breaker.abandon()  # no verdict: never leave a half-open probe taken
            raise
        if not breaker.healthy:
            breaker.success()
        return result

    async def _aguarded(
        self, operation: str, call: Callable[..., Awaitable[T]], *args: Any
    ) -> T:
        # The gate is taken here rather than in a coroutine of its own: every frame
        # between a request and redis-py is resumed again at each wait for the socket.
        breaker = self.breaker
        if not breaker.healthy and not breaker.allow():
            raise BackendUnavailable("RedisBackend", operation, "circuit breaker open")
        gate = self._async_gate
        try:
            if gate is None:
                result = await call(*args)
            else:
                if gate.free:
                    gate.free -= 1
                else:
                    await gate.wait(self._options["timeout"])
                try:
                    if self._async_ready is not None:
                        await self._cluster_ready()
                    result = await call(*args)
                finally:
                    gate.leave()
        except _DRIVER_ERRORS as exc:
            breaker.failure()
            raise BackendError("RedisBackend", operation, type(exc).__name__) from exc
        except BaseException:
            breaker.abandon()  # cancelled mid-call: free the half-open probe
            raise
        if not breaker.healthy:
            breaker.success()
        return result

    async def _cluster_ready(self) -> None:
        task = self._async_ready
        assert task is not None
        try:
            await asyncio.shield(task)
        except _DRIVER_ERRORS:
            # Discovery failed (cluster down): the next call tries again.
            self._async_ready = asyncio.get_running_loop().create_task(
                self._async_client.initialize()
            )
            raise
        if self._async_ready is task:
            self._async_ready = None

    # -- the contract -------------------------------------------------------------

    def get(self, key: str) -> Any:
        """
        ``GET key``: the stored bytes, or `MISS` (also for a lease placeholder).
        """
        client = self._client if self._client is not None else self.client  # hot: no property
        value = self._guarded("get", client.get, key)
        return MISS if value is None or value.startswith(LEASE_MARK) else value

    async def aget(self, key: str) -> Any:
        """
        Async twin of `get`.
        """
        client = self.async_client()
        value = await self._aguarded("get", client.get, key)
        return MISS if value is None or value.startswith(LEASE_MARK) else value

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """
        ``MGET`` (per slot on a cluster): one value or `MISS` per key.
        """
        if not keys:
            return []
        values = self._guarded("get_many", lambda: _mget(self.client, keys))
        return [_found(value) for value in values]

    async def aget_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Async twin of `get_many`.
        """
        if not keys:
            return []
        client = self.async_client()
        values = await self._aguarded("get_many", lambda: _amget(client, keys))
        return [_found(value) for value in values]

    def set(self, key: str, value: Any, ttl: float) -> None:
        """
        ``SET key value PX ttl`` (skipped, raising `BackendUnavailable`, right after a failure).
        """
        self._skip_if_suspect("set")
        notes = self._notes([key])
        if notes:
            queue = _setter(key, value, ttl)
            self._guarded("set", lambda: _noted(self.client, queue, notes))
        else:
            self._guarded("set", lambda: self.client.set(key, value, px=_ms(ttl)))

    async def aset(self, key: str, value: Any, ttl: float) -> None:
        """
        Async twin of `set`.
        """
        self._skip_if_suspect("set")
        client = self.async_client()
        notes = self._notes([key])
        if notes:
            queue = _setter(key, value, ttl)
            await self._aguarded("set", lambda: _anoted(client, queue, notes))
        else:
            await self._aguarded("set", lambda: client.set(key, value, px=_ms(ttl)))

    def _notes(
        self, keys: Sequence[str] = (), prefix: str | None = None, reply: str | None = None
    ) -> list[Any]:
        # The messages a tiered backend's bus applies: drop these keys (or this prefix).
        if not self.announce:
            return []
        sender = self._sender
        if prefix is not None:
            channel = channel_of(self.channel_prefix, prefix)
            return [(channel, encode_message(sender, prefix=prefix, reply=reply))]
        groups = by_channel(self.channel_prefix, keys)
        return [
            (channel, encode_message(sender, group, reply=reply))
            for channel, group in groups.items()
        ]

    def _invalidation(
        self, keys: Sequence[str] = (), prefix: str | None = None
    ) -> tuple[list[Any], str | None]:
        # An invalidation's notes carry a reply list, on which every receiver confirms.
        if not self.announce:
            return [], None
        reply = reply_key(self.channel_prefix)
        return self._notes(keys, prefix, reply), reply

    # -- confirmed invalidations ----------------------------------------------------

    def _confirmed(
        self, operation: str, notes: Notes, reply: str | None, send: Callable[[], tuple[T, int]]
    ) -> T:
        # ``send`` runs a command and publishes ``notes``; then wait for every receiver's
        # confirmation. A cluster's PUBLISH counts one node's subscribers: count them first.
        client = self.client
        expected = None
        if reply is not None and notes and self.cluster:
            expected = self._guarded(operation, subscribers, client, _channels(notes))
        result, received = self._guarded(operation, send)
        if reply is not None:
            expected = received if expected is None else expected
            if expected:
                timeout, read_timeout = self.confirm_timeout, self._read_timeout()
                got = self._guarded(
                    "confirm", collect, client, reply, expected, timeout, read_timeout
                )
                self._check_confirmed(got, expected)
        return result

    async def _aconfirmed(
        self,
        operation: str,
        notes: Notes,
        reply: str | None,
        send: Callable[[], Awaitable[tuple[T, int]]],
    ) -> T:
        client = self.async_client()
        expected = None
        if reply is not None and notes and self.cluster:
            expected = await self._aguarded(operation, asubscribers, client, _channels(notes))
        result, received = await self._aguarded(operation, send)
        if reply is not None:
            expected = received if expected is None else expected
            if expected:
                timeout, read_timeout = self.confirm_timeout, self._read_timeout()
                got = await self._aguarded(
                    "confirm", acollect, client, reply, expected, timeout, read_timeout
                )
                self._check_confirmed(got, expected)
        return result

    def _read_timeout(self) -> float:
        return self.socket_timeout if self.socket_timeout else float("inf")

    def _check_confirmed(self, got: int, expected: int) -> None:
        if got < expected:
            raise BackendError(
                "RedisBackend",
                "confirm",
                f"{got} of {expected} subscribers confirmed the invalidation within "
                f"{self.confirm_timeout} s; Redis no longer holds the keys, but the L1 of "
                "a TieredBackend that did not confirm may hold them until its l1_ttl",
            )

    def _skip_if_suspect(self, operation: str) -> None:
        # A cache write is optional. While the breaker counts failures towards open, a
        # write right after a failure (typically: this very call's read timed out) is
        # skipped, so a call pays one timeout at most, never read timeout + write timeout.
        if self.breaker.suspect(self.socket_timeout):
            raise BackendUnavailable("RedisBackend", operation, "skipped after a recent failure")

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """
        ``SET key value NX PX ttl``: True if stored.
        """
        return bool(self._guarded("add", lambda: self.client.set(key, value, nx=True, px=_ms(ttl))))

    async def aadd(self, key: str, value: Any, ttl: float) -> bool:
        """
        Async twin of `add`.
        """
        client = self.async_client()
        stored = await self._aguarded("add", lambda: client.set(key, value, nx=True, px=_ms(ttl)))
        return bool(stored)

    def delete(self, key: str) -> bool:
        """
        ``DEL key``: True if it existed.
        """
        return self.delete_many([key]) > 0

    async def adelete(self, key: str) -> bool:
        """
        Async twin of `delete`.
        """
        return await self.adelete_many([key]) > 0

    def delete_many(self, keys: Sequence[str]) -> int:
        """
        Delete every key (one ``DEL`` per key, so it works across cluster slots).
        """
        if not keys:
            return 0
        notes, reply = self._invalidation(keys)
        send = lambda: _delete_each(self.client, keys, notes)  # noqa: E731
        return self._confirmed("delete_many", notes, reply, send)

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """
        Async twin of `delete_many`.
        """
        if not keys:
            return 0
        client = self.async_client()
        notes, reply = self._invalidation(keys)
        send = lambda: _adelete_each(client, keys, notes)  # noqa: E731
        return await self._aconfirmed("delete_many", notes, reply, send)

    def clear_prefix(self, prefix: str) -> int:
        """
        ``SCAN MATCH prefix*`` then delete what matched; other keys are untouched.

        Returns:
            How many entries were removed (tag indexes and lease placeholders go
            too, uncounted, as on every backend).
        """
        pattern = _glob_escape(prefix) + "*"
        notes, reply = self._invalidation(prefix=prefix)

        def run() -> tuple[int, int]:
            # Raw bytes: a key someone else wrote need not be UTF-8, and must go too.
            keys = list(self.client.scan_iter(match=pattern, count=1000))
            return _clear_each(self.client, keys, notes)

        return self._confirmed("clear_prefix", notes, reply, run)

    async def aclear_prefix(self, prefix: str) -> int:
        """
        Async twin of `clear_prefix`.
        """
        client = self.async_client()
        pattern = _glob_escape(prefix) + "*"
        notes, reply = self._invalidation(prefix=prefix)

        async def run() -> tuple[int, int]:
            keys = [k async for k in client.scan_iter(match=pattern, count=1000)]
            return await _aclear_each(client, keys, notes)

        return await self._aconfirmed("clear_prefix", notes, reply, run)

    def tag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Add ``keys`` to the set stored at ``tag``, kept alive for at least ``ttl``.
        """
        self._guarded(
            "tag_keys", lambda: self.client.eval(_TAG_SCRIPT, 1, tag, _ms(ttl), *keys)
        )

    async def atag_keys(self, tag: str, keys: Sequence[str], ttl: float) -> None:
        """
        Async twin of `tag_keys`.
        """
        client = self.async_client()
        await self._aguarded("tag_keys", lambda: client.eval(_TAG_SCRIPT, 1, tag, _ms(ttl), *keys))

    def pop_tag(self, tag: str) -> list[str]:
        """
        Read and delete the set stored at ``tag`` atomically (a one-key script).
        """

        members = self._guarded("pop_tag", lambda: self.client.eval(_POP_TAG_SCRIPT, 1, tag))
        return _our_keys(members)

    async def apop_tag(self, tag: str) -> list[str]:
        """
        Async twin of `pop_tag`.
        """
        client = self.async_client()
        members = await self._aguarded("pop_tag", lambda: client.eval(_POP_TAG_SCRIPT, 1, tag))
        return _our_keys(members)

    # -- leases -------------------------------------------------------------------

    def lease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Lease ``key`` (one script): ``(token, stored bytes or MISS)``.
        """
        self._skip_if_suspect("lease")
        placeholder = _placeholder()
        reply = self._guarded(
            "lease", lambda: self.client.eval(_LEASE_SCRIPT, 1, key, placeholder, _ms(ttl))
        )
        return reply[0], _found(reply[1])

    async def alease(self, key: str, ttl: float) -> tuple[Any, Any]:
        """
        Async twin of `lease`.
        """
        self._skip_if_suspect("lease")
        client, placeholder = self.async_client(), _placeholder()
        reply = await self._aguarded(
            "lease", lambda: client.eval(_LEASE_SCRIPT, 1, key, placeholder, _ms(ttl))
        )
        return reply[0], _found(reply[1])

    def store_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Compare-and-set: ``SET key value PX ttl`` only if ``key`` is as leased.
        """
        self._skip_if_suspect("store_leased")
        notes = self._notes([key])
        if notes:  # tiered instances on this Redis drop their L1 copy, as for `set`
            client = self.client
            return bool(
                self._guarded(
                    "store_leased", lambda: _store_noted(client, key, token, value, ttl, notes)
                )
            )
        script = _STORE_LEASED_SCRIPT
        return bool(
            self._guarded(
                "store_leased", lambda: self.client.eval(script, 1, key, token, value, _ms(ttl))
            )
        )

    async def astore_leased(self, key: str, token: Any, value: Any, ttl: float) -> bool:
        """
        Async twin of `store_leased`.
        """
        self._skip_if_suspect("store_leased")
        client, script = self.async_client(), _STORE_LEASED_SCRIPT
        notes = self._notes([key])
        if notes:
            return bool(
                await self._aguarded(
                    "store_leased", lambda: _astore_noted(client, key, token, value, ttl, notes)
                )
            )
        return bool(
            await self._aguarded(
                "store_leased", lambda: client.eval(script, 1, key, token, value, _ms(ttl))
            )
        )

    def release_lease(self, key: str, token: Any) -> bool:
        """
        Drop a lease's placeholder if still there; True if the lease was still valid.
        """
        self._skip_if_suspect("release_lease")
        script = _RELEASE_LEASE_SCRIPT
        return bool(
            self._guarded(
                "release_lease", lambda: self.client.eval(script, 1, key, token, LEASE_MARK)
            )
        )

    async def arelease_lease(self, key: str, token: Any) -> bool:
        """
        Async twin of `release_lease`.
        """
        self._skip_if_suspect("release_lease")
        client, script = self.async_client(), _RELEASE_LEASE_SCRIPT
        return bool(
            await self._aguarded(
                "release_lease", lambda: client.eval(script, 1, key, token, LEASE_MARK)
            )
        )

    # -- for the tiered backend and the lock ----------------------------------------

    def get_with_ttl(self, key: str) -> tuple[Any, float]:
        """
        ``GET`` + ``PTTL`` in one round trip: the bytes (or `MISS`) and seconds left.
        """
        return _with_ttl(self._guarded("get_with_ttl", lambda: _get_pttl(self.client, key)))

    async def aget_with_ttl(self, key: str) -> tuple[Any, float]:
        """
        Async twin of `get_with_ttl`.
        """
        client = self.async_client()
        return _with_ttl(await self._aguarded("get_with_ttl", lambda: _aget_pttl(client, key)))

    def publish(self, channel: str, message: bytes, *, reply: str | None = None) -> int:
        """
        ``PUBLISH channel message``: how many subscribers received it.

        With ``reply`` (the list the message names), wait until every receiver
        confirmed on it, or raise `BackendError` after ``confirm_timeout``.
        """

        def send() -> tuple[int, int]:
            received = int(self.client.publish(channel, message))
            return received, received

        return self._confirmed("publish", [(channel, message)], reply, send)

    async def apublish(self, channel: str, message: bytes, *, reply: str | None = None) -> int:
        """
        Async twin of `publish`.
        """
        client = self.async_client()

        async def send() -> tuple[int, int]:
            received = int(await client.publish(channel, message))
            return received, received

        return await self._aconfirmed("publish", [(channel, message)], reply, send)

    def delete_if_equals(self, key: str, token: bytes) -> bool:
        """
        Delete ``key`` only if it still holds ``token`` (compare-and-delete script).
        """
        return bool(
            self._guarded("release", lambda: self.client.eval(_RELEASE_SCRIPT, 1, key, token))
        )

    async def adelete_if_equals(self, key: str, token: bytes) -> bool:
        """
        Async twin of `delete_if_equals`.
        """
        client = self.async_client()
        return bool(
            await self._aguarded("release", lambda: client.eval(_RELEASE_SCRIPT, 1, key, token))
        )

    def close(self) -> None:
        """
        Close the sync client's connections.
        """
        if self._client is not None and self._url is not None:
            self._client.close()
            if not self.cluster:
                self._client.connection_pool.disconnect()
            self._client = None

    async def aclose(self) -> None:
        """
        Close the asyncio client's connections.
        """
        if self._async_client is not None and self._owns_async:
            if self._async_ready is not None:
                self._async_ready.cancel()
                self._async_ready = None
            self._async_gate = None
            if self.cluster:
                await self._async_client.aclose()
            else:
                await self._async_client.aclose(close_connection_pool=True)
            self._async_client = None
            self._async_loop = None


def _channels(notes: Notes) -> list[str]:
    return [channel for channel, _ in notes]


def _setter(key: str, value: Any, ttl: float) -> Callable[[Any], object]:
    return lambda pipe: pipe.set(key, value, px=_ms(ttl))


def _store_noted(client: Any, key: str, token: Any, value: Any, ttl: float, notes: Any) -> Any:
    # The leased store, then its invalidation messages (one round trip on one server; a
    # cluster pipeline has no EVAL, so there the messages follow a successful store).
    script = _STORE_LEASED_SCRIPT
    if not _is_cluster(client):
        build = lambda pipe: pipe.eval(script, 1, key, token, value, _ms(ttl))  # noqa: E731
        return _noted(client, build, notes)[0][0]
    stored = client.eval(script, 1, key, token, value, _ms(ttl))
    if stored:
        for channel, message in notes:
            client.publish(channel, message)
    return stored


async def _astore_noted(
    client: Any, key: str, token: Any, value: Any, ttl: float, notes: Any
) -> Any:
    script = _STORE_LEASED_SCRIPT
    if not _is_cluster(client):
        build = lambda pipe: pipe.eval(script, 1, key, token, value, _ms(ttl))  # noqa: E731
        return (await _anoted(client, build, notes))[0][0]
    stored = await client.eval(script, 1, key, token, value, _ms(ttl))
    if stored:
        for channel, message in notes:
            await client.publish(channel, message)
    return stored


def _found(value: bytes | None) -> Any:
    # A lease placeholder is an empty key for every reader.
    return MISS if value is None or value.startswith(LEASE_MARK) else value


def _placeholder() -> bytes:
    return LEASE_MARK + secrets.token_bytes(12)
