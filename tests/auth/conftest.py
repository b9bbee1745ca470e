"""
Fixtures of the auth tests: keys, a JWKS server, verifiers, user caches on memory and Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.auth._tokens import AUDIENCE, ISSUER, SECRET, SERVER_KEY, JWKSServer, KeyPair, make_pair
from tests.auth._users import Users
from wa_perfkit.auth import CachedUser, JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache


@pytest.fixture(name="keys", scope="session")
def fixture_keys() -> dict[str, KeyPair]:
    """One key pair per asymmetric algorithm Supabase may use."""
    return {alg: make_pair(alg, f"kid-{alg.lower()}") for alg in ("RS256", "ES256", "EdDSA")}


@pytest.fixture(name="jwks")
def fixture_jwks(keys: dict[str, KeyPair]) -> Iterator[JWKSServer]:
    server = JWKSServer([pair.public_jwk for pair in keys.values()]).start()
    yield server
    server.stop()


@pytest.fixture(name="verifier")
def fixture_verifier(jwks: JWKSServer) -> JWTVerifier:
    """Legacy secret and JWKS together, Supabase defaults."""
    return JWTVerifier(
        SECRET, jwks_url=jwks.url, audience=AUDIENCE, issuer=ISSUER, jwks_cooldown=0.2,
        allow_insecure_http=True,  # the test JWKS is served on loopback
    )


@pytest.fixture(name="users")
def fixture_users() -> Users:
    return Users()


@pytest.fixture(name="kind", params=["memory", "redis"])
def fixture_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(name="ucache")
async def fixture_ucache(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """A real-clock cache on each backend in turn."""
    if kind == "memory":
        yield Cache(MemoryBackend(maxsize=10_000), namespace="auth-mem")
        return
    # 1 s, not the 100 ms default: 200 concurrent requests in one event loop delay
    # reads past 100 ms and open the breaker on a healthy server (reported to the core).
    backend = RedisBackend(request.getfixturevalue("redis_url"), socket_timeout=1.0)
    yield Cache(backend, namespace=request.getfixturevalue("namespace"))
    backend.close()
    await backend.aclose()


@pytest.fixture(name="current")
def fixture_current(ucache: Cache, verifier: JWTVerifier, users: Users) -> CachedUser[Any]:
    return CachedUser(users.load, verifier=verifier, cache=ucache, ttl=120, server_key=SERVER_KEY)


@pytest.fixture(name="acurrent")
def fixture_acurrent(ucache: Cache, verifier: JWTVerifier, users: Users) -> CachedUser[Any]:
    return CachedUser(users.aload, verifier=verifier, cache=ucache, ttl=120, server_key=SERVER_KEY)
