"""
A hostile writer on the shared Redis: planted or edited entries, markers and generations.

The attacker here can read and write every key of the cache's Redis but does not
know the server key. Whatever they write, nobody is authenticated who should not
be, nobody gains a role, an expired token stays expired, and nothing raises a 500.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth._tokens import SERVER_KEY, claims, hs_token
from tests.auth._users import Users
from tests.services import RedisServer
from wa_perfkit.auth import CachedUser, JWTVerifier
from wa_perfkit.backends.breaker import CircuitBreaker
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import BackendError, InvalidToken
from wa_perfkit.keys import digest

FAR = 4_000_000_000.0


@pytest.fixture(name="shared", params=["redis", "tiered"])
async def fixture_shared(
    request: pytest.FixtureRequest, redis_url: str, namespace: str
) -> AsyncIterator[Cache]:
    """A cache on a plain Redis backend, then on a tiered one (L1 filled from Redis)."""
    l2 = RedisBackend(redis_url, socket_timeout=1.0)
    if request.param == "redis":
        yield Cache(l2, namespace=namespace)
        l2.close()
        await l2.aclose()
        return
    tiered = TieredBackend(l2=l2)
    cache = Cache(tiered, namespace=namespace)
    assert tiered.wait_ready(5)
    yield cache
    tiered.close()
    await l2.aclose()


@pytest.fixture(name="hcurrent")
def fixture_hcurrent(shared: Cache, verifier: JWTVerifier, users: Users) -> CachedUser[Any]:
    return CachedUser(users.load, verifier=verifier, cache=shared, ttl=120, server_key=SERVER_KEY)


@pytest.fixture(name="attacker")
def fixture_attacker(redis_url: str) -> Iterator[redis.Redis]:
    """A raw client: the hostile writer."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _entry_key(current: CachedUser[Any], token: str) -> str:
    return current._entries + current.fingerprint(token)


def _plant(attacker: redis.Redis, cache: Cache, key: str, value: Any, ttl: int = 600) -> None:
    """Write ``value`` as the cache would encode it, then forget any local copy."""
    attacker.set(key, cache.serializer.dumps(value), ex=ttl)
    _forget_local(cache, key)


def _forget_local(cache: Cache, key: str) -> None:
    # The attacker cannot reach an instance's memory: only entries read from Redis
    # after the plant matter. Drop the L1 copy as a restart would.
    l1 = getattr(cache.backend, "l1", None)
    if l1 is not None:
        l1.delete(key)


