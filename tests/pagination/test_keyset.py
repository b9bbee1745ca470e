"""
Keyset pagination without a database: the SQL a Paginator builds, pages, listing identities.

Against real rows: test_keyset_postgres.py; cursors: test_cursor.py; PostgREST: test_postgrest.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pagination._cursors import ACCOUNT, KEY, ROW_ID, WHEN
from wa_perfkit.errors import ConfigurationError, InvalidCursor, InvalidPageSize
from wa_perfkit.pagination import (
    CONVERSATIONS,
    MESSAGES,
    Cursor,
    CursorCodec,
    Keyset,
    Paginator,
    postgrest_query,
)


class TestPaginatorSql:
    def test_first_page_asyncpg(self) -> None:
        """First page: scope filter, full order, LIMIT page size + 1."""
        query = Paginator(CONVERSATIONS, KEY).query(None, page_size=37, scope=ACCOUNT)
        assert query.sql == (
            'SELECT * FROM "conversations" WHERE "account_id" = $1'
            ' ORDER BY "updated_at" DESC, "id" DESC LIMIT $2'
        )
        assert query.params == (ACCOUNT, 38)

    def test_next_page_psycopg_uses_a_row_comparison(self, token: str) -> None:
        """A next cursor becomes (updated_at, id) < (%s, %s), cast from text, descending."""
        query = Paginator(CONVERSATIONS, KEY).query(
            token, page_size=10, scope=ACCOUNT, placeholder="psycopg"
        )
        assert query.sql == (
            'SELECT * FROM "conversations" WHERE "account_id" = %s'
            ' AND ("updated_at", "id") < (CAST(%s::text AS timestamptz), CAST(%s::text AS uuid))'
            ' ORDER BY "updated_at" DESC, "id" DESC LIMIT %s'
        )
        assert query.params == (ACCOUNT, WHEN.isoformat(), str(ROW_ID), 11)

    def test_prev_page_flips_comparison_and_order(self, codec: CursorCodec) -> None:
        """A prev cursor reads upwards: > and ASC; page() flips the rows back."""
        token = codec.encode(Cursor(MESSAGES.name, "prev", WHEN, ROW_ID))
        query = Paginator(MESSAGES, KEY).query(token, scope=ACCOUNT)
        assert '("timestamp", "id") > (CAST($2::text AS timestamptz), CAST($3::text' in query.sql
        assert query.sql.endswith('ORDER BY "timestamp" ASC, "id" ASC LIMIT $4')

    def test_page_size_is_clamped(self) -> None:
        """None gives the default; the request is clamped into [1, max_page_size]."""
        paginator = Paginator(CONVERSATIONS, KEY, default_page_size=20, max_page_size=100)
        assert [paginator.page_size(n) for n in (None, 0, -5, 50, 10_000)] == [20, 1, 1, 50, 100]

    @settings(max_examples=200, deadline=None)
    @given(
        requested=st.one_of(
            st.none(), st.integers(), st.text(max_size=25), st.from_regex(r"\A[0-9]{1,40}\Z"),
            st.floats(allow_nan=True), st.booleans(), st.binary(max_size=4),
        )
    )
    def test_any_requested_page_size_is_a_bounded_int_or_refused(self, requested: Any) -> None:
        """What a client sends becomes an int in [1, max] or InvalidPageSize, never bad SQL."""
        paginator = Paginator(CONVERSATIONS, KEY, default_page_size=20, max_page_size=100)
        try:
            size = paginator.page_size(requested)
        except InvalidPageSize:
            assert not (requested is None or requested == "" or type(requested) is int)
            assert not (type(requested) is str and requested.isascii() and requested.isdigit())
            return
        assert type(size) is int and 1 <= size <= 100
        if type(requested) is str and requested:
            assert size == max(1, min(int(requested), 100))
        query = paginator.query(None, page_size=requested, scope=ACCOUNT)
        assert query.params[-1] == size + 1

    def test_a_cursor_of_another_keyset_is_refused(self, codec: CursorCodec) -> None:
        """A messages cursor cannot page conversations."""
        token = codec.encode(Cursor(MESSAGES.name, "next", WHEN, ROW_ID))
        with pytest.raises(InvalidCursor, match="another listing"):
            Paginator(CONVERSATIONS, KEY).query(token, scope=ACCOUNT)

    def test_identifiers_are_validated(self) -> None:
        """A keyset naming anything but plain identifiers is a configuration error."""
        with pytest.raises(ConfigurationError):
            Keyset("conversations; DROP TABLE x", "updated_at")

    def test_a_scoped_keyset_needs_its_scope(self) -> None:
        """Forgetting account_id would page every account: refused."""
        with pytest.raises(ConfigurationError):
            Paginator(CONVERSATIONS, KEY).query(None)

    def test_page_cursors_on_first_middle_and_last_pages(self) -> None:
        """First page: no prev; a full fetch (+1 row): a next; a short page: no next."""
        paginator = Paginator(CONVERSATIONS, KEY)
        rows = [{"updated_at": WHEN, "id": uuid.UUID(int=n)} for n in range(4, 0, -1)]
        first = paginator.query(None, page_size=3, scope=ACCOUNT)
        page = paginator.page(rows, first)
        assert [r["id"].int for r in page.items] == [4, 3, 2]
        assert page.prev_cursor is None and page.next_cursor is not None
        second = paginator.query(page.next_cursor, page_size=3, scope=ACCOUNT)
        last = paginator.page(rows[3:], second)
        assert last.next_cursor is None and last.prev_cursor is not None


SUBJECTS = Keyset("tickets", "subject", scope_column="account_id", id_type="bigint")


class TestKeysetIdentity:
    @pytest.mark.parametrize(
        "other",
        [
            Keyset("conversations", "updated_at", scope_column="contact_id"),
            Keyset("conversations", "updated_at", scope_column="account_id", descending=False),
            Keyset("conversations", "created_at", scope_column="account_id"),
            Keyset("conversations", "updated_at"),
        ],
        ids=["other-scope", "oldest-first", "other-sort", "unscoped"],
    )
    def test_listings_refuse_each_others_cursors(self, other: Keyset) -> None:
        """Another scope, direction, sort column or table: another identity, cursor refused."""
        mine = Paginator(CONVERSATIONS, KEY)
        theirs = Paginator(other, KEY)
        token = theirs.page(
            [{"updated_at": WHEN, "created_at": WHEN, "id": ROW_ID}] * 2,
            theirs.query(None, page_size=1, scope=ACCOUNT),
        ).next_cursor
        assert other.name != CONVERSATIONS.name
        with pytest.raises(InvalidCursor, match="another listing"):
            mine.query(token, scope=ACCOUNT)

    def test_the_default_identity_names_table_columns_direction_and_scope(self) -> None:
        """The derived name spells out what makes two listings different."""
        assert CONVERSATIONS.name == "conversations:updated_at,id:desc:account_id"

    def test_a_bad_sql_type_is_a_configuration_error(self) -> None:
        """sort_type is inlined in SQL: only plain type names are accepted."""
        with pytest.raises(ConfigurationError):
            Keyset("t", "s", sort_type="text); DROP TABLE t; --")


def _issued(paginator: Paginator, sort: str, page_size: int = 1) -> str:
    query = paginator.query(None, page_size=page_size, scope=ACCOUNT)
    rows = [{"subject": sort, "id": 7}, {"subject": sort, "id": 6}]
    token = paginator.page(rows, query).next_cursor
    assert token is not None
    return token


class TestOwnCursorsAreAccepted:
    @pytest.mark.parametrize("sort", ["Ж" * 45, "x" * 300, "Ж" * 1000, "\x00" * 1000, "𝄞" * 1000])
    def test_long_and_cyrillic_text_keys(self, sort: str) -> None:
        """45 Cyrillic letters or 300 ASCII characters used to make page 2 unreachable."""
        paginator = Paginator(SUBJECTS, KEY)
        query = paginator.query(_issued(paginator, sort), scope=ACCOUNT)
        assert query.cursor is not None and query.cursor.sort_value == sort

    @settings(max_examples=150, deadline=None)
    @given(sort=st.text(max_size=1000))
    def test_any_text_key_up_to_max_key_chars(self, sort: str) -> None:
        """Whatever the text (surrogates, controls, astral), the next page is reachable."""
        paginator = Paginator(SUBJECTS, KEY)
        cursor = paginator.decode(_issued(paginator, sort))
        assert cursor is not None and cursor.sort_value == sort

    def test_a_key_beyond_max_key_chars_is_a_configuration_error(self) -> None:
        """Rather than issue a cursor it would refuse, the paginator says what to raise."""
        paginator = Paginator(Keyset("tickets", "subject", max_key_chars=10), KEY)
        with pytest.raises(ConfigurationError, match="max_key_chars"):
            _issued(paginator, "Ж" * 500)

    def test_typed_keysets_keep_a_small_limit(self) -> None:
        """Timestamp and UUID keys: a cap of a few hundred characters, above any real cursor."""
        limit = Paginator(CONVERSATIONS, KEY).codec.max_length
        assert 200 < limit < 400
        real = Paginator(CONVERSATIONS, KEY).codec.encode(
            Cursor(CONVERSATIONS.name, "prev", WHEN, ROW_ID)
        )
        assert len(real) < limit


class TestPrevAfterDeletion:
    def test_an_empty_prev_page_points_forwards_from_its_position(self) -> None:
        """No row left before the cursor: empty page, next cursor includes the position's row."""
        paginator = Paginator(CONVERSATIONS, KEY)
        codec = paginator.codec
        prev = codec.encode(Cursor(CONVERSATIONS.name, "prev", WHEN, ROW_ID))
        page = paginator.page([], paginator.query(prev, scope=ACCOUNT))
        assert page.items == [] and page.prev_cursor is None and page.next_cursor is not None
        restart = paginator.query(page.next_cursor, scope=ACCOUNT, placeholder="psycopg")
        assert restart.cursor is not None and restart.cursor.inclusive
        assert ' ("updated_at", "id") <= (' in restart.sql
        rest = postgrest_query(paginator, page.next_cursor, scope=ACCOUNT)
        assert rest.or_filter is not None and f'id.lte."{ROW_ID}"' in rest.or_filter
