"""
CachedUser core on memory and Redis: free hits, no cached failures, entries bounded by exp.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import redis

from tests.auth._tokens import AUDIENCE, SECRET, SERVER_KEY, KeyPair, claims, hs_token, signed
from tests.auth._users import Users
from tests.auth.cases import bad_tokens
from tests.conftest import FakeClock
from tests.services import RedisServer
from wa_perfkit.auth import CachedUser, JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError, Forbidden, InvalidToken, UserLoaderError


def _stored(cache: Cache, redis_url: str | None = None) -> list[tuple[bytes, bytes]]:
    """
    Every (key, value) this cache holds: the memory dict, or a SCAN of the namespace
    through the cache's own Redis client (every node of a cluster).
    """
    backend = cache.backend
    remote = getattr(backend, "l2", backend)
    if not isinstance(remote, RedisBackend):
        assert isinstance(backend, MemoryBackend)
        return [(k.encode(), repr(v).encode()) for k, v in backend._data.items()]
    client = remote.client
    found = []
    for key in client.scan_iter(match=cache.prefix + "*"):
        kind = client.type(key)
        value = client.get(key) if kind == b"string" else repr(client.smembers(key)).encode()
        found.append((key, value or b""))
    return found


def _redis_url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("redis_url")) if kind == "redis" else None


class TestCachedUser:
    async def test_hit_costs_no_verify_no_load(
        self, current: CachedUser[Any], acurrent: CachedUser[Any], users: Users
    ) -> None:
        """After the first request, the same token calls neither the loader nor the verifier."""
        token = hs_token(claims(sub="alice"))
        assert current.resolve(token)["id"] == "alice"
        verified = current.verifier.verifications
        for _ in range(20):
            assert current.resolve(token)["id"] == "alice"
            assert (await acurrent.aresolve(token))["id"] == "alice"
        assert users.calls == 1 and current.verifier.verifications == verified == 1
        assert current.stats().hits == 20 and current.stats().loads == 1

    async def test_concurrent_first_requests_load_once(
        self, acurrent: CachedUser[Any], users: Users
    ) -> None:
        """200 concurrent first requests with one token call the loader once."""
        users.delay = 0.05
        token = hs_token(claims(sub="bob"))
        results = await asyncio.gather(*(acurrent.aresolve(token) for _ in range(200)))
        assert {r["id"] for r in results} == {"bob"} and users.calls == 1
        assert acurrent.verifier.verifications == 1

    def test_concurrent_first_requests_threads(
        self, current: CachedUser[Any], users: Users
    ) -> None:
        """64 threads' first requests with one token call the loader once."""
        users.delay = 0.05
        token = hs_token(claims(sub="carol"))
        with ThreadPoolExecutor(64) as pool:
            ids = set(pool.map(lambda _: current.resolve(token)["id"], range(64)))
        assert ids == {"carol"} and users.calls == 1

    async def test_bad_tokens_cache_nothing(
        self,
        current: CachedUser[Any],
        acurrent: CachedUser[Any],
        users: Users,
        keys: dict[str, KeyPair],
        kind: str,
        request: pytest.FixtureRequest,
    ) -> None:
        """Every refused token raises InvalidToken, never loads, and leaves the cache empty."""
        for token in bad_tokens(keys).values():
            with pytest.raises(InvalidToken):
                current.resolve(token)
            with pytest.raises(InvalidToken):
                await acurrent.aresolve(token)
        assert users.calls == 0
        assert _stored(current.cache, _redis_url(kind, request)) == []

    async def test_loader_failure_not_cached(
        self,
        current: CachedUser[Any],
        acurrent: CachedUser[Any],
        users: Users,
        kind: str,
        request: pytest.FixtureRequest,
    ) -> None:
        """A failing loader gives UserLoaderError, caches nothing, and is retried next time."""
        users.fail = True
        token = hs_token(claims(sub="dave"))
        with pytest.raises(UserLoaderError):
            current.resolve(token)
        with pytest.raises(UserLoaderError):
            await acurrent.aresolve(token)
        assert _stored(current.cache, _redis_url(kind, request)) == []
        users.fail = False
        assert current.resolve(token)["id"] == "dave" and users.calls == 3

    def test_unknown_user_is_invalid_and_not_cached(
        self, current: CachedUser[Any], users: Users
    ) -> None:
        """A loader returning None (deleted user) refuses the token every time."""
        users.missing.add("ghost")
        token = hs_token(claims(sub="ghost"))
        for _ in range(2):
            with pytest.raises(InvalidToken):
                current.resolve(token)
        assert users.calls == 2

    def test_loader_may_refuse(self, ucache: Cache, verifier: JWTVerifier) -> None:
        """An AuthError raised by the loader (a ban) passes through, not as a 503."""

        def banned(_: dict[str, Any]) -> Any:
            raise Forbidden(("not-banned",))

        current = CachedUser(banned, verifier=verifier, cache=ucache, server_key=SERVER_KEY)
        with pytest.raises(Forbidden):
            current.resolve(hs_token(claims()))

    async def test_entry_bounded_by_exp(self, clock: FakeClock) -> None:
        """A token expiring in 5 s is not served after exp although ttl=120 (fake clock)."""
        users = Users()
        cache = Cache(MemoryBackend(timer=clock), namespace="exp", clock=clock)
        verifier = JWTVerifier(SECRET, audience=AUDIENCE, clock=clock)
        current = CachedUser(users.load, verifier=verifier, cache=cache, ttl=120)
        token = hs_token(claims(ttl=5, now=clock.now))
        current.resolve(token)
        clock.advance(4.5)
        assert current.resolve(token)["id"] == "user-1" and users.calls == 1
        clock.advance(1)
        with pytest.raises(InvalidToken, match="expired"):
            current.resolve(token)
        with pytest.raises(InvalidToken, match="expired"):
            await current.aresolve(token)

    def test_entry_checks_exp_even_if_backend_keeps_it(self, clock: FakeClock) -> None:
        """The stored exp is checked on hit even when the backend's TTL outlives it."""
        users = Users()
        backend_clock = FakeClock()  # the backend never expires anything by itself here
        cache = Cache(MemoryBackend(timer=backend_clock), namespace="exp2", clock=clock)
        verifier = JWTVerifier(SECRET, audience=AUDIENCE, clock=clock)
        current = CachedUser(users.load, verifier=verifier, cache=cache, ttl=120)
        token = hs_token(claims(ttl=3, now=clock.now))
        current.resolve(token)
        clock.advance(3)
        with pytest.raises(InvalidToken):
            current.resolve(token)

    @pytest.mark.parametrize("kind", ["redis"])
    def test_redis_expiry_real_time(
        self, current: CachedUser[Any], users: Users, redis_url: str
    ) -> None:
        """On Redis, with real time: TTL <= exp - now, and the token fails after exp."""
        token = hs_token(claims(ttl=2))
        current.resolve(token)
        client = redis.Redis.from_url(redis_url)
        pttls = [client.pttl(k) for k in client.scan_iter(match=current.cache.prefix + "auth:u:*")]
        client.close()
        assert len(pttls) == 1 and 0 < pttls[0] <= 2000
        time.sleep(max(0.0, claims(ttl=0)["exp"] + 2.05 - time.time()))
        with pytest.raises(InvalidToken):
            current.resolve(token)

    def test_no_raw_token_or_sha256_stored(
        self,
        current: CachedUser[Any],
        keys: dict[str, KeyPair],
        kind: str,
        request: pytest.FixtureRequest,
    ) -> None:
        """After a run, no key or value holds a token, its sha256, or the signature."""
        tokens = [hs_token(claims(sub=f"u{i}")) for i in range(5)]
        tokens += [signed(keys["ES256"], claims(sub="es"))]
        for token in tokens:
            current.resolve(token)
        current.revoke(tokens[0])
        current.invalidate_user("u1")
        blob = b"\n".join(
            k + b" " + v for k, v in _stored(current.cache, _redis_url(kind, request))
        )
        assert blob
        for token in tokens:
            for secret in (token, hashlib.sha256(token.encode()).hexdigest(), token.split(".")[2]):
                assert secret.encode() not in blob

    async def test_revoke(
        self, current: CachedUser[Any], acurrent: CachedUser[Any], users: Users
    ) -> None:
        """A revoked token fails from now on; the same user's other token keeps working."""
        first, second = hs_token(claims(sub="eve", jti="1")), hs_token(claims(sub="eve", jti="2"))
        current.resolve(first)
        current.resolve(second)
        assert current.revoke(first)
        for resolve in (current.resolve, acurrent.aresolve):
            with pytest.raises(InvalidToken, match="revoked"):
                result = resolve(first)
                if asyncio.iscoroutine(result):
                    await result
        assert current.resolve(second)["id"] == "eve"
        third = hs_token(claims(sub="eve", jti="3"))
        assert await acurrent.arevoke(third)
        with pytest.raises(InvalidToken):
            await acurrent.aresolve(third)

    async def test_invalidate_user(
        self, current: CachedUser[Any], acurrent: CachedUser[Any], users: Users
    ) -> None:
        """invalidate_user makes the next request of that user reload; others stay cached."""
        mine, theirs = hs_token(claims(sub="frank")), hs_token(claims(sub="grace"))
        current.resolve(mine)
        current.resolve(theirs)
        users.roles["frank"] = ["admin"]
        assert current.invalidate_user("frank") == 1
        assert current.resolve(mine)["roles"] == ["admin"]
        assert current.resolve(theirs)["id"] == "grace" and users.calls == 3
        assert await acurrent.ainvalidate_user("frank") == 1
        assert (await acurrent.aresolve(mine))["id"] == "frank" and users.calls == 4

    def test_revoke_during_load_not_resurrected(
        self, current: CachedUser[Any], users: Users
    ) -> None:
        """A load racing with revoke neither serves nor stores the revoked token's user."""
        users.gate = threading.Event()
        token = hs_token(claims(sub="henry"))
        outcome: list[BaseException | Any] = []
        worker = threading.Thread(target=lambda: _capture(outcome, current.resolve, token))
        worker.start()
        assert users.entered.wait(10)  # the load is running
        current.revoke(token)
        users.gate.set()
        worker.join(10)
        assert isinstance(outcome[0], InvalidToken)
        with pytest.raises(InvalidToken):
            current.resolve(token)
        assert users.calls == 1

    def test_invalidate_during_load_not_kept(self, current: CachedUser[Any], users: Users) -> None:
        """A load racing with invalidate_user does not leave its possibly stale entry behind."""
        users.gate = threading.Event()
        token = hs_token(claims(sub="iris"))
        outcome: list[Any] = []
        worker = threading.Thread(target=lambda: _capture(outcome, current.resolve, token))
        worker.start()
        assert users.entered.wait(10)  # the load is running
        current.invalidate_user("iris")
        users.gate.set()
        worker.join(10)
        users.gate = None
        assert outcome[0]["id"] == "iris"
        current.resolve(token)
        assert users.calls == 2

    def test_requests_after_invalidate_user_do_not_share_a_running_load(
        self, current: CachedUser[Any], users: Users
    ) -> None:
        """A request arriving after invalidate_user runs its own load, not one begun before."""
        users.gate = threading.Event()
        token = hs_token(claims(sub="kate"))
        first: list[Any] = []
        second: list[Any] = []
        earlier = threading.Thread(target=lambda: _capture(first, current.resolve, token))
        earlier.start()
        assert users.entered.wait(10)  # the first load is running
        current.invalidate_user("kate")
        users.entered.clear()
        later = threading.Thread(target=lambda: _capture(second, current.resolve, token))
        later.start()
        try:
            assert users.entered.wait(10)  # a load of its own, not a wait on the first one
        finally:
            users.gate.set()
            earlier.join(10)
            later.join(10)
            users.gate = None
        assert users.calls == 2
        assert first[0]["id"] == second[0]["id"] == "kate" and first[0] is not second[0]

    def test_interleaved_users_never_mixed(self, current: CachedUser[Any], users: Users) -> None:
        """Many users and tokens, resolved in random order from threads: always the right user."""
        rng = random.Random(4)
        tokens = [
            (f"user{i % 40}", hs_token(claims(sub=f"user{i % 40}", jti=str(i)))) for i in range(120)
        ]
        work = [rng.choice(tokens) for _ in range(1500)]

        def check(pair: tuple[str, str]) -> bool:
            return bool(current.resolve(pair[1])["id"] == pair[0])

        with ThreadPoolExecutor(16) as pool:
            assert all(pool.map(check, work))
        assert users.calls <= 120

    def test_roles(self, current: CachedUser[Any], users: Users) -> None:
        """check_roles: all of the required roles, or one with any_of."""
        users.roles["judy"] = ["agent", "admin"]
        user = current.resolve(hs_token(claims(sub="judy")))
        current.check_roles(user, ["admin", "agent"])
        current.check_roles(user, ["owner", "admin"], any_of=True)
        with pytest.raises(Forbidden):
            current.check_roles(user, ["owner", "admin"])

    def test_configuration(self, verifier: JWTVerifier, redis_url: str, users: Users) -> None:
        """ttl must be positive; a shared backend needs a server key."""
        with pytest.raises(ConfigurationError):
            CachedUser(users.load, verifier=verifier, cache=Cache(MemoryBackend()), ttl=0)
        with pytest.raises(ConfigurationError, match="server_key"):
            CachedUser(users.load, verifier=verifier, cache=Cache(RedisBackend(redis_url)))

    @pytest.mark.parametrize(
        "options",
        [
            {"ttl": float("nan")},
            {"revocation_ttl": 0},
            {"lock_ttl": -1},
            {"prefix": ""},
            {"prefix": "a:b"},
            {"prefix": "\ud800"},
            {"prefix": 5},
            {"user_id_claim": ""},
        ],
    )
    def test_settings_fail_at_construction(
        self, verifier: JWTVerifier, users: Users, options: dict[str, Any]
    ) -> None:
        """revocation_ttl=0 used to fail only at logout; an empty claim refused every user."""
        with pytest.raises(ConfigurationError, match=next(iter(options))):
            CachedUser(users.load, verifier=verifier, cache=Cache(MemoryBackend()), **options)

    @pytest.mark.parametrize("exp", [1e300, 1e20, -1e20, float("inf"), "soon", None])
    def test_revoke_holds_any_token_exp(
        self, verifier: JWTVerifier, users: Users, exp: Any
    ) -> None:
        """revoke reads exp unverified (any text can be sent to logout): never an error."""
        current = CachedUser(users.load, verifier=verifier, cache=Cache(MemoryBackend()))
        token = jwt.encode({"sub": "u", "exp": exp}, "x" * 32, algorithm="HS256")
        assert current.revoke(token) is True

    def test_async_loader_needs_async_path(self, acurrent: CachedUser[Any]) -> None:
        """A sync resolve with an async loader is a configuration error, not a hang."""
        with pytest.raises(ConfigurationError):
            acurrent.resolve(hs_token(claims()))


