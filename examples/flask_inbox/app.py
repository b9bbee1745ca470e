"""
The core inbox routes on Flask and psycopg 3 (sync): the thread-per-request path.

``/auth/me``, ``/accounts``, ``/conversations`` (keyset-paginated),
``/messages/<conversation_id>`` (GET a page, POST a message) and
``/bot/profile``; the user through ``cached_user`` (Flask adapter), the
conversation by id, accounts and bot profile through sync `ttl_repository`
functions, ``Server-Timing`` and ``/metrics`` through `FlaskTiming`.

Run it (see README.md)::

    flask --app examples.flask_inbox.app:from_env run
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, abort, jsonify, request
from prometheus_client import CollectorRegistry
from psycopg.rows import dict_row

from wa_perfkit import Cache, MemoryBackend, RedisBackend, ttl_repository
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.errors import InvalidCursor
from wa_perfkit.integrations.flask.auth import cached_user
from wa_perfkit.integrations.flask.timing import FlaskTiming, add_metrics_route
from wa_perfkit.integrations.prometheus import CacheCollector
from wa_perfkit.pagination import CONVERSATIONS, MESSAGES, Paginator

Row = dict[str, Any]


class Database:
    """
    One psycopg connection per thread (Flask serves each request on one thread).

    Use psycopg_pool's ``ConnectionPool`` in production; with a transaction-mode
    pooler (Supavisor, PgBouncer) pass ``prepare_threshold=None``.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Row]] = []

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Row]]:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(
                self.dsn, autocommit=True, row_factory=dict_row, prepare_threshold=None
            )
            self._local.conn = conn
            self._opened.append(conn)
        yield conn

    def close(self) -> None:
        """Close every connection opened (at shutdown)."""
        for conn in self._opened:
            conn.close()

    def fetch(self, sql: str, *params: Any) -> list[Row]:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def one(self, sql: str, *params: Any) -> Row | None:
        rows = self.fetch(sql, *params)
        return rows[0] if rows else None


