"""
Flask adapter of `wa_perfkit.auth.CachedUser`: ``@current_user.required``.

```python
current_user = cached_user(load_user, verifier=verifier, cache=cache, ttl=120,
                           server_key=app.config["FINGERPRINT_KEY"])

@app.get("/auth/me")
@current_user.required
def me():
    return current_user.user            # also on flask.g.wa_perfkit_user

@app.get("/admin")
@current_user.required(roles=["admin"])
def admin(): ...
```

The user lives on ``flask.g``, which Flask keeps per request context, so the
threaded development server and multi-threaded WSGI servers never see each
other's users. Refusals abort with a JSON body: 401 with
``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750), 403 for a
missing role, 503 when the user loader fails. Flask is sync, so the loader
is a plain function; invalidation and revocation are the sync twins.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, overload

import flask
from flask import Request, Response, abort, g
from werkzeug.local import LocalProxy

from wa_perfkit.auth.bearer import bearer_token
from wa_perfkit.auth.roles import RolesOf
from wa_perfkit.auth.user_cache import CachedUser
from wa_perfkit.auth.verifier import JWTVerifier
from wa_perfkit.cache import Cache
from wa_perfkit.errors import AuthError
from wa_perfkit.integrations._http_errors import JSON, error_response
from wa_perfkit.observe import show_cache_details
from wa_perfkit.policy import Duration
from wa_perfkit.secret import Secret

__all__ = ["G_ATTRIBUTE", "FlaskCurrentUser", "auth_response", "cached_user"]

U = TypeVar("U")
F = TypeVar("F", bound=Callable[..., Any])

#: The ``flask.g`` attribute holding the authenticated user.
G_ATTRIBUTE = "wa_perfkit_user"


class FlaskCurrentUser(Generic[U]):
    """
    A view decorator that authenticates the request, and the request's user.

    Args:
        core: the framework-agnostic `CachedUser` (with a sync loader).
        cookie: also read the token from this cookie when there is no header.
    """

    def __init__(self, core: CachedUser[U], *, cookie: str | None = None) -> None:
        self.core = core
        self.cookie = cookie
        #: A proxy to the current request's user (``from ... import user`` style).
        self.proxy: U = LocalProxy(lambda: self.user)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FlaskCurrentUser({self.core!r}, cookie={self.cookie!r})"

    @overload
    def required(self, view: F, /) -> F: ...

    @overload
    def required(
        self, view: None = None, /, *, roles: Iterable[str] = ..., any_of: bool = ...
    ) -> Callable[[F], F]: ...

    def required(
        self, view: F | None = None, /, *, roles: Iterable[str] = (), any_of: bool = False
    ) -> F | Callable[[F], F]:
        """
        Decorate a view so that it runs only for an authenticated user (with ``roles``).

        Usable bare (``@current_user.required``) or called
        (``@current_user.required(roles=["admin"])``).

        Args:
            view: the view, when used bare.
            roles: the required roles (all of them, unless ``any_of``).
            any_of: one of ``roles`` is enough.

        Returns:
            The decorated view, or a decorator.
        """
        required = tuple(roles)

        def decorate(func: F) -> F:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                self.authenticate(required, any_of=any_of)
                return func(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate(view) if view is not None else decorate

    def authenticate(self, roles: tuple[str, ...] = (), *, any_of: bool = False) -> U:
        """
        Authenticate the current request, store the user on ``flask.g`` and return it.

        Raises:
            werkzeug.exceptions.HTTPException: 401, 403 or 503 (via ``abort``).
        """
        try:
            user = self.core.resolve(self.token())
            if roles:
                self.core.check_roles(user, roles, any_of=any_of)
        except AuthError as exc:
            abort(auth_response(exc))
        setattr(g, G_ATTRIBUTE, user)
        show_cache_details()  # an authenticated request may see its cache outcomes
        return user

    def token(self, request: Request | None = None) -> str:
        """
        Return the raw bearer token of a request (for `revoke` on logout).

        The same call as on FastAPI, ``current_user.token(request)``; without an
        argument, the current request.

        Args:
            request: the request; the current one (``flask.request``) when None.

        Returns:
            The token from the ``Authorization`` header, else from the cookie.

        Raises:
            InvalidToken: no usable token in the header or cookie.
        """
        req = request if request is not None else flask.request
        cookie = req.cookies.get(self.cookie) if self.cookie else None
        return bearer_token(req.headers.get("Authorization"), cookie)

    @property
    def user(self) -> U:
        """
        The user authenticated for this request.

        Raises:
            RuntimeError: the view is not decorated with `required`.
        """
        try:
            return getattr(g, G_ATTRIBUTE)  # type: ignore[no-any-return]
        except AttributeError:
            raise RuntimeError("no authenticated user: decorate the view with .required") from None

    def invalidate_user(self, user_id: str) -> int:
        """
        Drop ``user_id``'s cached entries on every instance (role change, ban).

        Returns:
            How many entries were removed.
        """
        return self.core.invalidate_user(user_id)

    def revoke(self, token: str) -> bool:
        """
        Refuse ``token`` everywhere from now on (logout).

        Returns:
            True if the revocation was stored.
        """
        return self.core.revoke(token)


def auth_response(exc: AuthError) -> Response:
    """
    Build the JSON response of an auth refusal: 401 (+ challenge), 403 or 503.

    Args:
        exc: the refusal.

    Returns:
        The response to abort with.
    """
    answer = error_response(exc)
    return Response(answer.body, answer.status, answer.headers, content_type=JSON)


def cached_user(
    loader: Callable[[dict[str, Any]], U | None],
    *,
    verifier: JWTVerifier,
    cache: Cache,
    ttl: Duration = 120.0,
    roles: RolesOf[U] | None = None,
    cookie: str | None = None,
    server_key: str | bytes | Secret | None = None,
    prefix: str = "auth",
    lock: bool = False,
) -> FlaskCurrentUser[U]:
    """
    Build the ``@current_user.required`` object for Flask.

    Args:
        loader: ``loader(claims) -> user`` (sync); None means "no such user" (401).
        verifier: the token verifier.
        cache: the cache holding users (memory or Redis).
        ttl: the most seconds a user stays cached (always capped by the token's ``exp``).
        roles: ``roles(user) -> roles`` for role checks; defaults to ``user.roles``.
        cookie: a cookie to read the token from when there is no header.
        server_key: the fingerprint HMAC key; required with a shared (Redis) cache.
        prefix: key segment separating several user caches on one cache.
        lock: verify and load once across processes on a miss (a Redis lock per token).

    Returns:
        The decorator object.

    Raises:
        ConfigurationError: see `CachedUser`.
    """
    core: CachedUser[U] = CachedUser(
        loader, verifier=verifier, cache=cache, ttl=ttl, server_key=server_key,
        prefix=prefix, roles=roles, lock=lock,
    )
    return FlaskCurrentUser(core, cookie=cookie)