class TestOutage:
    async def test_redis_down_degrades_to_verify_and_load(
        self, redis_server: RedisServer, verifier: JWTVerifier, users: Users
    ) -> None:
        """With Redis killed, requests still authenticate via verify + load; bad ones still fail."""
        backend = RedisBackend(redis_server.url)
        cache = Cache(backend, namespace="outage")
        current = CachedUser(users.load, verifier=verifier, cache=cache, server_key=SERVER_KEY)
        acurrent = CachedUser(users.aload, verifier=verifier, cache=cache, server_key=SERVER_KEY)
        token = hs_token(claims(sub="kate"))
        current.resolve(token)
        redis_server.kill()
        for _ in range(5):
            assert current.resolve(token)["id"] == "kate"
            assert (await acurrent.aresolve(token))["id"] == "kate"
        with pytest.raises(InvalidToken):
            current.resolve(hs_token(claims(aud="nope")))
        assert users.calls == 11
        backend.close()
        await backend.aclose()


def _capture(into: list[Any], call: Any, *args: Any) -> None:
    try:
        into.append(call(*args))
    except BaseException as exc:
        into.append(exc)


class TestCrossProcessLock:
    @pytest.mark.parametrize("lock", [False, True])
    def test_lock_loads_once_across_instances(
        self, redis_url: str, namespace: str, verifier: JWTVerifier, lock: bool
    ) -> None:
        """Two instances (own flights, own clients) on one Redis: with lock=True one load."""
        users = Users()
        users.delay = 0.2
        instances = [
            CachedUser(
                users.load,
                verifier=verifier,
                cache=Cache(RedisBackend(redis_url, socket_timeout=1.0), namespace=namespace),
                server_key=SERVER_KEY,
                lock=lock,
            )
            for _ in range(2)
        ]
        token = hs_token(claims(sub="lena"))
        start = threading.Barrier(16)

        def request(i: int) -> str:
            start.wait(10)  # both instances miss together
            return str(instances[i % 2].resolve(token)["id"])

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(request, range(16)))
        assert results == ["lena"] * 16
        assert users.calls == (1 if lock else 2)
        for instance in instances:
            instance.cache.close()

    async def test_async_lock_loads_once_across_instances(
        self, redis_url: str, namespace: str, verifier: JWTVerifier
    ) -> None:
        """The asyncio path takes the same lock."""
        users = Users()
        users.delay = 0.2
        backends = [RedisBackend(redis_url, socket_timeout=1.0) for _ in range(2)]
        instances = [
            CachedUser(
                users.aload, verifier=verifier, cache=Cache(b, namespace=namespace),
                server_key=SERVER_KEY, lock=True,
            )
            for b in backends
        ]
        token = hs_token(claims(sub="mona"))
        results = await asyncio.gather(*(instances[i % 2].aresolve(token) for i in range(40)))
        assert {r["id"] for r in results} == {"mona"} and users.calls == 1
        for b in backends:
            await b.aclose()


