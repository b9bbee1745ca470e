"""
`CachedUser`: token -> verified claims -> user, through the cache.

A hit is one backend read and one HMAC (the token's fingerprint); the miss is
served by the engine that serves `ttl_repository` and `Cache.get_or_load`:

```text
token ─▶ HMAC(server key) = fp ─▶ GET {ns}:{v}:{prefix}:u:{fp}
   entry policy says: a user, fresh ─▶ user        (no verify, no loader)
   MISS, expired, not genuine ─▶ the engine's single-flight per key
                                 (threads or tasks; counted and timed as a miss)
                                 ─▶ the miss flow below, run once

miss flow: GET again (a load may just have finished)
           ─▶ verify (signature, aud, iss, exp, nbf)
           ─▶ MGET revoked:{fp}, gen:{user}     revoked ─▶ 401
           ─▶ loader(claims)                    raises ─▶ 503, None ─▶ 401
           ─▶ entry policy: entry, ttl = min(ttl, exp - now)
           ─▶ SET u:{fp} entry ttl, tagged user:{id}
           ─▶ MGET revoked:{fp}, gen:{user}     changed ─▶ drop the entry again
```

Why the second read: `revoke` writes its marker *then* deletes the entry, and
`invalidate_user` bumps the generation *then* deletes the tagged entries. A
load that raced with either stored its entry before the delete (and loses
it) or reads the marker/generation after it (and drops its own entry), so a
revoked token or a changed user is never resurrected by a slow loader. Both
also detach the miss flows still running for that token, or for any token of
that user, so a request that arrives after them starts its own flow (and
meets the marker or the new generation) instead of sharing one that began
before.

What an entry looks like is the entry policy's business, chosen once when the
`CachedUser` is built (see `wa_perfkit.auth.entries`): on a local backend the
user object itself and its end; on a shared one the encoded user, its end and
an HMAC under a key derived from the server key, because whoever can write to
the Redis must not decide who is logged in. Either way the entry carries its
own end (the token's ``exp``, or sooner: ``ttl``) and the hit compares it with
the clock, so an entry never serves past ``exp``. A signed entry is checked
(MAC, decode) the first time an instance reads it; later hits of the same
entry cost a string comparison.

Markers are authenticated too: a revocation marker is ``HMAC(key)``, a
generation ``hex.HMAC(key ‖ hex)``; a value that does not check out is a miss
(markers) or counts as a changed generation. The per-user tag and generation
keys are named by an HMAC of the user id, so a reader of the Redis cannot tell
whose keys they are. Nothing is written on any failure. A backend outage makes
every read a miss and every write a no-op: requests degrade to verify + load,
never to "let in".

The miss flow is written once as a generator that yields the I/O it needs
(httpx's ``auth_flow`` pattern), with the engine's steps; the engine's drivers
run it for threads and for asyncio. What `resolve` and `aresolve` still spell
twice is the read of the entry and which driver runs the flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any, Generic, TypeVar, cast

import jwt

from wa_perfkit._engine.lock import LockedFlight
from wa_perfkit._engine.steps import BackendCall, Call, Flow, Read, ReadMany, arun, run
from wa_perfkit._log import RateLimitedWarning
from wa_perfkit.auth.entries import PlainEntries, SignedEntries
from wa_perfkit.auth.fingerprint import Fingerprinter
from wa_perfkit.auth.roles import RolesOf, check_roles, default_roles
from wa_perfkit.auth.verifier import JWTVerifier
from wa_perfkit.backends.base import MISS, TagIndex
from wa_perfkit.cache import Cache
from wa_perfkit.errors import (
    AuthError,
    BackendError,
    ConfigurationError,
    InvalidToken,
    UserLoaderError,
)
from wa_perfkit.metrics import StatsSnapshot
from wa_perfkit.observe import Outcome, note, observing
from wa_perfkit.policy import MAX_SECONDS, Duration, ttl_seconds
from wa_perfkit.secret import Secret

__all__ = ["CachedUser", "Claims", "Loader"]

U = TypeVar("U")
Claims = Mapping[str, Any]
Loader = Callable[[dict[str, Any]], U | None] | Callable[[dict[str, Any]], Awaitable[U | None]]

_DEFAULT_REVOCATION_TTL = 86_400.0


class CachedUser(Generic[U]):
    """
    Resolve bearer tokens to users through a cache, safely.

    Args:
        loader: ``loader(claims) -> user`` (sync or async); None means "no such
            user" (401); raising `AuthError` refuses the user as such; any other
            exception is an outage (`UserLoaderError`, 503).
        verifier: checks the token on a miss.
        cache: where entries, revocation markers and user indexes live.
        ttl: the most seconds (or a timedelta) an entry lives (always capped by the
            token's ``exp``).
        server_key: the HMAC key of fingerprints; required on a shared backend.
        prefix: key segment separating several `CachedUser` on one cache.
        user_id_claim: the claim naming the user for `invalidate_user`.
        roles: ``roles(user) -> iterable of str`` for role checks; by default the
            user's ``roles`` attribute or key.
        revocation_ttl: marker lifetime for a revoked token without a readable ``exp``.
        lock: on a miss, also verify and load once across processes (a Redis
            lock per token, `wa_perfkit.RedisLock`); ignored on a backend without
            shared storage.
        lock_ttl: seconds a lock lives: the longest a crashed loader blocks others.

    Raises:
        ConfigurationError: ``ttl``, ``revocation_ttl`` or ``lock_ttl`` is not a
            positive, finite duration; ``prefix`` is empty, holds ``:`` or is not
            printable; ``user_id_claim`` is empty; ``server_key`` is shorter than
            16 bytes, or missing on a backend shared between processes.
    """

    def __init__(
        self,
        loader: Loader[U],
        *,
        verifier: JWTVerifier,
        cache: Cache,
        ttl: Duration = 120.0,
        server_key: str | bytes | Secret | None = None,
        prefix: str = "auth",
        user_id_claim: str = "sub",
        roles: RolesOf[U] | None = None,
        revocation_ttl: Duration = _DEFAULT_REVOCATION_TTL,
        lock: bool = False,
        lock_ttl: Duration = 10.0,
    ) -> None:
        ttl = ttl_seconds(ttl)
        revocation_ttl = ttl_seconds(revocation_ttl, "revocation_ttl")
        lock_ttl = ttl_seconds(lock_ttl, "lock_ttl")
        if not isinstance(prefix, str) or not prefix or ":" in prefix or not prefix.isprintable():
            raise ConfigurationError(f"prefix must be printable text without ':', not {prefix!r}")
        if not isinstance(user_id_claim, str) or not user_id_claim:
            raise ConfigurationError(f"user_id_claim must be a claim name, not {user_id_claim!r}")
        if server_key is None and not cache._powers.local:
            raise ConfigurationError(
                "a shared cache backend needs server_key= (the same on every instance)"
            )
        self.loader = loader
        self.verifier = verifier
        self.cache = cache
        self.ttl = float(ttl)
        self.prefix = prefix
        self.user_id_claim = user_id_claim
        self.roles_of: RolesOf[U] = roles or default_roles
        self.revocation_ttl = revocation_ttl
        self.fingerprint = Fingerprinter(server_key)
        self._macs = self.fingerprint.derive("wa_perfkit user-cache entry")
        self._ids = self.fingerprint.derive("wa_perfkit user-cache user id")
        self._async_loader = inspect.iscoroutinefunction(loader) or inspect.iscoroutinefunction(
            getattr(loader, "__call__", None)  # noqa: B004 (an async callable object)
        )
        self._clock = cache._clock
        self._entries = cache.full_key(f"{prefix}:u:")
        local = cache._powers.local
        # Decided once. Only this process writes to a local backend: its entries need
        # no MAC (and its users need not be encodable). Anything shared is checked.
        self._policy = (
            PlainEntries(self.ttl)
            if local
            else SignedEntries(self.ttl, self._macs, cache.serializer, cache._report_corrupt)
        )
        self._read = cache._read
        self._aread = cache._aread
        # Reads that never wait, so an async hit awaits nothing: a local backend's, or
        # the L1 of a tiered backend (only its misses await the L2).
        self._read_now: Callable[[str], Any] = (
            cache._read if local else cache._powers.peek or _nothing
        )
        self._remote = not local
        self._engine = cache._engine
        self._stats = cache._new_stats(f"cached_user:{prefix}")
        self._running = _Running()
        store = cache._powers.lock_store if lock else None
        self._lock = LockedFlight(store, lock_ttl) if store is not None else None
        self._warn = RateLimitedWarning()

    def __repr__(self) -> str:
        return f"CachedUser({self.cache!r}, ttl={self.ttl}, prefix={self.prefix!r})"

    # -- resolve ---------------------------------------------------------------------

    def resolve(self, token: str) -> U:
        """
        Return the user of ``token``: from the cache, or verified and loaded once.

        Raises:
            InvalidToken: the token is bad, expired, revoked, or names no user.
            UserLoaderError: the loader failed (or the JWKS was never reachable).
            ConfigurationError: the loader is async (use `aresolve`).
        """
        fp = self._fingerprint(token)
        key = self._entries + fp
        entry = self._read(key)
        user = self._hit(entry, key)
        if user is MISS:
            flow = partial(self._locked, token, fp, key)
            user = self._engine.share(self._stats, key, flow)
        return cast(U, user)

    async def aresolve(self, token: str) -> U:
        """
        Async twin of `resolve`; a sync loader runs in a worker thread.
        """
        fp = self._fingerprint(token)
        key = self._entries + fp
        entry = self._read_now(key)
        if entry is MISS and self._remote:
            entry = await self._aread(key)
        user = self._hit(entry, key)
        if user is MISS:
            flow = partial(self._locked, token, fp, key)
            user = await self._engine.ashare(self._stats, key, flow)
        return cast(U, user)

    def _hit(self, entry: Any, key: str) -> Any:
        # The user of a fresh entry, counted as a hit; MISS (not counted: the engine
        # counts the miss it serves).
        if entry is MISS:
            return MISS
        user = self._policy.from_store(key, entry, self._clock())
        if user is not MISS:
            self._stats.count_hit()
            if observing():
                note(self._stats.name, Outcome.HIT, key)
        return user

    def _fresh(self, entry: Any, key: str) -> Any:
        # What the miss flow accepts (not counted: that request is a miss already).
        return MISS if entry is MISS else self._policy.from_store(key, entry, self._clock())

    def _locked(self, token: str, fp: str, key: str) -> Flow[U]:
        # The miss flow, under the cross-process lock when there is one.
        if self._lock is None:
            return (yield from self._miss(token, fp, key))
        user = yield from self._lock.flow(
            key, lambda: self._check(key), lambda: self._miss(token, fp, key)
        )
        return cast(U, user)

    def _check(self, key: str) -> Flow[Any]:
        # What a lock waiter accepts: a fresh entry stored meanwhile.
        entry = yield Read(key)
        return self._fresh(entry, key)

    def _fingerprint(self, token: str) -> str:
        # Bounded before hashing: a megabyte of junk must not cost a megabyte of HMAC.
        if len(token) > self.verifier.max_token_bytes:
            raise InvalidToken("token too large")
        return self.fingerprint(token)

    def check_roles(self, user: U, required: Iterable[str], *, any_of: bool = False) -> None:
        """
        Raise `Forbidden` unless ``user`` has every role in ``required`` (or one, with ``any_of``).
        """
        check_roles(self.roles_of(user), tuple(required), any_of=any_of)

    # -- the miss flow (sans-I/O) ----------------------------------------------------

    def _miss(self, token: str, fp: str, key: str) -> Flow[U]:
        # Re-read inside the flight: a request that missed just before another's
        # load finished must take its result, not load a second time.
        user = self._fresh((yield Read(key)), key)
        if user is not MISS:
            return cast(U, user)
        claims: dict[str, Any] = yield Call(
            partial(self.verifier.verify, token), partial(self.verifier.averify, token)
        )
        uid = self._user_id(claims)
        # Registered before the generation is read: an `invalidate_user` that bumps it
        # after this read detaches this flow (later requests do not share its user).
        with self._running.of(uid, key):
            return (yield from self._load_and_store(claims, uid, fp, key))

    def _load_and_store(self, claims: dict[str, Any], uid: str, fp: str, key: str) -> Flow[U]:
        markers = [self._revoked_key(fp), self._generation_key(uid)]
        full = [self.cache.full_key(marker) for marker in markers]
        before = yield ReadMany(markers)
        if self._revoked(before[0], full[0]):
            raise InvalidToken("token revoked")
        user = yield Call(partial(self._load, claims), partial(self._aload, claims))
        if user is None:
            raise InvalidToken("no such user")
        exp, now = claims.get("exp"), self._clock()
        # The entry ends with its TTL, not only at the token's exp: a copy saved by a
        # Redis reader and written back later is dead by then.
        entry = self._policy.to_store(key, user, None if exp is None else float(exp) - now, now)
        if entry is None:  # expiring now, or not encodable: served, not stored
            return cast(U, user)
        stored = yield from self.cache._write(key, entry[0], entry[1], (self._user_tag(uid),))
        if stored:
            after = yield ReadMany(markers)
            generation = self._generation(before[1], full[1])
            revoked = self._revoked(after[0], full[0])
            if revoked or generation is None or self._generation(after[1], full[1]) != generation:
                yield from self.cache._discard(key)
            if revoked:
                raise InvalidToken("token revoked")
        return cast(U, user)

    def _load(self, claims: dict[str, Any]) -> Any:
        if self._async_loader:
            raise ConfigurationError("an async loader needs the async path (aresolve)")
        started = time.perf_counter()
        try:
            user = self.loader(claims)
        except Exception as exc:
            raise self._load_failed(exc) from exc
        self._stats.record_load(time.perf_counter() - started)
        return user

    async def _aload(self, claims: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            if self._async_loader:
                user = await cast(Awaitable[Any], self.loader(claims))
            else:
                user = await asyncio.to_thread(self.loader, claims)
        except Exception as exc:
            raise self._load_failed(exc) from exc
        self._stats.record_load(time.perf_counter() - started)
        return user

    def _load_failed(self, exc: Exception) -> Exception:
        self._stats.count_load_error()
        if isinstance(exc, AuthError):
            return exc  # the loader refused the user on purpose (banned, no role...)
        self._warn.warn(
            "loader", "wa_perfkit: user loader of %s failed (%s)", self.prefix, type(exc).__name__
        )
        return UserLoaderError(f"the user loader failed ({type(exc).__name__})")

    # -- keys ------------------------------------------------------------------------

    def _user_id(self, claims: Mapping[str, Any]) -> str:
        uid = claims.get(self.user_id_claim)
        if not isinstance(uid, str) or not uid:
            raise InvalidToken(f"missing claim {self.user_id_claim}")
        return uid

    def _revoked_key(self, fp: str) -> str:
        return f"{self.prefix}:r:{fp}"

    def _generation_key(self, uid: str) -> str:
        return f"{self.prefix}:g:{self._user_digest(uid)}"

    def _user_tag(self, uid: str) -> str:
        return f"{self.prefix}:user:{self._user_digest(uid)}"

    def _user_digest(self, uid: str) -> str:
        # Keyed: an unkeyed hash would let a Redis reader test "does alice have a session?".
        return self._ids.mac(uid.encode("utf-8", "surrogatepass"))[:16].hex()

    # -- markers and generations (authenticated: a Redis writer cannot forge them) ----

    def _marker(self, full_key: str) -> str:
        return self._macs.mac(b"revoked\0" + full_key.encode()).hex()

    def _revoked(self, value: Any, full_key: str) -> bool:
        if value is MISS:
            return False
        if self._macs.check(b"revoked\0" + full_key.encode(), value):
            return True
        self.cache._report_corrupt(full_key, "bad-mac")
        return False

    def _new_generation(self, full_key: str) -> str:
        nonce = uuid.uuid4().hex
        return nonce + "." + self._macs.mac(f"generation\0{full_key}\0{nonce}".encode()).hex()

    def _generation(self, value: Any, full_key: str) -> str | None:
        """
        The generation stored at ``full_key``: "" if none, None if it is not genuine.
        """
        if value is MISS:
            return ""
        if type(value) is str:
            nonce, _, tag = value.partition(".")
            if self._macs.check(f"generation\0{full_key}\0{nonce}".encode(), tag):
                return value
        self.cache._report_corrupt(full_key, "bad-mac")
        return None

    # -- invalidation ----------------------------------------------------------------

    def invalidate_user(self, user_id: str) -> int:
        """
        Drop every cached entry of ``user_id`` (role change, ban) on every instance.

        Returns:
            How many entries were removed.

        Raises:
            BackendError: the backend refused part of the invalidation (Redis down,
                read-only, out of memory...): entries of this user may still be
                served until they expire (``ttl`` at most). Retry, or make the
                loader refuse the user and wait ``ttl``.
        """
        return run(self._invalidate_user(user_id), self.cache)

    async def ainvalidate_user(self, user_id: str) -> int:
        """
        Async twin of `invalidate_user`.
        """
        return await arun(self._invalidate_user(user_id), self.cache)

    def _invalidate_user(self, user_id: str) -> Flow[int]:
        # New generation first (a load racing with this drops its own entry), then the
        # tagged entries; written once for both drivers.
        key = self.cache.full_key(self._generation_key(user_id))
        generation = self._new_generation(key)
        bumped = yield from self.cache._write(key, generation, self._generation_ttl())
        tag = self.cache._tag_key(self._user_tag(user_id))
        members: list[str] = []
        removed = 0
        try:
            members = yield BackendCall(self._tag_index(), "pop_tag", (tag,))
            if members:
                removed = yield BackendCall(self.cache.backend, "delete_many", (members,))
        except BackendError as exc:
            raise _refused(exc.operation) from exc
        finally:
            # Reads and lookups of this user still running (of an entry just removed, or
            # not stored yet) began before the new generation: later requests start their own.
            self.cache._detach([*members, *self._running.keys(user_id)])
        if not bumped:
            raise _refused("set")
        return int(removed)

    def _tag_index(self) -> TagIndex:
        index = self.cache._powers.tags
        if index is None:
            raise ConfigurationError(f"{type(self.cache.backend).__name__} does not support tags")
        return index

    def revoke(self, token: str) -> bool:
        """
        Refuse ``token`` from now on, everywhere (logout); other tokens are unaffected.

        Returns:
            True if the revocation marker was stored and the token's cached entry
            removed from every instance (False: the backend failed, or an instance
            with an L1 did not confirm; retry).
        """
        return run(self._revoke(token), self.cache)

    async def arevoke(self, token: str) -> bool:
        """
        Async twin of `revoke`.
        """
        return await arun(self._revoke(token), self.cache)

    def _revoke(self, token: str) -> Flow[bool]:
        # The marker first, then the entry: a load racing with this reads the marker
        # after its store and drops its own entry.
        fp = self._fingerprint(token)
        key = self.cache.full_key(self._revoked_key(fp))
        stored = yield from self.cache._write(key, self._marker(key), self._revocation_ttl(token))
        try:
            yield from self.cache._discard(self._entries + fp, strict=True)
        except BackendError:
            return False  # an instance may still serve the entry it holds
        return stored

    def _generation_ttl(self) -> float:
        # Only needs to outlive one load racing with the invalidation.
        return min(max(self.ttl * 2, 60.0), MAX_SECONDS)

    def _revocation_ttl(self, token: str) -> float:
        exp = _unverified_exp(token)
        if exp is None:
            return self.revocation_ttl
        # Until the token expires (it is refused by then anyway); an unverified exp far
        # in the future (any text can be passed here) is held as long as a TTL can be.
        return min(max(exp + self.verifier.leeway - self._clock() + 1.0, 1.0), MAX_SECONDS)

    def stats(self) -> StatsSnapshot:
        """
        Return hits, misses, loads and load errors of this user cache, and its backend's
        breaker state.
        """
        return self._stats.snapshot(self.cache._powers.breaker_state)


class _Running:
    # The entry keys each user has a miss flow running for (`invalidate_user` detaches them).

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Counter[str]] = {}

    @contextlib.contextmanager
    def of(self, uid: str, key: str) -> Iterator[None]:
        with self._lock:
            self._keys.setdefault(uid, Counter())[key] += 1
        try:
            yield
        finally:
            with self._lock:
                keys = self._keys[uid]
                keys[key] -= 1
                if keys[key] <= 0:
                    del keys[key]
                if not keys:
                    del self._keys[uid]

    def keys(self, uid: str) -> list[str]:
        with self._lock:
            return list(self._keys.get(uid, ()))


def _nothing(key: str) -> Any:
    # The read that never waits, of a backend that can only be awaited.
    return MISS


def _refused(operation: str) -> BackendError:
    return BackendError(
        "CachedUser", "invalidate_user",
        f"the backend refused {operation}; cached entries of this user may be served "
        "until they expire",
    )


def _unverified_exp(token: str) -> float | None:
    try:  # read only to size the revocation marker, never to trust the token
        claims = jwt.decode(token, options={"verify_signature": False})
    except Exception:  # any junk: fall back to the default marker lifetime
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
        return None
    return float(exp)
