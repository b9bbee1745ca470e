"""
`cached_user` on Flask: ``@current_user.required``, roles, logout, role changes.

Run it::

    SUPABASE_JWT_SECRET=... FINGERPRINT_KEY=... WA_PERFKIT_REDIS_URL=redis://127.0.0.1:6379/0 \\
        python examples/auth_flask.py
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import flask

from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.flask.auth import cached_user


@dataclass
class UserStore:
    """Stand-in for the ``app_users`` + ``app_user_roles`` query (20 ms)."""

    roles: dict[str, list[str]] = field(default_factory=dict)

    def load_user(self, claims: dict[str, Any]) -> dict[str, Any] | None:
        time.sleep(0.02)
        return {"id": claims["sub"], "roles": self.roles.get(claims["sub"], [])}


def create_app(
    verifier: JWTVerifier, cache: Cache, store: UserStore, server_key: str | None = None
) -> flask.Flask:
    """Build the app; every dependency is passed in (no import-time globals)."""
    current_user = cached_user(
        store.load_user, verifier=verifier, cache=cache, ttl=120, server_key=server_key
    )
    app = flask.Flask(__name__)

    @app.get("/auth/me")
    @current_user.required
    def me() -> Any:
        return current_user.user

    @app.get("/admin/stats")
    @current_user.required(roles=["admin"])
    def admin_stats() -> Any:
        return {"admin": current_user.user["id"]}

    @app.post("/auth/logout")
    @current_user.required
    def logout() -> Any:
        return {"revoked": current_user.revoke(current_user.token())}

    @app.put("/admin/users/<user_id>/roles")
    @current_user.required(roles=["admin"])
    def set_roles(user_id: str) -> Any:
        store.roles[user_id] = list(flask.request.get_json())
        return {"invalidated": current_user.invalidate_user(user_id)}

    return app


def main() -> None:
    redis_url = os.environ.get("WA_PERFKIT_REDIS_URL")
    backend = RedisBackend(redis_url) if redis_url else MemoryBackend()
    verifier = JWTVerifier(secret=os.environ["SUPABASE_JWT_SECRET"], audience="authenticated")
    app = create_app(
        verifier, Cache(backend, namespace="inbox"), UserStore(), os.environ.get("FINGERPRINT_KEY")
    )
    app.run(host="127.0.0.1", port=5000, threaded=True)


if __name__ == "__main__":
    main()
