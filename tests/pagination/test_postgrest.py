"""
postgrest_query: the PostgREST (supabase-py) filters of a keyset page, quoted and chained.
"""

from __future__ import annotations

from typing import Any

from tests.pagination._cursors import ACCOUNT, KEY, ROW_ID
from wa_perfkit.pagination import (
    CONVERSATIONS,
    Cursor,
    CursorCodec,
    Paginator,
    postgrest_query,
)


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
