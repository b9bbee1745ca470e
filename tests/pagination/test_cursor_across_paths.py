"""
A cursor works on every path of its listing, and a reader is never stranded.

PostgREST returns rows as JSON, so a cursor made on that path carries strings
(``"2025-06-01T12:00:00.12345+00:00"``, ``"3f2b..."``); ``row_to_json`` gives
exactly what PostgREST sends, from the same server.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

# The rest of tests/pagination needs no database; these tests need the postgres extra.
asyncpg = pytest.importorskip("asyncpg", reason="pip install 'wa-perfkit[postgres]'")
pytest.importorskip("psycopg", reason="pip install 'wa-perfkit[postgres]'")
from psycopg.rows import dict_row  # noqa: E402 - after the importorskip

from wa_perfkit import sql  # noqa: E402
from wa_perfkit.errors import InvalidCursor  # noqa: E402
from wa_perfkit.pagination import CONVERSATIONS, Keyset, Paginator, postgrest_query  # noqa: E402

ACCOUNT = uuid.UUID("00000000-0000-0000-0000-00000000feed")
KEY = "across-paths-cursor-key-0123456789"
_JSON_PAGE = "SELECT row_to_json(c)::text FROM ({sql}) AS c"


def _asyncpg_dsn(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    return (
        f"postgresql://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', 5432)}/{params['dbname']}"
    )


def _postgrest_rows(conn: Any, paginator: Paginator, token: str | None, size: int) -> Any:
    """Rows as PostgREST would return them: JSON values (strings for timestamps, UUIDs)."""
    query = paginator.query(token, page_size=size, scope=ACCOUNT, placeholder="psycopg")
    rows = conn.execute(_JSON_PAGE.format(sql=query.sql).encode(), query.params).fetchall()
    return paginator.page([json.loads(text) for (text,) in rows], query)


class TestAcrossDrivers:
    async def test_a_postgrest_cursor_gives_the_right_page_on_asyncpg(self, seeded: Any) -> None:
        """PostgREST page 1's next cursor, on asyncpg, returns the rows psycopg returns."""
        paginator = Paginator(CONVERSATIONS, KEY)
        with sql.connect(seeded.dsn) as conn:
            first = _postgrest_rows(conn, paginator, None, 25)
            assert isinstance(first.items[-1]["updated_at"], str)
            conn.row_factory = dict_row
            query = paginator.query(
                first.next_cursor, page_size=25, scope=ACCOUNT, placeholder="psycopg"
            )
            expected = [row["id"] for row in conn.execute(query.sql, query.params).fetchall()]
        link = await asyncpg.connect(_asyncpg_dsn(seeded.dsn), statement_cache_size=0)
        try:
            query = paginator.query(first.next_cursor, page_size=25, scope=ACCOUNT)
            rows = await link.fetch(query.sql, *query.params)
            back = paginator.query(
                paginator.page(rows, query).prev_cursor, page_size=25, scope=ACCOUNT
            )
            previous = await link.fetch(back.sql, *back.params)
        finally:
            await link.close()
        assert [row["id"] for row in rows][:25] == expected[:25]
        # ... and the asyncpg page's prev cursor leads back to PostgREST's page 1.
        assert [str(row["id"]) for row in reversed(previous[:25])] == [
            item["id"] for item in first.items
        ]

    def test_an_asyncpg_cursor_works_on_the_postgrest_path(self, seeded: Any) -> None:
        """A cursor holding datetime and UUID renders as PostgREST's quoted filter."""
        paginator = Paginator(CONVERSATIONS, KEY)
        with sql.connect(seeded.dsn) as conn:
            conn.row_factory = dict_row
            query = paginator.query(None, page_size=10, scope=ACCOUNT, placeholder="psycopg")
            page = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
        rest = postgrest_query(paginator, page.next_cursor, page_size=10, scope=ACCOUNT)
        assert rest.or_filter is not None and str(page.items[-1]["id"]) in rest.or_filter

    def test_another_listings_cursor_is_invalid_before_any_sql(self) -> None:
        """A contact listing's cursor on the account listing: InvalidCursor, never a DataError."""
        other = Paginator(Keyset("conversations", "updated_at", scope_column="contact_id"), KEY)
        query = other.query(None, page_size=1, scope=uuid.uuid4())
        token = other.page([{"updated_at": "x", "id": "y"}] * 2, query).next_cursor
        with pytest.raises(InvalidCursor):
            Paginator(CONVERSATIONS, KEY).query(token, scope=ACCOUNT)


class TestPrevAfterDeletion:
    def test_a_reader_whose_earlier_rows_were_deleted_gets_back_to_the_first_page(
        self, databases: Any
    ) -> None:
        """Page 2's prev cursor after page 1 was deleted: empty page, then the new first page."""
        dsn = databases.create(schema=True)
        account = uuid.uuid4()
        paginator = Paginator(CONVERSATIONS, KEY)
        with sql.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO whatsapp_accounts (id, name, phone_number_id) VALUES (%s, 'a', '1')",
                (account,),
            )
            conn.execute(
                "INSERT INTO conversations (account_id, client_number, updated_at)"
                " SELECT %s, '+1', now() - n * interval '1 minute' FROM generate_series(1, 30) n",
                (account,),
            )
            conn.row_factory = dict_row

            def fetch(token: str | None) -> Any:
                query = paginator.query(token, page_size=10, scope=account, placeholder="psycopg")
                return paginator.page(conn.execute(query.sql, query.params).fetchall(), query)

            first = fetch(None)
            second = fetch(first.next_cursor)
            conn.execute(
                "DELETE FROM conversations WHERE id = ANY(%s)",
                ([row["id"] for row in first.items],),
            )
            stranded = fetch(second.prev_cursor)
            assert stranded.items == [] and stranded.prev_cursor is None
            assert stranded.next_cursor is not None
            again = fetch(stranded.next_cursor)
        assert [row["id"] for row in again.items] == [row["id"] for row in second.items]
        assert again.next_cursor is not None
