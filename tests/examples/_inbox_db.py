"""
A throwaway inbox database for the example apps: reference schema + the demo's sample rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
import psycopg

from tests.postgres_services import Databases, asyncpg_url
from wa_perfkit import sql
from wa_perfkit.demo.data import SampleData, sample_data

JWT_SECRET = "example-jwt-secret-of-at-least-32-bytes!"
_TABLES = (
    ("whatsapp_accounts", "accounts"), ("app_users", "users"), ("app_roles", "roles"),
    ("app_user_roles", "user_roles"), ("contacts", "contacts"),
    ("conversations", "conversations"), ("messages", "messages"),
)


@dataclass(frozen=True)
class InboxDB:
    """The database's DSNs and what was inserted."""

    conninfo: str
    url: str
    data: SampleData

    def token(self, user_id: str, ttl: int = 600) -> str:
        """A Supabase-shaped HS256 access token for ``user_id``."""
        now = int(time.time())
        claims = {"sub": user_id, "aud": "authenticated", "role": "authenticated",
                  "iat": now, "exp": now + ttl}
        return jwt.encode(claims, JWT_SECRET, algorithm="HS256")

    def agent(self) -> tuple[str, str]:
        """(user id, account id) of an agent."""
        link = next(link for link in self.data.user_roles if link["account_id"])
        return link["user_id"], link["account_id"]


def create_inbox_db(databases: Databases, conversations: int = 60) -> InboxDB:
    """Create a database with the schema, the migrations and a small inbox."""
    conninfo = databases.create(schema=True, migrate=True)
    data = sample_data(conversations=conversations, agents=3)
    with sql.connect(conninfo) as conn, conn.transaction():
        for table, attribute in _TABLES:
            rows = getattr(data, attribute)
            columns = list(rows[0])
            placeholders = ", ".join(["%s"] * len(columns))
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
                    [tuple(row[c] for c in columns) for row in rows],
                )
    return InboxDB(conninfo, asyncpg_url(conninfo), data)


def count(conninfo: str, query: str) -> int:
    """Run a count query."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])
