"""
FastAPI: Depends(current_user) answers 401/403/503 exactly, caches only successes, never 500s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth._tokens import SERVER_KEY, KeyPair, claims, hs_token, signed
from tests.auth._users import Users
from tests.auth.cases import bad_tokens
from tests.auth.test_user_cache import _redis_url, _stored
from tests.integrations.fastapi._auth_apps import build_app
from tests.services import RedisServer
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.fastapi.auth import CurrentUser

CHALLENGE = 'Bearer error="invalid_token"'


@pytest.fixture(name="client")
async def fixture_client(
    ucache: Cache, verifier: JWTVerifier, users: Users
) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = build_app(users, verifier, ucache, cookie="sb-access-token")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestFastAPICurrentUser:
    async def test_refusals_are_401_with_challenge(
        self,
        client: httpx.AsyncClient,
        users: Users,
        keys: dict[str, KeyPair],
        ucache: Cache,
        kind: str,
        request: pytest.FixtureRequest,
    ) -> None:
        """Each listed case is 401 with the RFC 6750 challenge; nothing is loaded or cached."""
        headers: list[dict[str, Any]] = [
            {},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer "},
            {"Authorization": "Bearer"},
            {"Authorization": ""},
            {"Authorization": "Bearer a b"},
            {"Authorization": b"Bearer \xff\xfe\xfd.\x80\x81.\xc3\x28"},
        ]
        headers += [_bearer(token) for token in bad_tokens(keys).values()]
        for header in headers:
            response = await client.get("/auth/me", headers=header)
            assert response.status_code == 401, header
            assert response.headers["www-authenticate"] == CHALLENGE
        assert users.calls == 0
        assert _stored(ucache, _redis_url(kind, request)) == []

    async def test_hits_cost_no_loader_no_verification(
        self,
        client: httpx.AsyncClient,
        users: Users,
        verifier: JWTVerifier,
        keys: dict[str, KeyPair],
    ) -> None:
        """After the first request, no loader call and no signature verification (counted)."""
        for token in (hs_token(claims(sub="ann")), signed(keys["ES256"], claims(sub="ben"))):
            before = (users.calls, verifier.verifications)
            for _ in range(10):
                response = await client.get("/auth/me", headers=_bearer(token))
                assert response.status_code == 200
            assert (users.calls, verifier.verifications) == (before[0] + 1, before[1] + 1)

    async def test_200_concurrent_first_requests(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        """200 concurrent first requests with one token call the loader once."""
        users.delay = 0.05
        token = hs_token(claims(sub="cat"))
        responses = await asyncio.gather(
            *(client.get("/auth/me", headers=_bearer(token)) for _ in range(200))
        )
        assert {r.status_code for r in responses} == {200} and users.calls == 1

    async def test_roles(self, client: httpx.AsyncClient, users: Users) -> None:
        """A missing role is 403 with insufficient_scope; with the role, 200."""
        users.roles["dan"] = ["admin"]
        agent, admin = hs_token(claims(sub="eve")), hs_token(claims(sub="dan"))
        denied = await client.get("/admin", headers=_bearer(agent))
        assert denied.status_code == 403
        assert denied.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
        assert (await client.get("/admin", headers=_bearer(admin))).json() == {"admin": "dan"}
        assert (await client.get("/admin")).status_code == 401

    async def test_loader_down_is_503_not_cached(
        self,
        client: httpx.AsyncClient,
        users: Users,
        ucache: Cache,
        kind: str,
        request: pytest.FixtureRequest,
    ) -> None:
        """The loader raising gives 503 with a clear body and caches nothing."""
        users.fail = True
        response = await client.get("/auth/me", headers=_bearer(hs_token(claims())))
        assert response.status_code == 503
        assert response.json() == {"detail": "user store unavailable, retry later"}
        assert _stored(ucache, _redis_url(kind, request)) == []
        users.fail = False
        assert (
            await client.get("/auth/me", headers=_bearer(hs_token(claims())))
        ).status_code == 200

    async def test_cookie(self, client: httpx.AsyncClient) -> None:
        """The token is also read from the configured cookie."""
        client.cookies.set("sb-access-token", hs_token(claims(sub="fay")))
        assert (await client.get("/auth/me")).json()["id"] == "fay"

    async def test_header_wins_over_cookie(self, client: httpx.AsyncClient) -> None:
        """With both, the header is used; a bad header is not rescued by the cookie."""
        client.cookies.set("sb-access-token", hs_token(claims(sub="fay")))
        response = await client.get("/auth/me", headers=_bearer(hs_token(claims(sub="gil"))))
        assert response.json()["id"] == "gil"
        refused = await client.get("/auth/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
        assert refused.status_code == 401

    async def test_logout_revokes(self, client: httpx.AsyncClient, users: Users) -> None:
        """Logging out revokes that token only; the user's other token keeps working."""
        first, second = hs_token(claims(sub="gus", jti="a")), hs_token(claims(sub="gus", jti="b"))
        assert (await client.get("/auth/me", headers=_bearer(first))).status_code == 200
        assert (await client.post("/auth/logout", headers=_bearer(first))).json() == {
            "revoked": True
        }
        assert (await client.get("/auth/me", headers=_bearer(first))).status_code == 401
        assert (await client.get("/auth/me", headers=_bearer(second))).status_code == 200

    async def test_openapi_security_scheme(self, client: httpx.AsyncClient) -> None:
        """/docs gets an HTTP bearer scheme and secured routes reference it."""
        schema = (await client.get("/openapi.json")).json()
        assert schema["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Supabase access token",
        }
        assert schema["paths"]["/auth/me"]["get"]["security"] == [{"bearer": []}]
        assert schema["paths"]["/admin"]["get"]["security"] == [{"bearer": []}]
        assert "security" not in schema["paths"]["/public"]["get"]

    async def test_sync_loader(self, verifier: JWTVerifier, users: Users) -> None:
        """A sync loader runs in a worker thread and is cached the same way."""
        app, _ = build_app(users, verifier, Cache(MemoryBackend()), use_async=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = hs_token(claims(sub="hal"))
            for _ in range(3):
                assert (await client.get("/auth/me", headers=_bearer(token))).json()["id"] == "hal"
        assert users.calls == 1

    async def test_redis_unreachable(
        self, redis_server: RedisServer, verifier: JWTVerifier, users: Users
    ) -> None:
        """With Redis dead, requests authenticate through verify + load: 200, never 500."""
        backend = RedisBackend(redis_server.url)
        app, _ = build_app(users, verifier, Cache(backend, namespace="down"))
        redis_server.kill()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = hs_token(claims(sub="ivy"))
            for _ in range(3):
                assert (await client.get("/auth/me", headers=_bearer(token))).status_code == 200
            assert (await client.get("/auth/me", headers=_bearer("x.y.z"))).status_code == 401
        assert users.calls == 3
        await backend.aclose()
        backend.close()

    def test_type_of_dependency(self, verifier: JWTVerifier, users: Users) -> None:
        """cached_user returns a CurrentUser that FastAPI treats as a security scheme."""
        _, current = build_app(users, verifier, Cache(MemoryBackend()))
        assert isinstance(current, CurrentUser) and current.scheme_name == "bearer"


_HEADER_BYTES = st.binary(max_size=200).filter(
    lambda b: b"\r" not in b and b"\n" not in b and b"\0" not in b
)


@pytest.fixture(name="sync_client", scope="module")
def fixture_sync_client() -> Any:
    users = Users()
    verifier = JWTVerifier(
        "fuzz-secret-that-is-long-enough-for-hs256-0123456789", audience="authenticated"
    )
    app, _ = build_app(users, verifier, Cache(MemoryBackend(), namespace="fuzz"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, users


class TestFuzz:
    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        value=st.one_of(
            _HEADER_BYTES,
            _HEADER_BYTES.map(lambda b: b"Bearer " + b),
            st.text(alphabet="abcXYZ019_-.= ", max_size=120).map(
                lambda t: ("Bearer " + t).encode()
            ),
        )
    )
    def test_fuzzed_headers_never_500(self, sync_client: Any, value: bytes) -> None:
        """Arbitrary Authorization values give 401, never 500, and never load a user."""
        client, users = sync_client
        response = client.get("/auth/me", headers={"Authorization": value})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == CHALLENGE
        assert users.calls == 0


def test_server_key_required_on_redis(verifier: JWTVerifier, users: Users, redis_url: str) -> None:
    """Building on Redis without a server key is refused (instances must agree on fingerprints)."""
    from wa_perfkit.errors import ConfigurationError
    from wa_perfkit.integrations.fastapi.auth import cached_user

    with pytest.raises(ConfigurationError):
        cached_user(users.aload, verifier=verifier, cache=Cache(RedisBackend(redis_url)))
    assert cached_user(
        users.aload, verifier=verifier, cache=Cache(RedisBackend(redis_url)), server_key=SERVER_KEY
    )
