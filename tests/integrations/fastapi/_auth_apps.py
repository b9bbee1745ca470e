"""
The FastAPI app the tests (and the two-process worker) drive.
"""


from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from tests.auth._tokens import SERVER_KEY
from tests.auth._users import Users
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.fastapi.auth import CurrentUser, cached_user


def build_app(
    users: Users, verifier: JWTVerifier, cache: Cache, *, use_async: bool = True,
    cookie: str | None = None,
) -> tuple[FastAPI, CurrentUser[Any]]:
    """An app with /auth/me, /admin, /auth/logout and test hooks."""
    loader = users.aload if use_async else users.load
    current_user = cached_user(
        loader, verifier=verifier, cache=cache, ttl=120, cookie=cookie, server_key=SERVER_KEY
    )
    app = FastAPI()

    @app.get("/auth/me")
    async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return user

    @app.get("/admin")
    async def admin(
        user: Annotated[dict[str, Any], Depends(current_user.require("admin"))],
    ) -> dict[str, str]:
        return {"admin": user["id"]}

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/auth/logout")
    async def logout(request: Request, _: Annotated[Any, Depends(current_user)]) -> dict[str, bool]:
        return {"revoked": await current_user.revoke(current_user.token(request))}

    @app.post("/test/invalidate/{user_id}")
    async def invalidate(user_id: str) -> dict[str, int]:
        return {"removed": await current_user.invalidate_user(user_id)}

    @app.get("/test/counts")
    async def counts() -> dict[str, int]:
        return {"loads": users.calls, "verifications": verifier.verifications}

    return app, current_user
