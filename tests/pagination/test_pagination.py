"""
Keyset pagination without a database: cursors, SQL builders, PostgREST filters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from wa_perfkit.secret import Secret

KEY = "unit-test-cursor-key-0123456789"
WHEN = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
ROW_ID = uuid.UUID("3f2b8c1e-0000-4000-8000-000000000001")
ACCOUNT = uuid.UUID("00000000-0000-0000-0000-00000000feed")


@pytest.fixture(name="codec")
def codec_fixture() -> CursorCodec:
    return CursorCodec(KEY)


@pytest.fixture(name="token")
def token_fixture(codec: CursorCodec) -> str:
    return codec.encode(Cursor(CONVERSATIONS.name, "next", WHEN, ROW_ID))


class TestSecret:
    def test_repr_and_str_are_masked(self) -> None:
        """A Secret never shows its value."""
        secret = Secret("hunter2-hunter2")
        assert repr(secret) == str(secret) == f"{secret}" == "Secret('**********')"
        assert secret.get_secret_value() == b"hunter2-hunter2"

    def test_bytes_and_str_give_the_same_key(self) -> None:
        """Construction from str encodes UTF-8."""
        assert Secret("clé").get_secret_value() == "clé".encode()

    def test_empty_and_wrong_types_are_refused(self) -> None:
        """Empty secrets and non-string values raise."""
        with pytest.raises(ValueError):
            Secret("")
        with pytest.raises(TypeError):
            Secret(123)  # type: ignore[arg-type]


class TestCursorCodec:
    @pytest.mark.parametrize(
        ("sort", "ident"),
        [(WHEN, ROW_ID), (17, 42), ("2025-06-01T12:00:00+00:00", "abc"), (WHEN.date(), 7)],
    )
    def test_round_trip_keeps_types(self, codec: CursorCodec, sort: Any, ident: Any) -> None:
        """datetime, date, int, str and UUID come back equal and of the same type."""
        cursor = Cursor("k", "prev", sort, ident)
        decoded = codec.decode(codec.encode(cursor))
        assert decoded == cursor
        assert type(decoded.sort_value) is type(sort)

    def test_tokens_are_url_safe(self, token: str) -> None:
        """No padding, no '+' or '/': a cursor goes into a query string as is."""
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    def test_every_single_bit_flip_is_rejected(self, codec: CursorCodec, token: str) -> None:
        """Flipping any bit of the decoded blob makes the cursor invalid."""
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        for index in range(len(blob)):
            for bit in (0, 3, 7):
                flipped = bytearray(blob)
                flipped[index] ^= 1 << bit
                bad = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
                with pytest.raises(InvalidCursor):
                    codec.decode(bad)

    def test_every_truncation_is_rejected(self, codec: CursorCodec, token: str) -> None:
        """Any prefix of a cursor is invalid."""
        for length in range(len(token)):
            with pytest.raises(InvalidCursor):
                codec.decode(token[:length])

    def test_another_key_is_rejected(self, token: str) -> None:
        """A cursor signed by another key is invalid."""
        with pytest.raises(InvalidCursor, match="signature"):
            CursorCodec("another-key-0123456789abcdef").decode(token)

    @pytest.mark.parametrize(
        "bad",
        ["not base64!", "é" * 10, "abc def", "A", "====", "A" * 1_000_000, "\x00" * 40],
        ids=["punctuation", "non-ascii", "space", "one-char", "padding", "one-megabyte", "nul"],
    )
    def test_garbage_is_rejected(self, codec: CursorCodec, bad: str) -> None:
        """Not base64, too short or 1 MB long: InvalidCursor, nothing else."""
        with pytest.raises(InvalidCursor):
            codec.decode(bad)

    def test_a_one_megabyte_cursor_is_rejected_by_length(self, codec: CursorCodec) -> None:
        """The length cap applies before any decoding."""
        with pytest.raises(InvalidCursor, match="too long"):
            codec.decode("A" * 1_000_000)

    def test_a_signed_but_malformed_payload_is_rejected(self) -> None:
        """Even with a valid MAC (leaked key), a payload we did not write is InvalidCursor."""
        for payload in [b"[]", b'{"k":1}', b'{"k":"x","d":"n","s":["t","nope"],"i":["i",1]}']:
            mac = hmac.new(KEY.encode(), b"\x01" + payload, hashlib.sha256).digest()
            token = base64.urlsafe_b64encode(b"\x01" + mac + payload).rstrip(b"=").decode()
            with pytest.raises(InvalidCursor, match="malformed"):
                CursorCodec(KEY).decode(token)

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(max_size=300))
    def test_arbitrary_text_never_crashes(self, text: str) -> None:
        """Any string either decodes (only our own cursors) or raises InvalidCursor."""
        with pytest.raises(InvalidCursor):
            CursorCodec(KEY).decode(text)

    def test_short_keys_are_refused_and_the_key_is_masked(self) -> None:
        """Keys under 16 bytes are refused; the codec's repr hides the key."""
        with pytest.raises(ValueError):
            CursorCodec("short")
        assert KEY not in repr(CursorCodec(KEY))


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


class TestPostgrest:
    def test_first_page_has_no_boundary(self) -> None:
        """First page: scope, order and limit only."""
        query = postgrest_query(Paginator(CONVERSATIONS, KEY), None, page_size=37, scope=ACCOUNT)
        assert query.params() == {
            "account_id": f"eq.{ACCOUNT}",
            "order": "updated_at.desc,id.desc",
            "limit": "38",
        }

    def test_next_page_filter_spells_out_the_row_comparison(self, token: str) -> None:
        """(updated_at, id) < (X, Y) as an or=() filter with quoted values."""
        query = postgrest_query(Paginator(CONVERSATIONS, KEY), token, scope=ACCOUNT)
        stamp = '"2025-06-01T12:00:00.123456+00:00"'
        assert query.or_filter == (
            f'updated_at.lt.{stamp},and(updated_at.eq.{stamp},id.lt."{ROW_ID}")'
        )
        assert query.params()["or"] == f"({query.or_filter})"

    def test_apply_calls_the_supabase_builder(self, token: str) -> None:
        """apply() chains eq, or_, order and limit on a supabase-py style builder."""
        calls: list[tuple[Any, ...]] = []

        class Builder:
            def eq(self, column: str, value: Any) -> Builder:
                calls.append(("eq", column, value))
                return self

            def or_(self, filters: str) -> Builder:
                calls.append(("or_", filters))
                return self

            def order(self, column: str, *, desc: bool = False) -> Builder:
                calls.append(("order", column, desc))
                return self

            def limit(self, size: int) -> Builder:
                calls.append(("limit", size))
                return self

        query = postgrest_query(Paginator(CONVERSATIONS, KEY), token, page_size=5, scope=ACCOUNT)
        query.apply(Builder())
        assert [call[0] for call in calls] == ["eq", "or_", "order", "order", "limit"]
        assert calls[-1] == ("limit", 6)
        assert calls[2] == ("order", "updated_at", True)

    def test_quotes_and_backslashes_are_escaped(self, codec: CursorCodec) -> None:
        """A string key containing PostgREST syntax stays one quoted value."""
        token = codec.encode(Cursor(CONVERSATIONS.name, "prev", 'a"b\\c,d', "x"))
        query = postgrest_query(Paginator(CONVERSATIONS, KEY), token, scope=ACCOUNT)
        assert query.or_filter is not None
        assert query.or_filter.startswith('updated_at.gt."a\\"b\\\\c,d"')
        assert query.order == (("updated_at", False), ("id", False))


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
