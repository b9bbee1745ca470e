"""
`PostgresStore`: the demo's queries on a real Postgres, through an asyncpg pool.

``wa-perfkit demo --dsn URL`` creates the reference schema if it is missing
(``CREATE TABLE IF NOT EXISTS``), copies the built-in sample data in, runs,
and deletes exactly the rows it inserted (its accounts, with their contacts,
conversations and messages by cascade; its users; the roles it created).
The sample rows have fixed ids, so rows left by an interrupted run are
removed before inserting again. Use a scratch database anyway.

The pool is opened with ``statement_cache_size=0``: behind a transaction-mode
pooler (Supabase's Supavisor on port 6543, PgBouncer) consecutive statements
may run on different server connections, where asyncpg's named prepared
statements do not exist. On a direct connection it costs a little parsing.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from typing import Any

from wa_perfkit.demo.data import Row, SampleData
from wa_perfkit.demo.store import bot_profile_of
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.pagination import KeysetQuery
from wa_perfkit.sql import schema_sql

__all__ = ["PostgresStore"]

_COPY_COLUMNS = {
    "whatsapp_accounts": ("id", "name", "phone_number_id", "waba_id", "is_active", "created_at"),
    "app_users": ("user_id", "email", "display_name", "is_active", "created_at"),
    "contacts": ("id", "account_id", "whatsapp_number", "display_name", "created_at"),
    "conversations": (
        "id", "account_id", "contact_id", "client_number", "status", "unread_count",
        "bot_enabled", "last_message", "created_at", "updated_at",
    ),
    "messages": (
        "id", "conversation_id", "direction", "content_type", "content", "wa_message_id",
        "status", "timestamp",
    ),
}
_USERS_WITH_ROLES = """
SELECT u.user_id, u.email, u.display_name, u.is_active, u.created_at,
       coalesce(array_agg(r.name ORDER BY r.name) FILTER (WHERE r.name IS NOT NULL), '{}')
         AS roles
