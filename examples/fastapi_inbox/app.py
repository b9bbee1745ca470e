"""
The seed's inbox API on FastAPI, asyncpg and wa_perfkit.

Routes: ``/auth/me``, ``/accounts``, ``/admin/users``, ``/conversations``
(keyset-paginated), ``/messages/{conversation_id}`` (GET a page, POST a
message), ``/bot/profile``, the WhatsApp webhook (``GET``/``POST /webhook``),
``/metrics`` (Prometheus). Every response carries ``Server-Timing`` (cache
hit/miss, database time).

Run it (see README.md)::

    uvicorn examples.fastapi_inbox.app:app

(No ``from __future__ import annotations``: FastAPI evaluates the route
annotations, whose ``Depends`` targets are local to `create_app`.)
"""

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from wa_perfkit import Cache, MemoryBackend, RedisBackend
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.errors import InvalidCursor
from wa_perfkit.integrations.asgi import ServerTimingMiddleware
from wa_perfkit.integrations.fastapi.auth import cached_user
from wa_perfkit.integrations.fastapi.metrics import add_metrics_route
from wa_perfkit.integrations.fastapi.webhook import WhatsAppWebhook
from wa_perfkit.integrations.prometheus import CacheCollector
from wa_perfkit.pagination import CONVERSATIONS, MESSAGES, Paginator
from wa_perfkit.whatsapp import WebhookDelivery, adedupe, aforget

from .queries import Queries, Row
from .settings import Settings

User = dict[str, Any]


class NewMessage(BaseModel):
    text: str


def make_cache(settings: Settings) -> Cache:
    """
    Redis when ``WA_PERFKIT_REDIS_URL`` (or ``REDIS_URL``) is set (shared by every
    instance), else process memory.
    """
    backend = RedisBackend(settings.redis_url) if settings.redis_url else MemoryBackend(100_000)
    return Cache(backend, namespace="inbox")


def make_verifier(settings: Settings) -> JWTVerifier:
    """Supabase tokens: the legacy HS256 secret, or the project's JWKS."""
    if settings.jwt_secret:
        return JWTVerifier(secret=settings.jwt_secret, audience="authenticated")
    if not settings.supabase_url:
        raise RuntimeError("set SUPABASE_JWT_SECRET or SUPABASE_URL")
    issuer = settings.supabase_url.rstrip("/") + "/auth/v1"
    return JWTVerifier(
        jwks_url=issuer + "/.well-known/jwks.json", audience="authenticated", issuer=issuer
    )


