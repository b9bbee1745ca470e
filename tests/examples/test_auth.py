"""
The auth examples import and behave as the docs say (so they never rot).
"""

from __future__ import annotations

import httpx

from examples import auth_fastapi, auth_flask
from tests.auth._tokens import AUDIENCE, SECRET, claims, hs_token
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_fastapi_example() -> None:
    """/auth/me, admin 403 then 200 after a role change, logout."""
    store = auth_fastapi.UserStore(roles={"boss": ["admin"]})
    app = auth_fastapi.create_app(
        JWTVerifier(SECRET, audience=AUDIENCE), Cache(MemoryBackend()), store
    )
    agent, boss = hs_token(claims(sub="agent")), hs_token(claims(sub="boss"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        assert (await c.get("/auth/me", headers=_bearer(agent))).json()["id"] == "agent"
        assert (await c.get("/admin/stats", headers=_bearer(agent))).status_code == 403
        changed = await c.put("/admin/users/agent/roles", json=["admin"], headers=_bearer(boss))
        assert changed.json() == {"invalidated": 1}
        assert (await c.get("/admin/stats", headers=_bearer(agent))).status_code == 200
        assert (await c.post("/auth/logout", headers=_bearer(agent))).json() == {"revoked": True}
        assert (await c.get("/auth/me", headers=_bearer(agent))).status_code == 401


def test_flask_example() -> None:
    """The Flask twin behaves the same."""
    store = auth_flask.UserStore(roles={"boss": ["admin"]})
    app = auth_flask.create_app(
        JWTVerifier(SECRET, audience=AUDIENCE), Cache(MemoryBackend()), store
    )
    client = app.test_client()
    agent, boss = hs_token(claims(sub="agent")), hs_token(claims(sub="boss"))
    assert client.get("/auth/me", headers=_bearer(agent)).json["id"] == "agent"
    assert client.get("/admin/stats", headers=_bearer(agent)).status_code == 403
    changed = client.put("/admin/users/agent/roles", json=["admin"], headers=_bearer(boss))
    assert changed.json == {"invalidated": 1}
    assert client.get("/admin/stats", headers=_bearer(agent)).status_code == 200
    assert client.post("/auth/logout", headers=_bearer(agent)).json == {"revoked": True}
    assert client.get("/auth/me", headers=_bearer(agent)).status_code == 401
