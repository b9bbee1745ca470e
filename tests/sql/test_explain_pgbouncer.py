"""
The hot queries and keyset pages through a real PgBouncer in transaction mode.

Behind a transaction pooler, consecutive statements of one client may run on
different server connections, so a prepared statement made on one is unknown
on the next: asyncpg needs ``statement_cache_size=0`` and psycopg
``prepare_threshold=None``, as docs/postgres.md says. Each query runs more
times than psycopg's default threshold (5) and than PgBouncer's pool size.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from wa_perfkit.pagination import CONVERSATIONS, Paginator
from wa_perfkit.sql.explain import hot_queries

ACCOUNT = uuid.UUID("00000000-0000-0000-0000-00000000feed")
KEY = "pgbouncer-cursor-key-0123456789abcdef"
_ROUNDS = 8


def _url(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    return (
        f"postgresql://{params.get('user', 'postgres')}@{params['host']}:{params['port']}"
        f"/{params['dbname']}"
    )


def _samples(dsn: str) -> list[tuple[str, Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [
            (query.sql, conn.execute(query.sample.encode()).fetchone()[0])  # type: ignore[index]
            for query in hot_queries(conn)
        ]


def _walk_psycopg(conn: Any, paginator: Paginator) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    token = None
    for _ in range(200):
        query = paginator.query(token, page_size=500, scope=ACCOUNT, placeholder="psycopg")
        page = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
        seen += [row["id"] for row in page.items]
        token = page.next_cursor
        if token is None:
            return seen
    raise AssertionError("pagination did not end")


class TestThroughPgBouncer:
    def test_psycopg_with_prepare_threshold_none(
        self, seeded: Any, pgbouncer: Callable[[str], str]
    ) -> None:
        """Hot queries (8 rounds) and a full keyset walk, psycopg through the pooler."""
        samples = _samples(seeded.dsn)
        paginator = Paginator(CONVERSATIONS, KEY, max_page_size=500)
        with psycopg.connect(
            pgbouncer(seeded.dsn), autocommit=True, prepare_threshold=None
        ) as conn:
            for _ in range(_ROUNDS):
                for statement, value in samples:
                    assert conn.execute(statement.encode(), (value,)).fetchall()
            conn.row_factory = dict_row  # type: ignore[assignment]
            seen = _walk_psycopg(conn, paginator)
        assert len(seen) == len(set(seen)) == 10_000

    async def test_asyncpg_with_statement_cache_off(
        self, seeded: Any, pgbouncer: Callable[[str], str]
    ) -> None:
        """The same with asyncpg: $n queries, no statement cache, every row once."""
        samples = [(_dollars(statement), value) for statement, value in _samples(seeded.dsn)]
        paginator = Paginator(CONVERSATIONS, KEY, max_page_size=500)
        pool = await asyncpg.create_pool(
            _url(pgbouncer(seeded.dsn)), min_size=2, max_size=4, statement_cache_size=0
        )
        try:
            for _ in range(_ROUNDS):
                for statement, value in samples:
                    assert await pool.fetch(statement, value)
            seen: list[uuid.UUID] = []
            token = None
            for _ in range(200):
                query = paginator.query(token, page_size=500, scope=ACCOUNT)
                page = paginator.page(await pool.fetch(query.sql, *query.params), query)
                seen += [row["id"] for row in page.items]
                token = page.next_cursor
                if token is None:
                    break
        finally:
            await pool.close()
        assert len(seen) == len(set(seen)) == 10_000


def _dollars(statement: str) -> str:
    return statement.replace("%s", "$1")