FROM app_users u
LEFT JOIN app_user_roles ur ON ur.user_id = u.user_id
LEFT JOIN app_roles r ON r.id = ur.role_id
WHERE u.user_id = ANY($1::uuid[])
GROUP BY u.user_id
ORDER BY u.email
"""
_ADD_MESSAGE = """
WITH message AS (
  INSERT INTO messages (conversation_id, direction, content, status)
  VALUES ($1, 'outbound', $2, 'sent')
  RETURNING *
), bumped AS (
  UPDATE conversations SET last_message = $2, updated_at = now() WHERE id = $1
)
SELECT * FROM message
"""


def _asyncpg() -> Any:
    try:
        return importlib.import_module("asyncpg")
    except ImportError:
        raise ConfigurationError(
            "--dsn needs asyncpg: pip install 'wa-perfkit[postgres]'"
        ) from None


def _plain(record: Any) -> Row:
    # asyncpg returns its own UUID subclass; the cache's JSON codec (rightly strict
    # about types) takes the standard uuid.UUID, which equals it.
    return {
        name: uuid.UUID(bytes=value.bytes) if isinstance(value, uuid.UUID) else value
        for name, value in record.items()
    }


class PostgresStore:
    """
    The inbox queries on Postgres (one round trip each), plus an optional simulated latency.

    Build it with `open`; `aclose` removes the demo's rows and closes the pool.

    Args:
        pool: an asyncpg pool.
        data: the sample data that was inserted.
        latency: seconds added before each query (0 for a real remote database).
        created_roles: ids of the ``app_roles`` rows this run inserted.
    """

    def __init__(self, pool: Any, data: SampleData, latency: float, created_roles: list[Any]):
        self.pool = pool
        self.data = data
        self.latency = latency
        self.queries = 0
        self._created_roles = created_roles
        self._account_ids = [row["id"] for row in data.accounts]
        self._user_ids = [row["user_id"] for row in data.users]

    @classmethod
    async def open(cls, dsn: str, data: SampleData, latency: float) -> PostgresStore:
        """
        Connect, create the schema if missing, and insert ``data``.

        Args:
            dsn: a ``postgresql://`` URL or libpq DSN.
            data: the rows to insert.
            latency: seconds added before each query.

        Returns:
            The store.
        """
        pool = await _asyncpg().create_pool(
            dsn, min_size=1, max_size=10, statement_cache_size=0, command_timeout=30
        )
        store = cls(pool, data, latency, [])
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(schema_sql())
                await store._delete_rows(conn)
                store._created_roles = await store._insert(conn)
        except BaseException:
            await pool.close()
            raise
        return store

    async def _insert(self, conn: Any) -> list[Any]:
        data = self.data
        for table, columns in _COPY_COLUMNS.items():
            rows = getattr(data, table.removeprefix("whatsapp_").removeprefix("app_"))
            records = [tuple(row[column] for column in columns) for row in rows]
            await conn.copy_records_to_table(table, records=records, columns=list(columns))
        created = []
        for role in data.roles:
            inserted = await conn.fetchval(
                "INSERT INTO app_roles (name) VALUES ($1) ON CONFLICT (name) DO NOTHING "
                "RETURNING id", role["name"],
            )
            if inserted is not None:
                created.append(inserted)
        role_ids = dict(await conn.fetch("SELECT name, id FROM app_roles"))
        names = {role["id"]: role["name"] for role in data.roles}
        await conn.executemany(
            "INSERT INTO app_user_roles (user_id, role_id, account_id) VALUES ($1, $2, $3)",
            [
                (link["user_id"], role_ids[names[link["role_id"]]], link["account_id"])
                for link in data.user_roles
            ],
        )
        return created

    async def _delete_rows(self, conn: Any) -> None:
        await conn.execute(
            "DELETE FROM whatsapp_accounts WHERE id = ANY($1::uuid[])", self._account_ids
        )
        await conn.execute("DELETE FROM app_users WHERE user_id = ANY($1::uuid[])", self._user_ids)

    async def _fetch(self, sql: str, *params: Any) -> list[Row]:
        self.queries += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        return [_plain(row) for row in await self.pool.fetch(sql, *params)]

    async def _one(self, sql: str, *params: Any) -> Row | None:
        rows = await self._fetch(sql, *params)
        return rows[0] if rows else None

    async def user(self, user_id: str) -> Row | None:
        return await self._one(
            "SELECT user_id, email, display_name, is_active FROM app_users WHERE user_id = $1",
            user_id,
        )

    async def user_roles(self, user_id: str) -> list[Row]:
        return await self._fetch(
            "SELECT r.name AS role, ur.account_id FROM app_user_roles ur "
            "JOIN app_roles r ON r.id = ur.role_id WHERE ur.user_id = $1",
            user_id,
        )

    async def accounts(self, account_ids: list[str] | None) -> list[Row]:
        return await self._fetch(
            "SELECT id, name, phone_number_id, waba_id, is_active, created_at "
            "FROM whatsapp_accounts WHERE id = ANY($1::uuid[]) ORDER BY name",
            self._account_ids if account_ids is None else account_ids,
        )

    async def users_with_roles(self) -> list[Row]:
        return await self._fetch(_USERS_WITH_ROLES, self._user_ids)

    async def conversation(self, conversation_id: str) -> Row | None:
        return await self._one("SELECT * FROM conversations WHERE id = $1", conversation_id)

    async def conversations_page(self, account_id: str, query: KeysetQuery) -> list[Row]:
        return await self._fetch(query.sql, *query.params)

    async def messages_page(self, conversation_id: str, query: KeysetQuery) -> list[Row]:
        return await self._fetch(query.sql, *query.params)

    async def bot_profile(self, account_id: str) -> Row | None:
        account = await self._one("SELECT * FROM whatsapp_accounts WHERE id = $1", account_id)
        return bot_profile_of(account) if account else None

    async def add_message(self, conversation_id: str, text: str) -> Row:
        row = await self._one(_ADD_MESSAGE, conversation_id, text)
        assert row is not None  # INSERT ... RETURNING always returns the row
        return row

    async def aclose(self) -> None:
        """
        Delete the demo's rows (and the roles it created), then close the pool.
        """
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await self._delete_rows(conn)
                await conn.execute(
                    "DELETE FROM app_roles WHERE id = ANY($1::uuid[])", self._created_roles
                )
        finally:
            await self.pool.close()
