"""
The demo's inbox API: six routes of a WhatsApp inbox, on FastAPI, over an `InboxStore`.

What each route costs in database round trips, without and with the cache:

```text
route                        queries (caching off)          with the cache (hit)
/auth/me                     user + roles             = 2   0
/accounts                    user + roles + accounts  = 3   0
/admin/users                 user + roles + listing   = 3   1 (listing not cached)
/conversations               user + roles + page      = 3   1 (pages not cached)
/messages/{conversation_id}  user + roles + conv x2
                             + page                   = 5   1
/bot/profile                 user + roles + profile   = 3   0
```

The user comes from `cached_user` (a hit costs no signature check and no
query); conversation by id, accounts and bot profile from `ttl_repository`;
pages are keyset-paginated with `wa_perfkit.pagination` and always read
fresh. ``POST /messages/{conversation_id}`` stores a message and invalidates
its conversation, so a read after a write is never stale.

With ``cache=None`` the same routes run as an uncached app would:
verify the token and load the user on every request, call the repository
functions directly (no cache, no single-flight sharing one load between
concurrent requests).

No ``from __future__ import annotations`` here: FastAPI evaluates the route
annotations, whose ``Depends`` targets are local to `create_app`.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from wa_perfkit.auth.bearer import bearer_token
from wa_perfkit.auth.roles import check_roles
from wa_perfkit.auth.verifier import JWTVerifier
from wa_perfkit.cache import Cache
from wa_perfkit.demo.data import Row
from wa_perfkit.demo.store import InboxStore
from wa_perfkit.errors import AuthError, InvalidCursor, InvalidToken
from wa_perfkit.integrations.fastapi.auth import auth_http_error, cached_user
from wa_perfkit.pagination import CONVERSATIONS, MESSAGES, Paginator
from wa_perfkit.repository import ttl_repository
from wa_perfkit.secret import Secret

__all__ = ["NewMessage", "create_app"]

User = dict[str, Any]


class NewMessage(BaseModel):
    """
    Body of ``POST /messages/{conversation_id}``.
    """

    text: str


def _can_see(user: User, account_id: Any) -> bool:
    return "admin" in user["roles"] or str(account_id) in user["accounts"]


class VerifyAndLoad:
    """
    Caching off: verify the token and load the user on every request (an app without a cache).

    Args:
        loader: ``loader(claims) -> user or None``.
        verifier: checks the token.
    """

    def __init__(
        self, loader: Callable[[dict[str, Any]], Awaitable[User | None]], verifier: JWTVerifier
    ) -> None:
        self.loader = loader
        self.verifier = verifier

    async def __call__(self, request: Request) -> User:
        """Dependency: the authenticated user (401 otherwise)."""
        try:
            token = bearer_token(request.headers.get("authorization"))
            user = await self.loader(await self.verifier.averify(token))
            if user is None:
                raise InvalidToken("no such user")
        except AuthError as exc:
            raise auth_http_error(exc) from None
        return user

    def require(self, *roles: str) -> Callable[..., Awaitable[User]]:
        """Return a dependency giving the user only if they hold ``roles`` (else 403)."""

        async def user_with_roles(user: Annotated[User, Depends(self)]) -> User:
            try:
                check_roles(user["roles"], roles)
            except AuthError as exc:
                raise auth_http_error(exc) from None
            return user

        return user_with_roles


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _repository(cache: Cache | None, ttl: float, name: str) -> Callable[[F], F]:
    """
    ``ttl_repository`` on ``cache``, or no decorator at all when caching is off.
    """

    def decorate(func: F) -> F:
        if cache is None:
            return func
        return cast(F, ttl_repository(ttl=ttl, cache=cache, name=name)(func))

    return decorate


def create_app(
    store: InboxStore,
    cache: Cache | None,
    *,
    verifier: JWTVerifier,
    cursor_secret: str | bytes | Secret,
    server_key: str | bytes | Secret | None = None,
) -> FastAPI:
    """
    Build the inbox API over ``store``, caching in ``cache``.

    Args:
        store: where the rows live (each method is one round trip).
        cache: the cache of users and repository functions; None gives the
            "caching off" app.
        verifier: checks bearer tokens.
        cursor_secret: the HMAC key of pagination cursors.
        server_key: the token-fingerprint key (required on Redis).

    Returns:
        The application; ``app.state.cached`` holds the cached functions (for stats).
    """

    async def load_user(claims: dict[str, Any]) -> User | None:
        row = await store.user(claims["sub"])
        if row is None or not row["is_active"]:
            return None
        links = await store.user_roles(claims["sub"])
        return {
            "id": str(row["user_id"]), "email": row["email"],
            "display_name": row["display_name"],
            "roles": sorted({link["role"] for link in links}),
            "accounts": sorted({str(link["account_id"]) for link in links if link["account_id"]}),
        }

    current_user: Any = (
        VerifyAndLoad(load_user, verifier)
        if cache is None
        else cached_user(load_user, verifier=verifier, cache=cache, ttl=120, server_key=server_key)
    )
    CurrentUser = Annotated[User, Depends(current_user)]
    conversations = Paginator(CONVERSATIONS, cursor_secret, default_page_size=20)
    messages = Paginator(MESSAGES, cursor_secret, default_page_size=30)

    @_repository(cache, 60, "demo.get_conversation_by_id")
    async def get_conversation_by_id(conversation_id: str) -> Row | None:
        return await store.conversation(conversation_id)

    @_repository(cache, 300, "demo.get_accounts")
    async def get_accounts(account_ids: list[str] | None) -> list[Row]:
        return await store.accounts(account_ids)

    @_repository(cache, 300, "demo.get_bot_profile")
    async def get_bot_profile(account_id: str) -> Row | None:
        return await store.bot_profile(account_id)

    async def visible_conversation(conversation_id: str, user: CurrentUser) -> Row:
        conversation = await get_conversation_by_id(conversation_id)
        if conversation is None or not _can_see(user, conversation["account_id"]):
            raise HTTPException(404, "no such conversation")
        return conversation

    app = FastAPI(title="wa_perfkit demo inbox")
    app.state.cached = {
        "get_conversation_by_id": get_conversation_by_id,
        "get_accounts": get_accounts,
        "get_bot_profile": get_bot_profile,
    }
    app.state.current_user = current_user

    @app.exception_handler(InvalidCursor)
    async def bad_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
        return JSONResponse({"detail": "invalid cursor"}, status_code=400)

    @app.get("/auth/me")
    async def me(user: CurrentUser) -> User:
        return user

    @app.get("/accounts")
    async def accounts(user: CurrentUser) -> list[Row]:
        scope = None if "admin" in user["roles"] else user["accounts"]
        return await get_accounts(scope)

    @app.get("/admin/users", dependencies=[Depends(current_user.require("admin"))])
    async def admin_users() -> list[Row]:
        return await store.users_with_roles()

    @app.get("/conversations")
    async def list_conversations(
        user: CurrentUser,
        account_id: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        account = account_id or (user["accounts"] or [None])[0]
        if account is None or not _can_see(user, account):
            raise HTTPException(403, "not your account")
        query = conversations.query(cursor, page_size=limit, scope=account)
        page = conversations.page(await store.conversations_page(account, query), query)
        return {"items": page.items, "next": page.next_cursor, "prev": page.prev_cursor}

    @app.get("/messages/{conversation_id}")
    async def list_messages(
        conversation: Annotated[Row, Depends(visible_conversation)],
        cursor: str | None = None,
    ) -> dict[str, Any]:
        # A typical service layer reads the conversation again for the header:
        # with the cache that second read is a hit too.
        header = await get_conversation_by_id(str(conversation["id"]))
        query = messages.query(cursor, scope=conversation["id"])
        page = messages.page(await store.messages_page(str(conversation["id"]), query), query)
        return {"conversation": header, "items": page.items, "next": page.next_cursor}

    @app.post("/messages/{conversation_id}", status_code=201)
    async def send_message(
        body: NewMessage, conversation: Annotated[Row, Depends(visible_conversation)]
    ) -> Row:
        conversation_id = str(conversation["id"])
        message = await store.add_message(conversation_id, body.text)
        if cache is not None:  # after the write, before answering: the next read reloads
            await cast(Any, get_conversation_by_id).invalidate(conversation_id)
        return message

    @app.get("/bot/profile")
    async def bot_profile(user: CurrentUser, account_id: str | None = None) -> Row:
        account = account_id or (user["accounts"] or [None])[0]
        if account is None or not _can_see(user, account):
            raise HTTPException(403, "not your account")
        profile = await get_bot_profile(account)
        if profile is None:
            raise HTTPException(404, "no such account")
        return profile

    return app
