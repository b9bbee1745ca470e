"""
The inbox's queries on an asyncpg pool, and the cached ones (`ttl_repository`).

Read through the cache: conversation by id (60 s), a user's accounts (5 min),
an account's bot profile (5 min), the account behind a ``phone_number_id``
(5 min). Pages of conversations and messages always read the database (they
change with every message) with keyset pagination. Every write invalidates
what it changed before returning, so a read after a write is never stale.
"""

from __future__ import annotations

import uuid
from typing import Any

from wa_perfkit import Cache, ttl_repository
from wa_perfkit.pagination import KeysetQuery

Row = dict[str, Any]


def plain(record: Any) -> Row:
    """
    Turn an asyncpg record into a dict the cache can store.

    asyncpg returns its own ``UUID`` subclass; the cache's JSON codec takes the
    standard ``uuid.UUID`` (equal to it), so ids are converted once here.
    """
    return {
        name: uuid.UUID(bytes=value.bytes) if isinstance(value, uuid.UUID) else value
        for name, value in record.items()
    }


class Queries:
    """
    One method per query; the cached ones are `ttl_repository` functions.

    Args:
        pool: an asyncpg pool (``statement_cache_size=0`` behind a pooler).
        cache: where cached results live.
    """

    def __init__(self, pool: Any, cache: Cache) -> None:
        self.pool = pool
        cached = ttl_repository
        self.conversation = cached(ttl=60, cache=cache, name="conversation")(self._conversation)
        self.accounts = cached(ttl=300, cache=cache, name="accounts")(self._accounts)
        self.bot_profile = cached(ttl=300, cache=cache, name="bot_profile")(self._bot_profile)
        self.account_by_phone = cached(ttl=300, cache=cache, name="account_by_phone")(
            self._account_by_phone
        )

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """Run a query and return its rows as dicts."""
        return [plain(row) for row in await self.pool.fetch(sql, *params)]

    async def one(self, sql: str, *params: Any) -> Row | None:
        """Run a query and return its first row, or None."""
        rows = await self.fetch(sql, *params)
        return rows[0] if rows else None

    async def user(self, user_id: str) -> Row | None:
        """The user and its roles: the roles-cache column when migrated, else a join."""
        user = await self.one(
            "SELECT user_id, email, display_name, is_active FROM app_users WHERE user_id = $1",
            user_id,
        )
        if user is None or not user["is_active"]:
            return None
        roles = await self.fetch(
            "SELECT r.name, ur.account_id FROM app_user_roles ur "
            "JOIN app_roles r ON r.id = ur.role_id WHERE ur.user_id = $1",
            user_id,
        )
        return {
            "id": str(user["user_id"]), "email": user["email"],
            "display_name": user["display_name"],
            "roles": sorted({role["name"] for role in roles}),
            "accounts": sorted({str(role["account_id"]) for role in roles if role["account_id"]}),
        }

    async def _conversation(self, conversation_id: str) -> Row | None:
        return await self.one("SELECT * FROM conversations WHERE id = $1", conversation_id)

    async def _accounts(self, account_ids: list[str] | None) -> list[Row]:
        if account_ids is None:
            return await self.fetch("SELECT * FROM whatsapp_accounts ORDER BY name")
        return await self.fetch(
            "SELECT * FROM whatsapp_accounts WHERE id = ANY($1::uuid[]) ORDER BY name", account_ids
        )

    async def _bot_profile(self, account_id: str) -> Row | None:
        account = await self.one("SELECT * FROM whatsapp_accounts WHERE id = $1", account_id)
        if account is None:
            return None
        return {
            "account_id": str(account["id"]), "name": f"{account['name']} bot",
            "phone_number_id": account["phone_number_id"], "enabled": account["is_active"],
        }

    async def _account_by_phone(self, phone_number_id: str) -> Row | None:
        return await self.one(
            "SELECT id, name, is_active FROM whatsapp_accounts WHERE phone_number_id = $1",
            phone_number_id,
        )

    async def users_with_roles(self) -> list[Row]:
        """The admin listing (uncached: it is the roles denormalisation's job)."""
        return await self.fetch(
            "SELECT u.user_id, u.email, u.is_active, coalesce(array_agg(r.name ORDER BY r.name) "
            "FILTER (WHERE r.name IS NOT NULL), '{}') AS roles FROM app_users u "
            "LEFT JOIN app_user_roles ur ON ur.user_id = u.user_id "
            "LEFT JOIN app_roles r ON r.id = ur.role_id GROUP BY u.user_id ORDER BY u.email"
        )

    async def page(self, query: KeysetQuery) -> list[Row]:
        """Run a keyset page query built by a `wa_perfkit.pagination.Paginator`."""
        return await self.fetch(query.sql, *query.params)

    async def add_message(
        self, conversation_id: str, direction: str, text: str, wa_message_id: str | None = None
    ) -> Row:
        """Store a message, bump its conversation, then invalidate the cached conversation."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = plain(await conn.fetchrow(
                "INSERT INTO messages (conversation_id, direction, content, wa_message_id, status) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING *",
                conversation_id, direction, text, wa_message_id,
                "received" if direction == "inbound" else "sent",
            ))
            await conn.execute(
                "UPDATE conversations SET last_message = $2, updated_at = now(), "
                "unread_count = unread_count + $3 WHERE id = $1",
                conversation_id, text, 1 if direction == "inbound" else 0,
            )
        # After the commit: a reader that refills the entry now sees the new row.
        await self.conversation.invalidate(str(conversation_id))
        return row

    async def conversation_for_number(self, account_id: Any, client_number: str) -> Row:
        """The open conversation of a client on an account, created if missing (webhook)."""
        row = await self.one(
            "SELECT * FROM conversations WHERE account_id = $1 AND client_number = $2 "
            "ORDER BY updated_at DESC LIMIT 1",
            account_id, client_number,
        )
        if row is not None:
            return row
        created = await self.one(
            "INSERT INTO conversations (account_id, client_number) VALUES ($1, $2) RETURNING *",
            account_id, client_number,
        )
        assert created is not None
        return created

    async def set_user_active(self, user_id: str, active: bool) -> bool:
        """Activate or deactivate a user; True if the user exists."""
        status = await self.pool.execute(
            "UPDATE app_users SET is_active = $2 WHERE user_id = $1", user_id, active
        )
        return bool(status != "UPDATE 0")
