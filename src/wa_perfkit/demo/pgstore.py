"""
`PostgresStore`: the demo's queries on a real Postgres, through an asyncpg pool.

``wa-perfkit demo --dsn URL`` works in a Postgres schema of its own,
``wa_perfkit_demo_<random>``: it creates the schema and the reference inbox
tables in it, copies the built-in sample data in, runs with ``search_path``
set to that schema alone, and drops the schema (``CASCADE``) at the end,
whatever happened. Tables of the same names elsewhere in the database (the
user's own inbox) are never read nor written. It needs the ``CREATE``
privilege on the database.

The DSN is first opened with `wa_perfkit.sql.connect`, so a bad DSN or an
unreachable server fails exactly as ``wa-perfkit sql`` does: one
`SQLToolkitError` whose message never repeats the DSN.

The pool is opened with ``statement_cache_size=0``: behind a transaction-mode
pooler (Supabase's Supavisor on port 6543, PgBouncer) consecutive statements
may run on different server connections, where asyncpg's named prepared
statements do not exist. On a direct connection it costs a little parsing.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
import uuid
from typing import Any

from wa_perfkit.demo.data import Row, SampleData
from wa_perfkit.demo.store import bot_profile_of
from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.pagination import KeysetQuery
from wa_perfkit.sql import ExitCode, connect, schema_sql
from wa_perfkit.sql._connect import translate_errors

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
        raise SQLToolkitError(
            "--dsn needs asyncpg: pip install 'wa-perfkit[postgres]'", ExitCode.MISSING_DRIVER
        ) from None


def _create_schema(dsn: str, schema: str) -> None:
    with connect(dsn) as conn, translate_errors():
        conn.execute(f'CREATE SCHEMA "{schema}"')


def _drop_schema(dsn: str, schema: str) -> None:
    with connect(dsn) as conn, translate_errors():
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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

    Build it with `open`; `aclose` closes the pool and drops the demo's schema.

    Args:
        pool: an asyncpg pool whose ``search_path`` is ``schema``.
        data: the sample data that was inserted.
        latency: seconds added before each query (0 for a real remote database).
        dsn: where ``schema`` lives (to drop it).
        schema: the demo's own schema.
    """

    def __init__(self, pool: Any, data: SampleData, latency: float, dsn: str, schema: str):
        self.pool = pool
        self.data = data
        self.latency = latency
        self.queries = 0
        self.dsn = dsn
        self.schema = schema
        self._account_ids = [row["id"] for row in data.accounts]
        self._user_ids = [row["user_id"] for row in data.users]

    @classmethod
    async def open(cls, dsn: str, data: SampleData, latency: float) -> PostgresStore:
        """
        Create the demo's schema and tables, and insert ``data``.

        Args:
            dsn: a ``postgresql://`` URL.
            data: the rows to insert.
            latency: seconds added before each query.

        Returns:
            The store.

        Raises:
            SQLToolkitError: the DSN is malformed, the server cannot be reached, the
                role may not create a schema, or a driver is missing (``exit_code``
                as for ``wa-perfkit sql``).
        """
        asyncpg = _asyncpg()
        schema = f"wa_perfkit_demo_{secrets.token_hex(4)}"
        await asyncio.to_thread(_create_schema, dsn, schema)
        try:
            pool = await _create_pool(asyncpg, dsn, schema)
            store = cls(pool, data, latency, dsn, schema)
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(schema_sql())
                    await store._insert(conn)
            except BaseException:
                await pool.close()
                raise
        except BaseException:
            await asyncio.to_thread(_drop_schema, dsn, schema)
            raise
        return store

    async def _insert(self, conn: Any) -> None:
        data = self.data
        for table, columns in _COPY_COLUMNS.items():
            rows = getattr(data, table.removeprefix("whatsapp_").removeprefix("app_"))
            records = [tuple(row[column] for column in columns) for row in rows]
            await conn.copy_records_to_table(table, records=records, columns=list(columns))
        role_ids = dict(await conn.fetch(
            "INSERT INTO app_roles (name) SELECT unnest($1::text[]) RETURNING name, id",
            [role["name"] for role in data.roles],
        ))
        names = {role["id"]: role["name"] for role in data.roles}
        await conn.executemany(
            "INSERT INTO app_user_roles (user_id, role_id, account_id) VALUES ($1, $2, $3)",
            [
                (link["user_id"], role_ids[names[link["role_id"]]], link["account_id"])
                for link in data.user_roles
            ],
        )

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
        Close the pool, then drop the demo's schema with everything in it.
        """
        try:
            await self.pool.close()
        finally:
            await asyncio.to_thread(_drop_schema, self.dsn, self.schema)


async def _create_pool(asyncpg: Any, dsn: str, schema: str) -> Any:
    try:
        return await asyncpg.create_pool(
            dsn, min_size=1, max_size=10, statement_cache_size=0, command_timeout=30,
            server_settings={"search_path": f'"{schema}"'},
        )
    except (ValueError, TypeError, asyncpg.InterfaceError) as exc:
        # libpq accepted the DSN, asyncpg does not (it reads postgresql:// URLs only).
        raise SQLToolkitError(
            "the demo needs the DSN as a postgresql:// URL (not shown: it may contain a "
            f"password); asyncpg refused it ({type(exc).__name__})",
            ExitCode.CONNECTION,
        ) from None
    except (OSError, asyncpg.PostgresError) as exc:
        raise SQLToolkitError(
            f"cannot connect with asyncpg: {type(exc).__name__}", ExitCode.CONNECTION
        ) from None
