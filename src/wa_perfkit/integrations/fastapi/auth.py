"""
FastAPI adapter of `wa_perfkit.auth.CachedUser`: ``Depends(current_user)``.

```python
verifier = JWTVerifier(secret=settings.jwt_secret, audience="authenticated")
current_user = cached_user(load_user, verifier=verifier, cache=cache, ttl=120,
                           server_key=settings.fingerprint_key)

@app.get("/auth/me")
async def me(user: AppUser = Depends(current_user)) -> AppUser: ...

@app.get("/admin/stats", dependencies=[Depends(current_user.require("admin"))])
async def stats() -> dict[str, int]: ...
```

`CurrentUser` is a FastAPI security scheme (an HTTP bearer scheme), so
``/docs`` shows the Authorize button and every route using it is marked as
secured, without a second dependency on the hit path. Errors map to HTTP
here and nowhere else: a bad token is 401 with ``WWW-Authenticate: Bearer
error="invalid_token"`` (RFC 6750), a missing role 403, a failing user loader
(or an unreachable JWKS) 503.

This module deliberately has no ``from __future__ import annotations``:
FastAPI reads the annotations of ``__call__`` at runtime, and a callable
instance gives it no module globals to resolve strings against.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar, overload

from fastapi import Depends, HTTPException, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from wa_perfkit.auth.bearer import bearer_token
from wa_perfkit.auth.roles import RolesOf
from wa_perfkit.auth.user_cache import CachedUser
from wa_perfkit.auth.verifier import JWTVerifier
from wa_perfkit.cache import Cache
from wa_perfkit.errors import AuthError, Forbidden
from wa_perfkit.integrations._http_errors import error_response
from wa_perfkit.observe import show_cache_details
from wa_perfkit.policy import Duration
from wa_perfkit.secret import Secret

__all__ = ["CurrentUser", "auth_http_error", "cached_user"]

U = TypeVar("U")


class CurrentUser(SecurityBase, Generic[U]):
    """
    A FastAPI dependency (and OpenAPI bearer scheme) that yields the request's user.

    Args:
        core: the framework-agnostic `CachedUser`.
        cookie: also read the token from this cookie when there is no
            ``Authorization`` header (e.g. ``"sb-access-token"``).
        scheme_name: the security scheme's name in OpenAPI.
    """

    def __init__(
        self, core: CachedUser[U], *, cookie: str | None = None, scheme_name: str = "bearer"
    ) -> None:
        self.core = core
        self.cookie = cookie
        self.model = HTTPBearerModel(bearerFormat="JWT", description="Supabase access token")
        self.scheme_name = scheme_name
        self._resolve = core.aresolve

    def __repr__(self) -> str:
        return f"CurrentUser({self.core!r}, cookie={self.cookie!r})"

    async def __call__(self, request: Request) -> U:
        """
        Dependency: the authenticated user.

        Args:
            request: the incoming request (injected by FastAPI).

        Returns:
            What the loader returned for the token's user (cached).

        Raises:
            HTTPException: 401 bad or missing token, 503 user store unavailable.
        """
        try:
            user = await self._resolve(self.token(request))
        except AuthError as exc:
            raise auth_http_error(exc) from None
        show_cache_details()  # an authenticated request may see its cache outcomes
        return user

    def token(self, request: Request) -> str:
        """
        Return the raw bearer token of ``request`` (for `revoke` on logout).

        Raises:
            InvalidToken: no usable token in the header or cookie.
        """
        cookie = request.cookies.get(self.cookie) if self.cookie else None
        return bearer_token(request.headers.get("authorization"), cookie)

    def require(self, *roles: str, any_of: bool = False) -> Callable[..., Awaitable[U]]:
        """
        Return a dependency giving the user only if they hold ``roles`` (else 403).

        Args:
            roles: the required roles (all of them, unless ``any_of``).
            any_of: one of ``roles`` is enough.

        Returns:
            A dependency usable as ``Depends(current_user.require("admin"))``.
        """
        core = self.core

        async def user_with_roles(user: Annotated[Any, Depends(self)]) -> U:
            try:
                core.check_roles(user, roles, any_of=any_of)
            except Forbidden as exc:
                raise auth_http_error(exc) from None
            return user  # type: ignore[no-any-return]

        return user_with_roles

    async def invalidate_user(self, user_id: str) -> int:
        """
        Drop ``user_id``'s cached entries on every instance (role change, ban).

        Returns:
            How many entries were removed.
        """
        return await self.core.ainvalidate_user(user_id)

    async def revoke(self, token: str) -> bool:
        """
        Refuse ``token`` everywhere from now on (logout).

        Returns:
            True if the revocation was stored.
        """
        return await self.core.arevoke(token)


def auth_http_error(exc: AuthError) -> HTTPException:
    """
    Map an auth error to its HTTP answer: 401 (+ challenge), 403, or 503.

    Args:
        exc: the refusal.

    Returns:
        The `HTTPException` to raise.
    """
    answer = error_response(exc)
    return HTTPException(answer.status, answer.detail, answer.headers or None)


@overload
def cached_user(
    loader: Callable[[dict[str, Any]], Awaitable[U | None]],
    *,
    verifier: JWTVerifier,
    cache: Cache,
    ttl: Duration = ...,
    roles: RolesOf[U] | None = ...,
    cookie: str | None = ...,
    server_key: str | bytes | Secret | None = ...,
    prefix: str = ...,
    lock: bool = ...,
    scheme_name: str = ...,
) -> CurrentUser[U]: ...


@overload
def cached_user(
    loader: Callable[[dict[str, Any]], U | None],
    *,
    verifier: JWTVerifier,
    cache: Cache,
    ttl: Duration = ...,
    roles: RolesOf[U] | None = ...,
    cookie: str | None = ...,
    server_key: str | bytes | Secret | None = ...,
    prefix: str = ...,
    lock: bool = ...,
    scheme_name: str = ...,
) -> CurrentUser[U]: ...


def cached_user(
    loader: Callable[[dict[str, Any]], Any],
    *,
    verifier: JWTVerifier,
    cache: Cache,
    ttl: Duration = 120.0,
    roles: RolesOf[Any] | None = None,
    cookie: str | None = None,
    server_key: str | bytes | Secret | None = None,
    prefix: str = "auth",
    lock: bool = False,
    scheme_name: str = "bearer",
) -> CurrentUser[Any]:
    """
    Build the ``Depends(current_user)`` object.

    Args:
        loader: ``loader(claims) -> user``, sync (run in a worker thread) or async;
            None means "no such user" (401).
        verifier: the token verifier.
        cache: the cache holding users (memory or Redis).
        ttl: the most seconds a user stays cached (always capped by the token's ``exp``).
        roles: ``roles(user) -> roles`` for `CurrentUser.require`; defaults to ``user.roles``.
        cookie: a cookie to read the token from when there is no header.
        server_key: the fingerprint HMAC key; required with a shared (Redis) cache.
        prefix: key segment separating several user caches on one cache.
        lock: verify and load once across processes on a miss (a Redis lock per token).
        scheme_name: the OpenAPI security scheme name.

    Returns:
        The dependency object.

    Raises:
        ConfigurationError: see `CachedUser`.
    """
    core = CachedUser(
        loader, verifier=verifier, cache=cache, ttl=ttl, server_key=server_key,
        prefix=prefix, roles=roles, lock=lock,
    )
    return CurrentUser(core, cookie=cookie, scheme_name=scheme_name)