def create_app(dsn: str, cache: Cache, *, jwt_secret: str, fingerprint_key: str,
               cursor_key: str) -> Flask:
    """
    Build the Flask app.

    Args:
        dsn: the Postgres DSN (libpq string or URL).
        cache: the cache (Redis shared by every instance in production).
        jwt_secret: the Supabase (legacy HS256) JWT secret.
        fingerprint_key: the HMAC key of token fingerprints.
        cursor_key: the HMAC key of pagination cursors.
    """
    db = Database(dsn)

    def load_user(claims: dict[str, Any]) -> Row | None:
        user = db.one("SELECT user_id, email, is_active FROM app_users WHERE user_id = %s",
                      claims["sub"])
        if user is None or not user["is_active"]:
            return None
        roles = db.fetch("SELECT r.name, ur.account_id FROM app_user_roles ur "
                         "JOIN app_roles r ON r.id = ur.role_id WHERE ur.user_id = %s",
                         claims["sub"])
        return {
            "id": str(user["user_id"]), "email": user["email"],
            "roles": sorted({role["name"] for role in roles}),
            "accounts": sorted({str(role["account_id"]) for role in roles if role["account_id"]}),
        }

    verifier = JWTVerifier(secret=jwt_secret, audience="authenticated")
    current_user = cached_user(load_user, verifier=verifier, cache=cache, ttl=120,
                               server_key=fingerprint_key)

    @ttl_repository(ttl=60, cache=cache, name="flask.conversation")
    def get_conversation_by_id(conversation_id: str) -> Row | None:
        return db.one("SELECT * FROM conversations WHERE id = %s", conversation_id)

    @ttl_repository(ttl=300, cache=cache, name="flask.accounts")
    def get_accounts(account_ids: list[str] | None) -> list[Row]:
        if account_ids is None:
            return db.fetch("SELECT * FROM whatsapp_accounts ORDER BY name")
        return db.fetch("SELECT * FROM whatsapp_accounts WHERE id = ANY(%s::uuid[]) "
                        "ORDER BY name", account_ids)

    @ttl_repository(ttl=300, cache=cache, name="flask.bot_profile")
    def get_bot_profile(account_id: str) -> Row | None:
        account = db.one("SELECT * FROM whatsapp_accounts WHERE id = %s", account_id)
        if account is None:
            return None
        return {"account_id": str(account["id"]), "name": f"{account['name']} bot",
                "enabled": account["is_active"]}

    conversations = Paginator(CONVERSATIONS, cursor_key, default_page_size=20)
    messages = Paginator(MESSAGES, cursor_key, default_page_size=30)
    registry = CollectorRegistry()
    app = Flask(__name__)
    app.extensions["inbox_db"] = db
    FlaskTiming(app, metrics=CacheCollector([cache], registry=registry))
    add_metrics_route(app, registry)

    def user() -> Row:
        return current_user.user  # type: ignore[no-any-return]

    def account_of(account_id: str | None) -> str:
        me = user()
        account = account_id or (me["accounts"] or [None])[0]
        if account is None or ("admin" not in me["roles"] and account not in me["accounts"]):
            abort(403)
        return str(account)

    def visible_conversation(conversation_id: str) -> Row:
        conversation = get_conversation_by_id(conversation_id)
        if conversation is None:
            abort(404)
        account_of(str(conversation["account_id"]))
        return conversation

    @app.errorhandler(InvalidCursor)
    def bad_cursor(exc: InvalidCursor) -> Any:
        return jsonify(detail="invalid cursor"), 400

    @app.get("/auth/me")
    @current_user.required
    def me() -> Any:
        return jsonify(user())

    @app.get("/accounts")
    @current_user.required
    def accounts() -> Any:
        me = user()
        return jsonify(get_accounts(None if "admin" in me["roles"] else me["accounts"]))

    @app.get("/conversations")
    @current_user.required
    def list_conversations() -> Any:
        scope = account_of(request.args.get("account_id"))
        limit = request.args.get("limit", type=int)
        query = conversations.query(request.args.get("cursor"), page_size=limit, scope=scope,
                                    placeholder="psycopg")
        page = conversations.page(db.fetch(query.sql, *query.params), query)
        return jsonify(items=page.items, next=page.next_cursor, prev=page.prev_cursor)

    @app.get("/messages/<conversation_id>")
    @current_user.required
    def list_messages(conversation_id: str) -> Any:
        conversation = visible_conversation(conversation_id)
        query = messages.query(request.args.get("cursor"), scope=conversation["id"],
                               placeholder="psycopg")
        page = messages.page(db.fetch(query.sql, *query.params), query)
        return jsonify(conversation=conversation, items=page.items, next=page.next_cursor)

    @app.post("/messages/<conversation_id>")
    @current_user.required
    def send_message(conversation_id: str) -> Any:
        conversation = visible_conversation(conversation_id)
        text = str((request.get_json(silent=True) or {}).get("text", ""))
        with db.connection() as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO messages (conversation_id, direction, content, status) "
                "VALUES (%s, 'outbound', %s, 'sent') RETURNING *", (conversation["id"], text),
            ).fetchone()
            conn.execute("UPDATE conversations SET last_message = %s, updated_at = now() "
                         "WHERE id = %s", (text, conversation["id"]))
        # After the commit: the next read of the conversation reloads it.
        get_conversation_by_id.invalidate(conversation_id)
        return jsonify(row), 201

    @app.get("/bot/profile")
    @current_user.required
    def bot_profile() -> Any:
        profile = get_bot_profile(account_of(request.args.get("account_id")))
        return jsonify(profile) if profile else abort(404)

    return app


def from_env() -> Flask:
    """
    Build the app from DATABASE_URL, WA_PERFKIT_REDIS_URL (or REDIS_URL),
    SUPABASE_JWT_SECRET and the two keys.
    """
    redis_url = os.environ.get("WA_PERFKIT_REDIS_URL") or os.environ.get("REDIS_URL")
    backend = RedisBackend(redis_url) if redis_url else MemoryBackend(maxsize=100_000)
    return create_app(
        os.environ["DATABASE_URL"], Cache(backend, namespace="inbox"),
        jwt_secret=os.environ["SUPABASE_JWT_SECRET"],
        fingerprint_key=os.environ["FINGERPRINT_KEY"], cursor_key=os.environ["CURSOR_KEY"],
    )