def create_app(settings: Settings, cache: Cache | None = None) -> FastAPI:
    """
    Build the app; the asyncpg pool opens and closes with the app's lifespan.

    Args:
        settings: the configuration.
        cache: the cache to use (default: from ``settings``).
    """
    cache = cache or make_cache(settings)
    state: dict[str, Queries] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # statement_cache_size=0: required behind Supavisor/PgBouncer in transaction
        # mode (a prepared statement may not exist on the next server connection).
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=settings.pool_max,
            statement_cache_size=0,
        )
        state["db"] = Queries(pool, cache)
        try:
            yield
        finally:
            await pool.close()
            metrics.close()
            await cache.aclose()

    def db() -> Queries:
        return state["db"]

    async def load_user(claims: dict[str, Any]) -> User | None:
        return await db().user(claims["sub"])

    current_user = cached_user(
        load_user, verifier=make_verifier(settings), cache=cache, ttl=120,
        server_key=settings.fingerprint_key,
    )
    CurrentUser = Annotated[User, Depends(current_user)]
    conversations = Paginator(CONVERSATIONS, settings.cursor_key, default_page_size=20)
    messages = Paginator(MESSAGES, settings.cursor_key, default_page_size=30)
    webhook = WhatsAppWebhook(
        app_secret=settings.wa_app_secret.split(","), verify_token=settings.wa_verify_token
    )
    registry = CollectorRegistry()
    metrics = CacheCollector([cache], registry=registry)

    app = FastAPI(title="wa_perfkit inbox", lifespan=lifespan)
    app.add_middleware(ServerTimingMiddleware, metrics=metrics)
    add_metrics_route(app, registry)
    app.state.current_user = current_user
    app.state.db = db

    @app.exception_handler(InvalidCursor)
    async def bad_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
        # A client's cursor is input: a tampered, truncated or foreign one is a 400.
        return JSONResponse({"detail": "invalid cursor"}, status_code=400)

    def can_see(user: User, account_id: Any) -> bool:
        return "admin" in user["roles"] or str(account_id) in user["accounts"]

    def account_of(user: User, account_id: str | None) -> str:
        account = account_id or (user["accounts"] or [None])[0]
        if account is None or not can_see(user, account):
            raise HTTPException(403, "not your account")
        return str(account)

    async def visible_conversation(conversation_id: str, user: CurrentUser) -> Row:
        conversation = await db().conversation(conversation_id)
        if conversation is None or not can_see(user, conversation["account_id"]):
            raise HTTPException(404, "no such conversation")
        return conversation

    @app.get("/auth/me")
    async def me(user: CurrentUser) -> User:
        return user

    @app.get("/accounts")
    async def accounts(user: CurrentUser) -> list[Row]:
        return await db().accounts(None if "admin" in user["roles"] else user["accounts"])

    @app.get("/admin/users", dependencies=[Depends(current_user.require("admin"))])
    async def admin_users() -> list[Row]:
        return await db().users_with_roles()

    admin_only = [Depends(current_user.require("admin"))]

    @app.post("/admin/users/{user_id}/active", dependencies=admin_only)
    async def set_active(user_id: str, active: bool) -> dict[str, bool]:
        if not await db().set_user_active(user_id, active):
            raise HTTPException(404, "no such user")
        # Every instance drops the user's cached entries now, not in 2 minutes.
        await current_user.invalidate_user(user_id)
        return {"active": active}

    @app.get("/conversations")
    async def list_conversations(
        user: CurrentUser,
        account_id: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        query = conversations.query(cursor, page_size=limit, scope=account_of(user, account_id))
        page = conversations.page(await db().page(query), query)
        return {"items": page.items, "next": page.next_cursor, "prev": page.prev_cursor}

    @app.get("/messages/{conversation_id}")
    async def list_messages(
        conversation: Annotated[Row, Depends(visible_conversation)], cursor: str | None = None
    ) -> dict[str, Any]:
        query = messages.query(cursor, scope=conversation["id"])
        page = messages.page(await db().page(query), query)
        return {"conversation": conversation, "items": page.items, "next": page.next_cursor}

    @app.post("/messages/{conversation_id}", status_code=201)
    async def send_message(
        body: NewMessage, conversation: Annotated[Row, Depends(visible_conversation)]
    ) -> Row:
        # Real code calls the WhatsApp Cloud API here; the row is what the inbox shows.
        return await db().add_message(str(conversation["id"]), "outbound", body.text)

    @app.get("/bot/profile")
    async def bot_profile(user: CurrentUser, account_id: str | None = None) -> Row:
        profile = await db().bot_profile(account_of(user, account_id))
        if profile is None:
            raise HTTPException(404, "no such account")
        return profile

    app.add_api_route("/webhook", webhook.handshake, methods=["GET"], include_in_schema=False)

    @app.post("/webhook")
    async def receive(
        delivery: Annotated[WebhookDelivery, Depends(webhook.delivery)],
    ) -> dict[str, int]:
        stored = 0
        for message in delivery.messages:
            if not await adedupe(cache, message.id):
                continue  # a redelivery, handled here or on another instance
            try:
                account = await db().account_by_phone(message.phone_number_id or "")
                if account is None or not account["is_active"]:
                    continue
                conversation = await db().conversation_for_number(
                    account["id"], message.sender or "unknown"
                )
                await db().add_message(
                    str(conversation["id"]), "inbound", message.text or "", message.id
                )
            except Exception:
                await aforget(cache, message.id)  # let Meta's retry process it again
                raise
            stored += 1
        return {"messages": stored}

    return app


def _app_from_env() -> FastAPI:
    with contextlib.suppress(KeyError):
        return create_app(Settings.from_env())
    raise RuntimeError("missing environment variables: see examples/fastapi_inbox/README.md")


def __getattr__(name: str) -> Any:
    # `uvicorn examples.fastapi_inbox.app:app` builds the app from the environment;
    # importing the module (tests) builds nothing.
    if name == "app":
        return _app_from_env()
    raise AttributeError(name)
