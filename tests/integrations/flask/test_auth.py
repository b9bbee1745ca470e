"""
Flask: @current_user.required answers 401/403/503 exactly and keeps users apart across threads.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import flask
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server

from tests.auth._tokens import SERVER_KEY, KeyPair, claims, hs_token
from tests.auth._users import Users
from tests.auth.cases import bad_tokens
from tests.auth.test_user_cache import _redis_url, _stored
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.flask.auth import FlaskCurrentUser, cached_user

CHALLENGE = 'Bearer error="invalid_token"'


def build_flask(users: Users, verifier: JWTVerifier, cache: Cache) -> tuple[flask.Flask, Any]:
    current_user = cached_user(
        users.load,
        verifier=verifier,
        cache=cache,
        ttl=120,
        server_key=SERVER_KEY,
        cookie="sb-access-token",
    )
    app = flask.Flask("auth-test")
    user = current_user.proxy

    @app.get("/auth/me")
    @current_user.required
    def me() -> Any:
        assert flask.g.wa_perfkit_user is current_user.user
        return {"id": user["id"], "via_g": flask.g.wa_perfkit_user["id"]}

    @app.get("/admin")
    @current_user.required(roles=["admin"])
    def admin() -> Any:
        return {"admin": current_user.user["id"]}

    @app.post("/auth/logout")
    @current_user.required
    def logout() -> Any:
        return {"revoked": current_user.revoke(current_user.token())}

    return app, current_user


@pytest.fixture(name="app")
def fixture_app(users: Users, verifier: JWTVerifier, ucache: Cache) -> tuple[flask.Flask, Any]:
    return build_flask(users, verifier, ucache)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestFlaskCurrentUser:
    def test_refusals(
        self,
        app: tuple[flask.Flask, Any],
        users: Users,
        keys: dict[str, KeyPair],
        ucache: Cache,
        kind: str,
        request: pytest.FixtureRequest,
    ) -> None:
        """Each listed case is 401 with the challenge; nothing is loaded or cached."""
        client = app[0].test_client()
        headers: list[dict[str, Any]] = [
            {},
            {"Authorization": "Basic abc"},
            {"Authorization": "Bearer "},
            {"Authorization": "Bearer ..."},
            {"Authorization": "Bearer \xff\xfe.\x80.x"},
        ]
        headers += [_bearer(token) for token in bad_tokens(keys).values()]
        for header in headers:
            response = client.get("/auth/me", headers=header)
            assert response.status_code == 401, header
            assert response.headers["WWW-Authenticate"] == CHALLENGE
            assert response.json == {"detail": "invalid or expired token"}
        assert users.calls == 0
        assert _stored(ucache, _redis_url(kind, request)) == []

    def test_hits_roles_503_logout(
        self, app: tuple[flask.Flask, Any], users: Users, verifier: JWTVerifier
    ) -> None:
        """Hits skip loader and verifier; 403 on a missing role; 503 on loader failure; logout."""
        client = app[0].test_client()
        token = hs_token(claims(sub="amy"))
        for _ in range(5):
            assert client.get("/auth/me", headers=_bearer(token)).json == {
                "id": "amy",
                "via_g": "amy",
            }
        assert users.calls == 1 and verifier.verifications == 1
        assert client.get("/admin", headers=_bearer(token)).status_code == 403
        users.roles["root"] = ["admin"]
        assert (
            client.get("/admin", headers=_bearer(hs_token(claims(sub="root")))).status_code == 200
        )
        users.fail = True
        down = client.get("/auth/me", headers=_bearer(hs_token(claims(sub="new"))))
        assert down.status_code == 503 and "unavailable" in down.json["detail"]
        users.fail = False
        assert client.post("/auth/logout", headers=_bearer(token)).json == {"revoked": True}
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 401
        client.set_cookie("sb-access-token", hs_token(claims(sub="cookie")))
        assert client.get("/auth/me").json["id"] == "cookie"

    def test_threaded_server_keeps_users_apart(
        self, app: tuple[flask.Flask, Any], users: Users
    ) -> None:
        """Under Flask's threaded server, each request sees its own user."""
        import httpx

        server = make_server("127.0.0.1", 0, app[0], threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            users.delay = 0.01
            tokens = [
                (f"u{i % 12}", hs_token(claims(sub=f"u{i % 12}", jti=str(i)))) for i in range(24)
            ]
            base = f"http://127.0.0.1:{server.server_port}"

            client = httpx.Client(base_url=base)  # one client: building one costs ~30 ms

            def call(pair: tuple[str, str]) -> bool:
                body = client.get("/auth/me", headers=_bearer(pair[1])).json()
                return bool(body == {"id": pair[0], "via_g": pair[0]})

            with ThreadPoolExecutor(16) as pool, client:
                assert all(pool.map(call, tokens * 2))
            assert users.calls == 24
        finally:
            server.shutdown()
            thread.join(5)

    def test_user_outside_request(self, app: tuple[flask.Flask, Any]) -> None:
        """Reading the user in an undecorated view is a clear error."""
        current: FlaskCurrentUser[Any] = app[1]
        with app[0].test_request_context("/"), pytest.raises(RuntimeError, match="required"):
            _ = current.user


class TestFlaskFuzz:
    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        value=st.one_of(
            st.text(max_size=200),
            st.text(alphabet="abcXYZ019_-.= ", max_size=120).map(lambda t: "Bearer " + t),
            st.binary(max_size=200).map(lambda b: "Bearer " + b.decode("latin-1")),
        ).filter(lambda v: len(v.splitlines()) <= 1 and "\r" not in v and "\n" not in v)
    )
    def test_fuzzed_headers_never_500(self, verifier: JWTVerifier, value: str) -> None:
        """Arbitrary Authorization values give Flask a 401, never a 500, and never load a user."""
        users = Users()
        app, _ = build_flask(users, verifier, Cache(MemoryBackend(), namespace="fuzz"))
        response = app.test_client().get("/auth/me", headers={"Authorization": value})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert users.calls == 0