class TestPlantedEntries:
    def test_a_planted_admin_entry_grants_nothing(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis, users: Users
    ) -> None:
        """An entry overwritten with admin roles is a miss: the user is verified and loaded."""
        token = hs_token(claims(sub="alice"))
        assert hcurrent.resolve(token)["roles"] == ["agent"]
        key = _entry_key(hcurrent, token)
        _plant(attacker, shared, key, {"exp": FAR, "user": {"id": "alice", "roles": ["admin"]}})
        loads = users.calls
        for _ in range(3):
            assert hcurrent.resolve(token)["roles"] == ["agent"]
        assert users.calls == loads + 1

    def test_an_edited_entry_is_a_miss(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis, users: Users
    ) -> None:
        """Changing the roles inside a genuine entry (keeping its MAC) is detected."""
        token = hs_token(claims(sub="bob"))
        hcurrent.resolve(token)
        key = _entry_key(hcurrent, token)
        raw = attacker.get(key)
        assert raw is not None
        entry = shared.serializer.loads(raw)
        assert isinstance(entry, dict)
        assert '"agent"' in entry["u"]
        entry["u"] = entry["u"].replace('"agent"', '"admin"')
        _plant(attacker, shared, key, entry)
        assert hcurrent.resolve(token)["roles"] == ["agent"]
        # Another instance, which never checked the genuine entry, refuses the edit too.
        other = CachedUser(
            users.load, verifier=hcurrent.verifier, cache=shared, server_key=SERVER_KEY
        )
        loads = users.calls
        assert other.resolve(token)["roles"] == ["agent"]
        assert users.calls == loads + 1

    def test_an_entry_moved_to_another_key_is_a_miss(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis, users: Users
    ) -> None:
        """A genuine entry of an admin copied under a user's key does not make the user admin."""
        users.roles["root"] = ["admin"]
        admin, user = hs_token(claims(sub="root")), hs_token(claims(sub="carol"))
        hcurrent.resolve(admin)
        hcurrent.resolve(user)
        raw = attacker.get(_entry_key(hcurrent, admin))
        assert raw is not None
        attacker.set(_entry_key(hcurrent, user), raw, ex=600)
        _forget_local(shared, _entry_key(hcurrent, user))
        assert hcurrent.resolve(user)["id"] == "carol"

    def test_an_expired_token_stays_expired(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis
    ) -> None:
        """A far-future entry planted for an expired token does not revive it."""
        token = hs_token(claims(sub="dave", ttl=-60, now=time.time()))
        key = _entry_key(hcurrent, token)
        _plant(attacker, shared, key, {"exp": FAR, "user": {"id": "dave", "roles": ["admin"]}})
        with pytest.raises(InvalidToken):
            hcurrent.resolve(token)

    @pytest.mark.parametrize(
        "entry",
        [
            {"exp": math.nan, "user": {"id": "x"}},
            {"exp": math.inf, "user": {"id": "x"}},
            {"exp": "9999999999", "user": {"id": "x"}},
            {"exp": [FAR], "user": {"id": "x"}},
            {"exp": None, "user": {"id": "x"}},
            {"exp": True, "user": {"id": "x"}},
            {"exp": 10**400, "user": {"id": "x"}},
            {"user": {"id": "x"}},
            {"exp": FAR},
            {"exp": FAR, "user": {"id": "x"}, "mac": "0" * 64},
            {"exp": FAR, "user": {"id": "x"}, "mac": "é" * 64},
            {"exp": FAR, "user": {"id": "x"}, "mac": 7},
            "entry",
            ["exp", FAR],
            42,
            None,
        ],
        ids=repr,
    )
    async def test_a_malformed_entry_is_a_miss_never_an_error(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis, entry: Any
    ) -> None:
        """Whatever JSON sits under a user key, the token is verified and its user loaded."""
        token = hs_token(claims(sub="erin"))
        key = _entry_key(hcurrent, token)
        _plant(attacker, shared, key, entry)
        assert hcurrent.resolve(token)["id"] == "erin"
        _plant(attacker, shared, key, entry)
        assert (await hcurrent.aresolve(token))["id"] == "erin"

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        exp=st.one_of(st.floats(), st.integers(), st.text(max_size=8), st.none()),
        roles=st.lists(st.text(max_size=8), max_size=3),
        mac=st.one_of(st.text(max_size=70), st.binary(max_size=40).map(bytes.hex), st.none()),
    )
    def test_generated_planted_entries_never_authenticate(
        self,
        hcurrent: CachedUser[Any],
        shared: Cache,
        attacker: redis.Redis,
        exp: Any,
        roles: list[str],
        mac: Any,
    ) -> None:
        """For a token that fails verification, no planted entry under its key lets it in."""
        token = hs_token(claims(sub="mallory"), secret="not-the-server-secret-" + "x" * 40)
        key = _entry_key(hcurrent, token)
        entry: dict[str, Any] = {"exp": exp, "user": {"id": "mallory", "roles": roles}}
        if mac is not None:
            entry["mac"] = mac
        _plant(attacker, shared, key, entry)
        with pytest.raises(InvalidToken):
            hcurrent.resolve(token)


