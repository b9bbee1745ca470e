"""
`cached_user` on FastAPI: ``/auth/me``, an admin route, logout, and role changes.

Run it against a Supabase project (legacy JWT secret, or JWKS with ``SUPABASE_URL``)::

    SUPABASE_JWT_SECRET=... FINGERPRINT_KEY=... WA_PERFKIT_REDIS_URL=redis://127.0.0.1:6379/0 \\
        python examples/auth_fastapi.py

Without ``WA_PERFKIT_REDIS_URL`` the users are cached in process memory.

(No ``from __future__ import annotations``: FastAPI evaluates the
``Annotated[..., Depends(current_user)]`` hints, whose ``current_user`` is local.)
"""

import asyncio
import os
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.fastapi.auth import cached_user


@dataclass
class UserStore:
    """Stand-in for the ``app_users`` + ``app_user_roles`` query (20 ms, like Supabase)."""

    roles: dict[str, list[str]] = field(default_factory=dict)
    banned: set[str] = field(default_factory=set)

    async def load_user(self, claims: dict[str, Any]) -> dict[str, Any] | None:
        await asyncio.sleep(0.02)
        user_id = claims["sub"]
        if user_id in self.banned:
            return None  # 401 from the next request on
        return {"id": user_id, "email": claims.get("email"), "roles": self.roles.get(user_id, [])}


def verifier_from_env() -> JWTVerifier:
    """The Supabase verifier: JWKS when SUPABASE_URL is set, else the legacy secret."""
    supabase_url = os.environ.get("SUPABASE_URL")
    if supabase_url:
        return JWTVerifier(
            jwks_url=f"{supabase_url}/auth/v1/.well-known/jwks.json",
            audience="authenticated",
            issuer=f"{supabase_url}/auth/v1",
        )
    return JWTVerifier(secret=os.environ["SUPABASE_JWT_SECRET"], audience="authenticated")


def create_app(
    verifier: JWTVerifier, cache: Cache, store: UserStore, server_key: str | None = None
) -> FastAPI:
    """Build the app; every dependency is passed in (no import-time globals)."""
    current_user = cached_user(
        store.load_user, verifier=verifier, cache=cache, ttl=120, server_key=server_key
    )
    app = FastAPI(title="auth example")

    @app.get("/auth/me")
    async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return user

    @app.get("/admin/stats")
    async def admin_stats(
        user: Annotated[dict[str, Any], Depends(current_user.require("admin"))],
    ) -> dict[str, Any]:
        return {"admin": user["id"], "cache": current_user.core.stats().hits}

    @app.post("/auth/logout")
    async def logout(
        request: Request, _: Annotated[dict[str, Any], Depends(current_user)]
    ) -> dict[str, bool]:
        return {"revoked": await current_user.revoke(current_user.token(request))}

    @app.put("/admin/users/{user_id}/roles")
    async def set_roles(
        user_id: str,
        roles: list[str],
        _: Annotated[dict[str, Any], Depends(current_user.require("admin"))],
    ) -> dict[str, int]:
        store.roles[user_id] = roles  # the UPDATE of app_user_roles
        return {"invalidated": await current_user.invalidate_user(user_id)}

    return app


def main() -> None:
    import uvicorn

    redis_url = os.environ.get("WA_PERFKIT_REDIS_URL")
    backend = RedisBackend(redis_url) if redis_url else MemoryBackend()
    server_key = os.environ.get("FINGERPRINT_KEY")
    app = create_app(
        verifier_from_env(), Cache(backend, namespace="inbox"), UserStore(), server_key
    )
    uvicorn.run(app, host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