class TestUserStats:
    async def test_each_request_counted_once(self, namespace: str, verifier: JWTVerifier) -> None:
        """Concurrent first requests count one miss or one hit each, never both."""
        users = Users()
        users.delay = 0.05
        current = CachedUser(
            users.aload, verifier=verifier, cache=Cache(MemoryBackend(), namespace=namespace)
        )
        token = hs_token(claims(sub="nina"))
        await asyncio.gather(*(current.aresolve(token) for _ in range(200)))
        for _ in range(50):
            await current.aresolve(token)
        snap = current.stats()
        assert snap.hits + snap.misses == 250 and snap.loads == 1 and snap.hits >= 50

    def test_stats_carry_the_breaker_state(
        self, redis_server: RedisServer, verifier: JWTVerifier
    ) -> None:
        """With Redis dead and the breaker open, the user cache's stats say so."""
        users = Users()
        backend = RedisBackend(redis_server.url)
        current = CachedUser(
            users.load, verifier=verifier, cache=Cache(backend, namespace="brk"),
            server_key=SERVER_KEY,
        )
        token = hs_token(claims(sub="olga"))
        assert current.stats().breaker_state == "closed"
        redis_server.kill()
        for _ in range(5):
            current.resolve(token)
        assert current.stats().breaker_state == "open"
        backend.close()