class TestMarkers:
    def test_a_planted_revocation_marker_is_ignored(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis
    ) -> None:
        """Only markers written by `revoke` (under the server key) log a token out."""
        token = hs_token(claims(sub="frank"))
        fp = hcurrent.fingerprint(token)
        _plant(attacker, shared, shared.full_key(hcurrent._revoked_key(fp)), 1)
        assert hcurrent.resolve(token)["id"] == "frank"

    def test_a_marker_copied_from_another_token_is_ignored(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis
    ) -> None:
        """A genuine marker of one token, copied to another token's key, does not revoke it."""
        gone, kept = hs_token(claims(sub="gina")), hs_token(claims(sub="gina", extra="2"))
        assert hcurrent.revoke(gone)
        source = shared.full_key(hcurrent._revoked_key(hcurrent.fingerprint(gone)))
        target = shared.full_key(hcurrent._revoked_key(hcurrent.fingerprint(kept)))
        raw = attacker.get(source)
        assert raw is not None
        attacker.set(target, raw, ex=600)
        assert hcurrent.resolve(kept)["id"] == "gina"
        with pytest.raises(InvalidToken):
            hcurrent.resolve(gone)

    def test_a_genuine_revocation_still_revokes(
        self, hcurrent: CachedUser[Any], shared: Cache
    ) -> None:
        """The MAC'd marker `revoke` writes is honoured on every instance."""
        token = hs_token(claims(sub="hank"))
        hcurrent.resolve(token)
        assert hcurrent.revoke(token)
        with pytest.raises(InvalidToken):
            hcurrent.resolve(token)

    def test_user_keys_reveal_no_user_id(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis
    ) -> None:
        """Tag and generation keys are keyed by the server key: no unkeyed hash of the user id."""
        token = hs_token(claims(sub="ivy"))
        hcurrent.resolve(token)
        hcurrent.invalidate_user("ivy")
        hcurrent.resolve(token)
        keys = b" ".join(attacker.scan_iter(match=shared.prefix + "*"))
        for unkeyed in (
            digest("ivy"),
            hashlib.sha256(b"ivy").hexdigest(),
            hashlib.blake2b(b"ivy", digest_size=16).hexdigest(),
        ):
            assert unkeyed.encode() not in keys
        assert b"ivy" not in keys

    def test_a_planted_generation_never_keeps_a_stale_entry(
        self, hcurrent: CachedUser[Any], shared: Cache, attacker: redis.Redis
    ) -> None:
        """Generation values are MAC'd: a plain value planted there is not a generation."""
        token = hs_token(claims(sub="jack"))
        hcurrent.invalidate_user("jack")
        gen = [k for k in attacker.scan_iter(match=shared.prefix + "*:g:*")]
        assert len(gen) == 1
        stored = shared.serializer.loads(attacker.get(gen[0]) or b"")
        assert hcurrent._generation(stored, gen[0].decode()) is not None
        planted = "0" * 32
        _plant(attacker, shared, gen[0].decode(), planted)
        assert hcurrent._generation(planted, gen[0].decode()) is None
        assert hcurrent.resolve(token)["id"] == "jack"


class TestRefusedWrites:
    """A Redis that serves reads but refuses writes (``min-replicas-to-write`` unmet)."""

    @pytest.fixture(name="readonly")
    async def fixture_readonly(
        self, redis_server: RedisServer, verifier: JWTVerifier, users: Users
    ) -> AsyncIterator[tuple[CachedUser[Any], redis.Redis]]:
        # A breaker that never opens: every call reaches the server and is refused there.
        breaker = CircuitBreaker("ro", failure_threshold=1_000_000)
        backend = RedisBackend(redis_server.url, socket_timeout=1.0, breaker=breaker)
        cache = Cache(backend, namespace="ro")
        current = CachedUser(users.load, verifier=verifier, cache=cache, server_key=SERVER_KEY)
        admin = redis.Redis.from_url(redis_server.url)
        yield current, admin
        admin.close()
        backend.close()
        await backend.aclose()

    async def test_invalidate_user_raises_when_the_backend_refuses(
        self, readonly: tuple[CachedUser[Any], redis.Redis], users: Users
    ) -> None:
        """A refused invalidation is a `BackendError`, never a quiet 0 that keeps the old roles."""
        current, admin = readonly
        token = hs_token(claims(sub="kim"))
        assert current.resolve(token)["roles"] == ["agent"]
        users.roles["kim"] = ["admin"]
        admin.config_set("min-replicas-to-write", 1)
        assert admin.get(_entry_key(current, token)) is not None  # reads still work
        with pytest.raises(BackendError):
            current.invalidate_user("kim")
        with pytest.raises(BackendError):
            await current.ainvalidate_user("kim")

    async def test_revoke_returns_false_when_the_marker_is_refused(
        self, readonly: tuple[CachedUser[Any], redis.Redis]
    ) -> None:
        """`revoke` says False when its marker was not stored."""
        current, admin = readonly
        token = hs_token(claims(sub="lee"))
        current.resolve(token)
        admin.config_set("min-replicas-to-write", 1)
        assert current.revoke(token) is False
        assert await current.arevoke(token) is False
