"""
Keyset pagination against real rows: 10,000 conversations, many sharing a timestamp.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

# The rest of tests/pagination needs no database; these tests need the postgres extra.
asyncpg = pytest.importorskip("asyncpg", reason="pip install 'wa-perfkit[postgres]'")
pytest.importorskip("psycopg", reason="pip install 'wa-perfkit[postgres]'")
from psycopg.rows import dict_row  # noqa: E402 - after the importorskip

from wa_perfkit import sql  # noqa: E402
from wa_perfkit.errors import InvalidCursor  # noqa: E402
from wa_perfkit.pagination import CONVERSATIONS, MESSAGES, Paginator  # noqa: E402

ACCOUNT = uuid.UUID("00000000-0000-0000-0000-00000000feed")
KEY = "pagination-test-key-0123456789abcdef"
ORDER = "SELECT id FROM conversations WHERE account_id = %s ORDER BY updated_at DESC, id DESC"


@pytest.fixture(scope="module", name="expected")
def expected_fixture(seeded: Any) -> list[uuid.UUID]:
    """
    Every conversation id of the pagination account, in display order.
    """
    with sql.connect(seeded.dsn) as conn:
        return [row[0] for row in conn.execute(ORDER, (ACCOUNT,)).fetchall()]


def _walk(conn: Any, paginator: Paginator, token: str | None, direction: str) -> list[list[Any]]:
    pages = []
    while True:
        query = paginator.query(token, page_size=37, scope=ACCOUNT, placeholder="psycopg")
        page = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
        pages.append([row["id"] for row in page.items])
        token = page.next_cursor if direction == "next" else page.prev_cursor
        if token is None:
            return pages
        assert len(pages) < 1_000, "pagination does not terminate"


class TestKeysetPagination:
    def test_the_data_has_many_rows_sharing_one_updated_at(self, seeded: Any) -> None:
        """10,000 conversations, 2,000 of them with exactly the same updated_at."""
        with sql.connect(seeded.dsn) as conn:
            total, biggest = conn.execute(
                "SELECT sum(n), max(n) FROM (SELECT count(*) AS n FROM conversations"
                " WHERE account_id = %s GROUP BY updated_at) AS groups",
                (ACCOUNT,),
            ).fetchone()
        assert (total, biggest) == (10_000, 2_000)

    def test_forwards_every_row_exactly_once_in_order(
        self, seeded: Any, expected: list[uuid.UUID]
    ) -> None:
        """Pages of 37 following next cursors return the 10,000 rows once, in order."""
        paginator = Paginator(CONVERSATIONS, KEY)
        with sql.connect(seeded.dsn) as conn:
            conn.row_factory = dict_row
            pages = _walk(conn, paginator, None, "next")
        assert [row for page in pages for row in page] == expected
        assert all(len(page) == 37 for page in pages[:-1])

    def test_backwards_every_row_exactly_once_in_order(
        self, seeded: Any, expected: list[uuid.UUID]
    ) -> None:
        """From the last page, prev cursors walk back to the first row, each row once."""
        paginator = Paginator(CONVERSATIONS, KEY)
        with sql.connect(seeded.dsn) as conn:
            conn.row_factory = dict_row
            last = _walk(conn, paginator, None, "next")
            # The prev cursor of the last page, rebuilt from its first row.
            query = paginator.query(None, page_size=37, scope=ACCOUNT, placeholder="psycopg")
            token = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
            assert token.prev_cursor is None  # the first page has no previous page
            tail = _tail_page_prev_cursor(conn, paginator, len(last))
            pages = _walk(conn, paginator, tail, "prev")
        backwards = [row for page in reversed(pages) for row in page] + last[-1]
        assert backwards == expected

    def test_the_seed_cursor_loses_rows_ours_does_not(
        self, seeded: Any, expected: list[uuid.UUID]
    ) -> None:
        """The seed's `updated_at < $cursor` skips rows sharing the boundary timestamp."""
        seen: list[uuid.UUID] = []
        with sql.connect(seeded.dsn) as conn:
            cursor = None
            while True:
                rows = conn.execute(
                    "SELECT id, updated_at FROM conversations WHERE account_id = %s"
                    " AND (%s::timestamptz IS NULL OR updated_at < %s)"
                    " ORDER BY updated_at DESC LIMIT 37",
                    (ACCOUNT, cursor, cursor),
                ).fetchall()
                if not rows:
                    break
                seen += [row[0] for row in rows]
                cursor = rows[-1][1]
        assert len(set(seen)) < len(expected)
        assert len(expected) - len(set(seen)) >= 1_900  # most of the 2,000 tied rows vanish

    async def test_asyncpg_placeholders_walk_the_same_rows(
        self, seeded: Any, expected: list[uuid.UUID]
    ) -> None:
        """The $n form, executed by asyncpg, returns the same sequence."""
        paginator = Paginator(CONVERSATIONS, KEY, max_page_size=500)
        conn = await asyncpg.connect(_asyncpg_dsn(seeded.dsn), statement_cache_size=0)
        try:
            seen: list[uuid.UUID] = []
            token = None
            while True:
                query = paginator.query(token, page_size=500, scope=ACCOUNT)
                page = paginator.page(await conn.fetch(query.sql, *query.params), query)
                seen += [row["id"] for row in page.items]
                token = page.next_cursor
                if token is None:
                    break
        finally:
            await conn.close()
        assert seen == expected

    def test_messages_keyset_uses_the_quoted_timestamp_column(self, seeded: Any) -> None:
        """The messages keyset pages on "timestamp" (a keyword) without error."""
        paginator = Paginator(MESSAGES, KEY)
        with sql.connect(seeded.dsn) as conn:
            conn.row_factory = dict_row
            conversation = conn.execute("SELECT conversation_id FROM messages LIMIT 1").fetchone()
            query = paginator.query(
                None, page_size=3, scope=conversation["conversation_id"], placeholder="psycopg"
            )
            page = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
            second = paginator.query(
                page.next_cursor,
                page_size=3,
                scope=conversation["conversation_id"],
                placeholder="psycopg",
            )
            rows = conn.execute(second.sql, second.params).fetchall()
        assert len(page.items) == 3
        assert rows and rows[0]["id"] not in {row["id"] for row in page.items}

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
            lambda t: t[: len(t) // 2],
            lambda t: "not base64 at all!",
            lambda t: "A" * 1_000_000,
            lambda t: (
                Paginator(CONVERSATIONS, "another-key-0123456789abcdef")
                .query(None, scope=ACCOUNT)
                .sql
            ),
        ],
        ids=["bit-flip", "truncated", "not-base64", "one-megabyte", "sql-text"],
    )
    def test_a_tampered_cursor_is_invalid_before_any_sql(self, seeded: Any, mutate: Any) -> None:
        """Tampered cursors raise InvalidCursor; the database never sees them."""
        paginator = Paginator(CONVERSATIONS, KEY)
        with sql.connect(seeded.dsn) as conn:
            conn.row_factory = dict_row
            query = paginator.query(None, page_size=5, scope=ACCOUNT, placeholder="psycopg")
            token = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
            assert token.next_cursor is not None
            with pytest.raises(InvalidCursor):
                paginator.query(mutate(token.next_cursor), scope=ACCOUNT, placeholder="psycopg")

    def test_a_cursor_signed_with_another_key_is_invalid(self, seeded: Any) -> None:
        """A genuine cursor from another deployment's key is refused."""
        other = Paginator(CONVERSATIONS, "another-key-0123456789abcdef")
        with sql.connect(seeded.dsn) as conn:
            conn.row_factory = dict_row
            query = other.query(None, page_size=5, scope=ACCOUNT, placeholder="psycopg")
            page = other.page(conn.execute(query.sql, query.params).fetchall(), query)
        assert page.next_cursor is not None
        with pytest.raises(InvalidCursor):
            Paginator(CONVERSATIONS, KEY).query(page.next_cursor, scope=ACCOUNT)


def _tail_page_prev_cursor(conn: Any, paginator: Paginator, pages: int) -> str:
    """Walk forwards to the last page and return its prev cursor."""
    token = None
    for _ in range(pages):
        query = paginator.query(token, page_size=37, scope=ACCOUNT, placeholder="psycopg")
        page = paginator.page(conn.execute(query.sql, query.params).fetchall(), query)
        if page.next_cursor is None:
            assert page.prev_cursor is not None
            return page.prev_cursor
        token = page.next_cursor
    raise AssertionError("never reached the last page")


def _asyncpg_dsn(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    return (
        f"postgresql://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', 5432)}/{params['dbname']}"
    )
