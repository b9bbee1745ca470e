"""
`Cache`: the one object user code holds.

A cache puts a backend behind a namespace and a version, encodes values for
byte backends, turns every backend fault and every corrupt entry into a
miss, deduplicates concurrent loads, and counts what happens.

Read path:

```text
full key = namespace:version:key
backend.get ──▶ MISS ─────────────────────────────┐
     │                                            ▼
     ├─ BackendError ──▶ count, miss ──▶ single-flight: loader() ──▶ store (errors counted)
     ├─ bytes ─▶ decode ─ SerializationError ─▶ count, miss
     └─ value ─▶ policy.from_store ─▶ fresh: hit / stale: serve + one refresh
```

Sync methods and their ``a``-prefixed async twins sit side by side; the
decisions they share live in `wa_perfkit.policy` so the twins only differ in
their I/O. The read-through engine (single-flight, stale refresh, locks) is
internal; this module is the storage side.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from wa_perfkit import config
from wa_perfkit._engine.readthrough import Plan, ReadThrough
from wa_perfkit._engine.singleflight import ThreadFlight
from wa_perfkit._engine.steps import BackendCall, Flow, arun, run
from wa_perfkit._log import RateLimitedWarning, logger
from wa_perfkit.backends.base import (
    MISS,
    Backend,
    PrefixClearable,
    SerializerAware,
    TagIndex,
    powers,
)
from wa_perfkit.backends.null import NullBackend
from wa_perfkit.errors import BackendError, ConfigurationError, SerializationError
from wa_perfkit.keys import MAX_PLAIN_LENGTH, digest
from wa_perfkit.metrics import Stats, StatsSnapshot, total
from wa_perfkit.policy import MAX_SECONDS, Duration, Policy, ttl_seconds
from wa_perfkit.serialization import JsonSerializer, Serializer

__all__ = ["Cache"]

T = TypeVar("T")

_TAG_SEGMENT = "__tag__:"

#: The lease token of a backend without leases: its stores are unconditional.
UNLEASED: Any = object()

#: Seconds a lease placeholder lives: a load that takes longer is returned but not stored.
LEASE_TTL = 300.0


class Cache:
    """
    A namespaced, versioned cache over one backend.

    Args:
        backend: where entries live (`MemoryBackend`, `RedisBackend`, ...).
        namespace: the first key segment; caches with different namespaces
            never see each other's entries, even in one Redis database.
        version: the second key segment; bump it to abandon every old entry
            (after a change in what is cached) without deleting anything.
        serializer: encodes values for byte backends; `JsonSerializer` by default.
        name: the name in stats, logs and metrics; defaults to ``namespace``.
        clock: wall clock in seconds since the epoch (injectable for tests).
        enabled: False turns caching off: nothing is stored, every read is a
            miss, so every call runs its loader (the backend is never used).
            None (the default) reads ``WA_PERFKIT_CACHE_DISABLED`` once, here:
            ``1``, ``true``, ``yes`` or ``on`` disable the cache.

    Raises:
        ConfigurationError: ``backend`` is not a backend (a URL string: use
            `Cache.from_url`), or the namespace or version contains ``:`` or is empty.

    A cache can also be built from a URL (`from_url`) or from environment
    variables (`from_env`).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        namespace: str = "wa_perfkit",
        version: str | int = 1,
        serializer: Serializer | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
        enabled: bool | None = None,
    ) -> None:
        _check_backend(backend)
        version = str(version)
        for label, value in (("namespace", namespace), ("version", version)):
            if not isinstance(value, str) or not value or ":" in value or not _encodable(value):
                raise ConfigurationError(
                    f"{label} must be non-empty text without ':' (and UTF-8): {value!r}"
                )
        self.enabled = config.enabled_from_env() if enabled is None else bool(enabled)
        if not self.enabled:
            backend = NullBackend()
        self.backend = backend
        self.namespace = namespace
        self.version = version
        self.name = name or namespace
        self.prefix = f"{namespace}:{version}:"
        self.serializer: Serializer = serializer or JsonSerializer()
        # What a store passes to the backend (decided once). Byte backends get the
        # encoded bytes. Object backends get the value itself, but only what the
        # serializer can carry: a value Redis would refuse is refused in memory
        # too, so switching backends never silently changes what is cached.
        # Tiered encodes for its L2 itself (and refuses the same values).
        self._encode: Callable[[Any], Any] = (
            self._encoded if not backend.stores_objects else self._checked
        )
        if isinstance(backend, SerializerAware):  # tiered: decoded L1, L2 encoded by the backend
            backend.bind(namespace, self.serializer, self._report_corrupt)
            self._encode = _unchanged
        self._clock = clock
        self._stats = Stats(self.name)
        self._children: list[Stats] = []
        self._children_lock = threading.Lock()
        self._warn = RateLimitedWarning()
        self._refusals_warned: set[str] = set()  # names warned about an unstorable value
        # full key -> the read in flight: its loop, and the futures of the callers sharing it
        self._reads: dict[str, tuple[asyncio.AbstractEventLoop, list[asyncio.Future[Any]]]] = {}
        self._read_flight = ThreadFlight()  # the same, for threads
        #: What the backend can do beyond the contract, read once (never on the hit path).
        self._powers = powers(backend)
        # Decided once: an object backend is read directly, a byte backend through decode.
        # In-process backends: reads never block and are never shared.
        self._local = self._powers.local
        # A remote entry over this size is a miss, never decoded (a planted 12 MB entry
        # would cost every reader hundreds of MB), and a value over it is not stored.
        self._max_bytes = self._powers.max_value_bytes
        # A local byte store (MemoryBackend(copy=True)) promises each hit its own
        # copy: its reads are never shared, and they cost no round trip anyway.
        self._read: Callable[[str], Any] = (
            backend.get
            if backend.stores_objects
            else self._read_bytes_once if self._local else self._read_bytes
        )
        if self._powers.peek is not None:  # tiered: L1 without I/O, then the guarded L2
            self._read = self._peek_then_read(self._powers.peek)
        self._leases = self._powers.leases
        # How a miss is served: the cache is the engine's storage side.
        self._engine = ReadThrough(self)

    def __repr__(self) -> str:
        return f"Cache({self.backend!r}, namespace={self.namespace!r}, version={self.version!r})"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "wa_perfkit",
        version: str | int = 1,
        serializer: Serializer | None = None,
        name: str | None = None,
        enabled: bool | None = None,
        **options: Any,
    ) -> Cache:
        """
        Build a cache from a URL.

        ```python
        from wa_perfkit import Cache

        cache = Cache.from_url("memory://?maxsize=1000", namespace="inbox")
        ```

        | URL | Backend |
        |---|---|
        | ``memory://`` (``?maxsize=N``, ``?copy=1``, ``?eviction=lru``) | `MemoryBackend` |
        | ``redis://host:6379/0``, ``rediss://...`` (TLS), ``unix:///path`` | `RedisBackend` |
        | ``redis+cluster://host:7000``, ``rediss+cluster://...`` | `RedisBackend` on a cluster |
        | ``null://`` | nothing stored: every call runs its loader |

        Args:
            url: where the entries live; redis-py reads the query string of a
                Redis URL (e.g. ``?socket_timeout=0.5``).
            namespace: see `Cache`.
            version: see `Cache`.
            serializer: see `Cache`.
            name: see `Cache`.
            enabled: see `Cache`.
            **options: keyword arguments of the backend (`MemoryBackend` or
                `RedisBackend`), e.g. ``socket_timeout=0.5``.

        Returns:
            The cache.

        Raises:
            ConfigurationError: an unknown scheme or a bad option.
            MissingExtra: a Redis URL without ``wa-perfkit[redis]`` installed.
        """
        return cls(
            config.backend_from_url(url, **options), namespace=namespace, version=version,
            serializer=serializer, name=name, enabled=enabled,
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        serializer: Serializer | None = None,
        **options: Any,
    ) -> Cache:
        """
        Build a cache from ``WA_PERFKIT_*`` environment variables.

        - ``WA_PERFKIT_CACHE_URL``: a `from_url` URL; when it is unset,
          ``WA_PERFKIT_REDIS_URL``; when both are, ``memory://``.
        - ``WA_PERFKIT_NAMESPACE``: the namespace (``wa_perfkit``).
        - ``WA_PERFKIT_CACHE_VERSION``: the version (``1``).
        - ``WA_PERFKIT_CACHE_DISABLED``: ``1`` turns caching off.

        Args:
            environ: where to read the variables; ``os.environ`` by default.
            serializer: see `Cache`.
            **options: keyword arguments of the backend, as in `from_url`.

        Returns:
            The cache.

        Raises:
            ConfigurationError: a variable holds a bad value.
            MissingExtra: a Redis URL without ``wa-perfkit[redis]`` installed.
        """
        settings = config.CacheSettings.from_env(environ)
        return cls.from_url(
            settings.url, namespace=settings.namespace, version=settings.version,
            serializer=serializer, enabled=settings.enabled, **options,
        )

    # -- keys -----------------------------------------------------------------

    def full_key(self, key: str) -> str:
        """
        Return the backend key of ``key``: ``namespace:version:key``; a long key, a key
        with a lone surrogate or one starting with ``#`` is digested (``#`` + 32 hex).
        """
        if len(key) > MAX_PLAIN_LENGTH * 2 or not _plain(key):
            key = "#" + digest(key)
        return self.prefix + key

    def _tag_key(self, tag: str) -> str:
        """
        Return the backend key under which ``tag``'s members are indexed (long tags digested).
        """
        if len(tag) > MAX_PLAIN_LENGTH or not _plain(tag):
            tag = "#" + digest(tag)
        return self.prefix + _TAG_SEGMENT + tag

    # -- reads ----------------------------------------------------------------

    def get(self, key: str, default: Any = MISS) -> Any:
        """
        Return the value under ``key``, or ``default`` (`MISS` unless given).

        Backend faults and corrupt entries count as misses and never raise.
        """
        value = self._read(self.full_key(key))
        return default if value is MISS else value

    async def aget(self, key: str, default: Any = MISS) -> Any:
        """
        Async twin of `get`.
        """
        value = await self._aread(self.full_key(key))
        return default if value is MISS else value

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Return one value or `MISS` per key, in order (one round trip on Redis).
        """
        return run(self._get_many(keys), self)

    async def aget_many(self, keys: Sequence[str]) -> list[Any]:
        """
        Async twin of `get_many`.
        """
        return await arun(self._get_many(keys), self)

    def _get_many(self, keys: Sequence[str]) -> Flow[list[Any]]:
        keys = _texts(keys, "keys")
        full_keys = [self.full_key(k) for k in keys]
        try:
            raws = yield BackendCall(self.backend, "get_many", (full_keys,))
        except BackendError as exc:
            self._backend_failed(exc)
            return [MISS] * len(keys)
        return [self._decode(k, raw) for k, raw in zip(keys, raws, strict=True)]

    def _read_bytes(self, full_key: str) -> Any:
        # Threads reading one key at once share one round trip, as asyncio tasks do
        # (`join` rather than `run`, which calls it: one call less on every hit).
        return self._read_flight.join(full_key, self._read_bytes_once, full_key)[0]

    def _read_bytes_once(self, full_key: str) -> Any:
        try:
            data = self.backend.get(full_key)
        except BackendError as exc:
            self._backend_failed(exc)
            return MISS
        return self._decode(full_key, data)

    def _peek_then_read(self, peek: Callable[[str], Any]) -> Callable[[str], Any]:
        get, shared = self.backend.get, self._read_flight.run

        def read_once(full_key: str) -> Any:
            try:
                return get(full_key)
            except BackendError as exc:
                self._backend_failed(exc)
                return MISS

        def read(full_key: str) -> Any:
            value = peek(full_key)
            if value is not MISS:
                return value
            return shared(full_key, read_once, full_key)

        return read

    async def _aread(self, full_key: str) -> Any:
        """
        Read a full backend key: the value, or `MISS` on a miss, fault or corrupt entry.

        Concurrent reads of one key on a remote backend share one round trip
        (and one decoded value): 500 requests arriving together for a cold or
        hot key send one ``GET``, not 500.
        """
        if self._local:
            return await self._aread_once(full_key)
        pending = self._reads.get(full_key)
        loop = asyncio.get_running_loop()
        if pending is not None and pending[0] is loop:
            # A future of its own: a cancelled caller cancels only its wait.
            waiter = loop.create_future()
            pending[1].append(waiter)
            return await waiter
        waiters: list[asyncio.Future[Any]] = []
        shared = self._reads[full_key] = (loop, waiters)
        value: Any = MISS  # if this read is cancelled, the others see a miss and load
        try:
            value = await self._aread_once(full_key)
            return value
        finally:
            if self._reads.get(full_key) is shared:
                del self._reads[full_key]
            if waiters:
                # One callback settles them all. Queued before the load this caller
                # starts on a miss, it queues their wake-ups after that load's first
                # step: the lease is sent before the others wake to join the load.
                loop.call_soon(_settle, waiters, value)

    async def _aread_once(self, full_key: str) -> Any:
        try:
            data = await self.backend.aget(full_key)
        except BackendError as exc:
            self._backend_failed(exc)
            return MISS
        return data if self.backend.stores_objects else self._decode(full_key, data)

    def _decode(self, key: str, data: Any) -> Any:
        if data is MISS or self.backend.stores_objects:
            return data
        try:
            if self._max_bytes is not None and len(data) > self._max_bytes:
                raise SerializationError("too-large", f"{len(data)} bytes > max_value_bytes")
            return self.serializer.loads(data)
        except SerializationError as exc:
            self._report_corrupt(key, exc.reason)
            return MISS

    def _decode_quietly(self, data: Any) -> Any:
        # A second look at an entry the read already judged (and counted if corrupt).
        if data is MISS or self.backend.stores_objects:
            return data
        if self._max_bytes is not None and len(data) > self._max_bytes:
            return MISS
        try:
            return self.serializer.loads(data)
        except SerializationError:
            return MISS

    def _report_corrupt(self, key: str, reason: str) -> None:
        """
        Count and log (rate-limited, key digest only) an entry that could not be used.
        """
        self._stats.count_decode_error()
        self._warn.warn(
            "decode", "wa_perfkit: cache %s ignored an undecodable entry %s (%s)",
            self.name, digest(key)[:12], reason,
        )

    # -- writes ---------------------------------------------------------------

    def set(self, key: str, value: Any, ttl: Duration, *, tags: Iterable[str] = ()) -> bool:
        """
        Store ``value`` under ``key`` for ``ttl`` (seconds or a timedelta), indexed under ``tags``.

        Returns:
            True if stored; False if the value could not be encoded (counted in
            ``encode_errors``) or the backend failed (counted in ``backend_errors``);
            both are logged, never raised.

        Raises:
            ConfigurationError: ``ttl`` is not a positive, finite duration of at
                most `wa_perfkit.policy.MAX_SECONDS` (the same on every backend).
        """
        flow = self._write(self.full_key(key), value, _seconds(ttl), _texts(tags, "tags"))
        return run(flow, self)

    async def aset(self, key: str, value: Any, ttl: Duration, *, tags: Iterable[str] = ()) -> bool:
        """
        Async twin of `set`.
        """
        flow = self._write(self.full_key(key), value, _seconds(ttl), _texts(tags, "tags"))
        return await arun(flow, self)

    def add(self, key: str, value: Any, ttl: Duration) -> bool:
        """
        Store ``value`` only if ``key`` holds nothing; True if this call stored it.

        Atomic across threads, tasks and (on Redis) processes, which makes it a
        building block for deduplication and locks.

        Raises:
            BackendError: the backend failed; unlike a read, a set-if-absent
                cannot degrade silently, so the caller decides.
            SerializationError: ``value`` cannot be encoded.
            ConfigurationError: ``ttl`` is not a positive, finite duration of at
                most `wa_perfkit.policy.MAX_SECONDS`.
        """
        return self.backend.add(self.full_key(key), self._encode(value), _seconds(ttl))

    async def aadd(self, key: str, value: Any, ttl: Duration) -> bool:
        """
        Async twin of `add`.
        """
        return await self.backend.aadd(self.full_key(key), self._encode(value), _seconds(ttl))

    def delete(self, key: str) -> bool:
        """
        Remove ``key``; True if it existed. A backend fault is logged and returns False.
        """
        return run(self._discard(self.full_key(key)), self)

    async def adelete(self, key: str) -> bool:
        """
        Async twin of `delete`.
        """
        return await arun(self._discard(self.full_key(key)), self)

    def _discard(self, full_key: str, *, strict: bool = False) -> Flow[bool]:
        # Remove a full backend key (as built by a decorated function); True if it existed.
        # A load of the key already running stores nothing, and later callers do not
        # share it. With ``strict``, a backend failure raises (else it is logged: False).
        try:
            return bool((yield BackendCall(self.backend, "delete", (full_key,))))
        except BackendError as exc:
            self._backend_failed(exc)
            if strict:
                raise
            return False
        finally:
            self._detach((full_key,))

    def _detach(self, full_keys: Iterable[str]) -> None:
        # Reads and loads of these keys already running finish for their callers;
        # callers arriving from now on start new ones (never share an older read).
        full_keys = tuple(full_keys)
        for full_key in full_keys:
            self._reads.pop(full_key, None)
        self._read_flight.forget(full_keys)
        self._engine.forget(full_keys)

    def _detach_all(self) -> None:
        self._reads.clear()
        self._read_flight.forget_all()
        self._engine.forget_all()

    def delete_many(self, keys: Sequence[str]) -> int:
        """
        Remove every key; return how many existed (0 on a backend fault).
        """
        return run(self._delete_many(keys), self)

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """
        Async twin of `delete_many`.
        """
        return await arun(self._delete_many(keys), self)

    def _delete_many(self, keys: Sequence[str]) -> Flow[int]:
        full_keys = [self.full_key(k) for k in _texts(keys, "keys")]
        try:
            return int((yield BackendCall(self.backend, "delete_many", (full_keys,))))
        except BackendError as exc:
            self._backend_failed(exc)
            return 0

    def invalidate_tags(self, *tags: str) -> int:
        """
        Remove every entry stored with any of ``tags``; return how many were removed.

        Loads of those entries already running store nothing, and later
        callers do not share them.

        Raises:
            BackendError: the backend failed; the entries may still be there.
        """
        return run(self._invalidate_tags(tags), self)

    async def ainvalidate_tags(self, *tags: str) -> int:
        """
        Async twin of `invalidate_tags`.
        """
        return await arun(self._invalidate_tags(tags), self)

    def _invalidate_tags(self, tags: tuple[str, ...]) -> Flow[int]:
        if len(tags) == 1 and not isinstance(tags[0], str):
            raise ConfigurationError("pass tags as separate arguments: invalidate_tags(*tags)")
        tags = _texts(tags, "tags")
        index = self._tag_backend()
        removed = 0
        for tag in tags:
            members = yield from self._strict(BackendCall(index, "pop_tag", (self._tag_key(tag),)))
            if members:
                try:
                    deleted = yield from self._strict(
                        BackendCall(self.backend, "delete_many", (members,))
                    )
                    removed += int(deleted)
                finally:
                    self._detach(members)
        return removed

    def clear(self) -> int:
        """
        Remove every entry of this cache's namespace and version, and nothing else.

        Loads already running store nothing, and later callers do not share them.

        Returns:
            How many entries were removed (the same count on every backend: tag
            indexes and lease markers are removed too, uncounted).

        Raises:
            ConfigurationError: the backend cannot clear by prefix.
            BackendError: the backend failed; entries may still be there.
        """
        return run(self._clear(), self)

    async def aclear(self) -> int:
        """
        Async twin of `clear`.
        """
        return await arun(self._clear(), self)

    def _clear(self) -> Flow[int]:
        backend = self._clearable()
        try:
            cleared = yield from self._strict(BackendCall(backend, "clear_prefix", (self.prefix,)))
            return int(cleared)
        finally:
            self._detach_all()

    def _write(
        self,
        full_key: str,
        value: Any,
        ttl: float,
        tags: tuple[str, ...] = (),
        stats: Stats | None = None,
    ) -> Flow[bool]:
        # Store under a full backend key; faults are counted and logged, never raised.
        # A value the serializer cannot carry is not stored, on every backend: it is
        # counted in ``stats`` (a decorated function's, else this cache's) and warned
        # about once per name.
        try:
            payload = self._encode(value)
            # An object backend encoding for its shared tier (tiered) may refuse it too.
            yield BackendCall(self.backend, "set", (full_key, payload, ttl))
        except SerializationError as exc:
            self._unstorable(exc, stats)
            return False
        except BackendError as exc:
            self._backend_failed(exc)
            return False
        if tags:
            index = self._tag_backend()
            for tag in tags:
                try:
                    yield BackendCall(index, "tag_keys", (self._tag_key(tag), [full_key], ttl))
                except BackendError as exc:
                    self._backend_failed(exc)
        return True

    def _encoded(self, value: Any) -> bytes:
        data = self.serializer.dumps(value)
        if self._max_bytes is not None and len(data) > self._max_bytes:
            raise SerializationError("too-large", f"{len(data)} bytes > max_value_bytes")
        return data

    def _checked(self, value: Any) -> Any:
        # An object backend keeps the value itself; encoding once (on the store
        # path only, never on a hit) proves a remote backend could keep it too.
        self.serializer.dumps(value)
        return value

    # -- leased writes: the stores of the read-through engine -------------------

    def _lease(self, full_key: str, tags: tuple[str, ...] = (), tag_ttl: float = 0.0) -> Flow[Any]:
        # Lease a full key before loading it: (token, what it holds now or MISS). Tags
        # are recorded first, so a tag invalidation during the load revokes the lease
        # too. The token is UNLEASED on a backend without leases, and None if the
        # backend failed (then nothing is stored).
        leases = self._leases
        if leases is None:
            return UNLEASED, MISS
        try:
            if tags:
                index = self._tag_backend()
                for tag in tags:
                    yield BackendCall(index, "tag_keys", (self._tag_key(tag), [full_key], tag_ttl))
            token, found = yield BackendCall(leases, "lease", (full_key, LEASE_TTL))
        except BackendError as exc:
            self._backend_failed(exc)
            return None, MISS
        return token, self._decode_quietly(found)

    def _write_leased(
        self,
        full_key: str,
        token: Any,
        value: Any,
        ttl: float,
        tags: tuple[str, ...] = (),
        stats: Stats | None = None,
    ) -> Flow[bool]:
        # Store under a lease from `_lease`, as `_write` does; False only if the lease
        # was revoked (an invalidation or another write since it was taken): the value
        # is dropped, it may be older than the invalidation.
        if token is UNLEASED:
            yield from self._write(full_key, value, ttl, tags, stats)
            return True
        leases = self._leases
        if token is None or leases is None:
            return True  # the lease failed: nothing is stored, nothing is known
        try:
            payload = self._encode(value)
            # Tiered encodes for its shared tier itself, and may refuse the value there.
            return bool((yield BackendCall(
                leases, "store_leased", (full_key, token, payload, ttl)
            )))
        except SerializationError as exc:
            self._unstorable(exc, stats)
        except BackendError as exc:
            self._backend_failed(exc)
            return True
        return (yield from self._release_lease(full_key, token))

    def _release_lease(self, full_key: str, token: Any) -> Flow[bool]:
        # Give up a lease without storing; False only if it was revoked meanwhile.
        leases = self._leases
        if token is UNLEASED or token is None or leases is None:
            return True
        try:
            return bool((yield BackendCall(leases, "release_lease", (full_key, token))))
        except BackendError as exc:
            self._backend_failed(exc)
            return True

    # -- get or load ----------------------------------------------------------

    def get_or_load(
        self,
        key: str,
        loader: Callable[[], T],
        ttl: Duration | Policy,
        *,
        tags: Iterable[str] = (),
    ) -> T:
        """
        Return the cached value of ``key``, or run ``loader`` once and cache its result.

        Concurrent misses of one key in this process run ``loader`` once; its
        exception reaches every waiter and nothing is cached.

        Args:
            key: the key, relative to this cache's namespace.
            loader: computes the value on a miss.
            ttl: seconds or a timedelta, or a `Policy` for jitter,
                stale-while-revalidate, cache_none.
            tags: tags to index the entry under.
        """
        plan = Plan(ttl if isinstance(ttl, Policy) else Policy(ttl), self._stats)
        return self._engine.load_through(plan, self.full_key(key), loader, tuple(tags))

    async def aget_or_load(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        ttl: Duration | Policy,
        *,
        tags: Iterable[str] = (),
    ) -> T:
        """
        Async twin of `get_or_load`; ``loader`` is an async callable.
        """
        plan = Plan(ttl if isinstance(ttl, Policy) else Policy(ttl), self._stats)
        return await self._engine.aload_through(plan, self.full_key(key), loader, tuple(tags))

    # -- stats and lifecycle --------------------------------------------------

    def _new_stats(self, name: str) -> Stats:
        """
        Create a `Stats` counted into this cache's totals (one per decorated function).
        """
        stats = Stats(name)
        with self._children_lock:
            self._children.append(stats)
        return stats

    def stats(self) -> StatsSnapshot:
        """
        Return this cache's counters, including every function that uses it.
        """
        state = self._powers.breaker_state
        with self._children_lock:
            children = list(self._children)
        return total([self._stats.snapshot(state), *(c.snapshot() for c in children)])

    def stats_by_name(self) -> dict[str, StatsSnapshot]:
        """
        Return the counters per name: the cache's own under `name`, one per decorated function.

        Functions sharing a name are added together; the values add up to `stats`.
        """
        state = self._powers.breaker_state
        with self._children_lock:
            children = list(self._children)
        result = {self.name: self._stats.snapshot(state)}
        for child in children:
            snap = child.snapshot()
            result[child.name] = result[child.name] + snap if child.name in result else snap
        return result

    def close(self) -> None:
        """
        Close the backend.
        """
        self.backend.close()

    async def aclose(self) -> None:
        """
        Async twin of `close`.
        """
        await self.backend.aclose()

    # -- fault handling -------------------------------------------------------

    def _strict(self, step: BackendCall) -> Flow[Any]:
        # An invalidation that failed must not look like "nothing to invalidate".
        try:
            return (yield step)
        except BackendError as exc:
            self._backend_failed(exc)
            raise

    def _backend_failed(self, exc: BackendError) -> None:
        self._stats.count_backend_error()
        self._warn.warn(
            "backend:" + exc.operation, "wa_perfkit: cache %s degraded, backend %s failed: %s",
            self.name, exc.operation, exc,
        )

    def _unstorable(self, exc: SerializationError, stats: Stats | None) -> None:
        stats = stats or self._stats
        stats.count_encode_error()
        if stats.name in self._refusals_warned:
            return
        self._refusals_warned.add(stats.name)
        logger.warning(
            "wa_perfkit: %s returned a value the cache cannot store, so it is returned"
            " uncached on every call (%s). Return plain data (for a driver row, dict(row))"
            " or teach the serializer the type: Cache(serializer=JsonSerializer("
            "codecs=[dataclass_codec(...) or pydantic_codec(...) or Codec(...)])).",
            stats.name, exc,
        )

    def _tag_backend(self) -> TagIndex:
        if self._powers.tags is None:
            raise ConfigurationError(f"{type(self.backend).__name__} does not support tags")
        return self._powers.tags

    def _clearable(self) -> PrefixClearable:
        if self._powers.clearable is None:
            raise ConfigurationError(f"{type(self.backend).__name__} cannot clear by prefix")
        return self._powers.clearable


def _seconds(ttl: Duration) -> float:
    # The common case (a number in range) costs a type check and a comparison; anything
    # else is converted or refused, the same way on every backend (a TTL Redis cannot
    # express must not become a backend error that opens the breaker).
    if (type(ttl) is float or type(ttl) is int) and 0 < ttl <= MAX_SECONDS:
        return ttl
    return ttl_seconds(ttl)


def _check_backend(backend: object) -> None:
    if isinstance(backend, str):
        raise ConfigurationError(
            f"Cache() takes a backend, not the URL {config.redact(backend)!r}: "
            "use Cache.from_url(url), or Cache(RedisBackend(url))"
        )
    if not all(
        hasattr(backend, attr) for attr in ("stores_objects", "local", "get", "set", "aget")
    ):
        raise ConfigurationError(
            f"Cache() takes a backend (MemoryBackend(), RedisBackend(url), ...), "
            f"not {type(backend).__name__}"
        )


def _settle(waiters: list[asyncio.Future[Any]], value: Any) -> None:
    # The callers that shared one read get its value (a cancelled one is done already).
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(value)


def _unchanged(value: T) -> T:
    return value


def _texts(values: Iterable[str], what: str) -> tuple[str, ...]:
    # A str is iterable too: get_many("ab") must not read the keys "a" and "b".
    if isinstance(values, str):
        raise ConfigurationError(f"{what} must be a sequence of str, not one str: {values!r}")
    texts = tuple(values)
    for text in texts:
        if type(text) is not str:
            raise ConfigurationError(f"{what} must be str, not {type(text).__name__}: {text!r}")
    return texts


def _plain(text: str) -> bool:
    # Whether ``text`` can stand as itself in a backend key. Not: a lone surrogate
    # (json.loads makes them), which has no UTF-8 form, and text starting with "#",
    # the mark of a digested key, so that a key can never spell another's digest.
    if text.isascii():
        return not text.startswith("#")
    return _encodable(text)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
