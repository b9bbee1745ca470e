"""
Keyset pagination over ``(sort column, id)``, for asyncpg and psycopg.

The seed's cursor query was ``WHERE updated_at < $cursor ORDER BY updated_at
DESC``: every row sharing the boundary timestamp with the last row of a page,
but not on that page, is skipped forever. The fix is a total order: sort by
``(updated_at, id)`` and compare the pair as a row value::

    WHERE account_id = $1 AND (updated_at, id) < ($2, $3)
    ORDER BY updated_at DESC, id DESC
    LIMIT $4

which the index ``(account_id, updated_at DESC, id DESC)`` (migration 0001)
serves as a single range scan at any depth, unlike ``OFFSET``, which reads and
discards every skipped row. Each query fetches one row more than the page
size to learn whether another page exists. A previous page is the same query
with the comparison and the order reversed, its rows flipped back afterwards.

Sort and id columns must be NOT NULL (a NULL never compares, so its row would
never be returned).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

from wa_perfkit._secret import Secret
from wa_perfkit.errors import ConfigurationError, InvalidCursor
from wa_perfkit.pagination.cursor import (
    DEFAULT_MAX_CURSOR_LENGTH,
    Cursor,
    CursorCodec,
    Direction,
    KeyValue,
)

__all__ = ["CONVERSATIONS", "MESSAGES", "Keyset", "KeysetQuery", "Page", "Paginator", "Placeholder"]

RowT = TypeVar("RowT")
Placeholder = Literal["asyncpg", "psycopg"]
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Keyset:
    """
    What to paginate: a table, its sort column, its id, and its scope.

    Args:
        table: table name, optionally ``schema.table``.
        sort_column: the column pages are ordered by (NOT NULL).
        id_column: the unique tie-breaker (NOT NULL).
        scope_column: an equality filter every page has (``account_id``), or None.
        columns: the columns to select; empty selects ``*``.
        descending: newest first (the inbox's order).
        name: the name bound into cursors, so a cursor of one keyset is
            refused by another; defaults to ``table.sort_column``.

    Raises:
        ConfigurationError: a name is not a plain SQL identifier.
    """

    table: str
    sort_column: str
    id_column: str = "id"
    scope_column: str | None = None
    columns: tuple[str, ...] = ()
    descending: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        names = [*self.table.split("."), self.sort_column, self.id_column, *self.columns]
        names += [self.scope_column] if self.scope_column else []
        bad = [name for name in names if not _IDENTIFIER.fullmatch(name)]
        if bad:
            raise ConfigurationError(f"not a plain SQL identifier: {bad[0]!r}")
        if not self.name:
            object.__setattr__(self, "name", f"{self.table}.{self.sort_column}")


#: The inbox's conversation list: an account's conversations, latest activity first.
CONVERSATIONS: Final = Keyset("conversations", "updated_at", scope_column="account_id")
#: A conversation's messages, newest first.
MESSAGES: Final = Keyset("messages", "timestamp", scope_column="conversation_id")


@dataclass(frozen=True)
class KeysetQuery:
    """
    One page's query, ready to execute.

    Attributes:
        sql: the statement, with ``$n`` (asyncpg) or ``%s`` (psycopg) placeholders.
        params: its parameters, in order.
        page_size: rows the page shows (the query fetches one more).
        cursor: the decoded cursor, or None for the first page.
    """

    sql: str
    params: tuple[Any, ...]
    page_size: int
    cursor: Cursor | None

    @property
    def direction(self) -> Direction:
        """
        Which way this page reads from its cursor.

        Returns:
            ``"next"`` (also for the first page) or ``"prev"``.
        """
        return self.cursor.direction if self.cursor else "next"


@dataclass(frozen=True)
class Page(Generic[RowT]):
    """
    One page of rows and the cursors around it.

    Attributes:
        items: the rows, in display order.
        next_cursor: cursor of the following page, or None on the last page.
        prev_cursor: cursor of the preceding page, or None on the first page.
    """

    items: list[RowT]
    next_cursor: str | None
    prev_cursor: str | None


class Paginator:
    """
    Build page queries for a `Keyset` and turn fetched rows into a `Page`.

    Args:
        keyset: what to paginate.
        secret: HMAC key for the cursors (at least 16 bytes).
        default_page_size: page size when the client asks for none.
        max_page_size: the cap; a larger request is clamped to it.
        max_cursor_length: longest cursor accepted before any decoding.

    Raises:
        ConfigurationError: the page sizes are inconsistent.
    """

    def __init__(
        self,
        keyset: Keyset,
        secret: Secret | str | bytes,
        *,
        default_page_size: int = 50,
        max_page_size: int = 100,
        max_cursor_length: int = DEFAULT_MAX_CURSOR_LENGTH,
    ) -> None:
        if not 1 <= default_page_size <= max_page_size:
            raise ConfigurationError("need 1 <= default_page_size <= max_page_size")
        self.keyset = keyset
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.codec = CursorCodec(secret, max_length=max_cursor_length)

    def page_size(self, requested: int | None = None) -> int:
        """
        Resolve a client's requested page size.

        Args:
            requested: the size asked for, or None.

        Returns:
            The default for None; otherwise the request clamped to
            ``[1, max_page_size]``.
        """
        if requested is None:
            return self.default_page_size
        return max(1, min(requested, self.max_page_size))

    def decode(self, token: str | None) -> Cursor | None:
        """
        Verify a client's cursor.

        Args:
            token: the cursor, or None (or ``""``) for the first page.

        Returns:
            The decoded cursor, or None.

        Raises:
            InvalidCursor: the cursor is invalid or belongs to another keyset.
        """
        if token is None or token == "":
            return None
        cursor = self.codec.decode(token)
        if cursor.keyset != self.keyset.name:
            raise InvalidCursor("cursor belongs to another listing")
        return cursor

    def query(
        self,
        token: str | None = None,
        *,
        page_size: int | None = None,
        scope: Any = None,
        placeholder: Placeholder = "asyncpg",
    ) -> KeysetQuery:
        """
        Build the SQL of the page a cursor points to.

        Args:
            token: the client's cursor, or None for the first page.
            page_size: the requested page size (clamped).
            scope: value of the keyset's ``scope_column``; required when it has one.
            placeholder: ``"asyncpg"`` for ``$1``, ``"psycopg"`` for ``%s``.

        Returns:
            The query; run it and pass its rows to `page`.

        Raises:
            InvalidCursor: the cursor is invalid.
            ConfigurationError: ``scope`` is missing for a scoped keyset.
        """
        cursor = self.decode(token)
        size = self.page_size(page_size)
        sql, params = _build(self.keyset, cursor, scope, size + 1, placeholder)
        return KeysetQuery(sql, params, size, cursor)

    def page(
        self,
        rows: Sequence[RowT],
        query: KeysetQuery,
        *,
        key: Callable[[RowT], tuple[KeyValue, KeyValue]] | None = None,
    ) -> Page[RowT]:
        """
        Turn the rows a `KeysetQuery` fetched into a `Page` with its cursors.

        Args:
            rows: the fetched rows, as returned (up to ``page_size + 1``).
            query: the query that fetched them.
            key: returns ``(sort value, id)`` of a row; by default rows are
                read as mappings (dicts, asyncpg Records, psycopg ``dict_row``).

        Returns:
            The page, in display order.
        """
        getter = key or self._mapping_key
        items = list(rows[: query.page_size])
        more = len(rows) > query.page_size
        if query.direction == "prev":
            items.reverse()
            prev_ok, next_ok = more, bool(items)
        else:
            prev_ok, next_ok = query.cursor is not None and bool(items), more
        return Page(
            items,
            self._cursor("next", getter(items[-1])) if next_ok else None,
            self._cursor("prev", getter(items[0])) if prev_ok else None,
        )

    def _cursor(self, direction: Direction, position: tuple[KeyValue, KeyValue]) -> str:
        return self.codec.encode(Cursor(self.keyset.name, direction, *position))

    def _mapping_key(self, row: Any) -> tuple[KeyValue, KeyValue]:
        mapping: Mapping[str, KeyValue] = row
        return mapping[self.keyset.sort_column], mapping[self.keyset.id_column]


def _build(
    keyset: Keyset, cursor: Cursor | None, scope: Any, limit: int, placeholder: Placeholder
) -> tuple[str, tuple[Any, ...]]:
    params: list[Any] = []

    def bind(value: Any) -> str:
        params.append(value)
        return f"${len(params)}" if placeholder == "asyncpg" else "%s"

    sort, ident = _quote(keyset.sort_column), _quote(keyset.id_column)
    where: list[str] = []
    if keyset.scope_column:
        if scope is None:
            raise ConfigurationError(f"keyset {keyset.name} needs a {keyset.scope_column} value")
        where.append(f"{_quote(keyset.scope_column)} = {bind(scope)}")
    # Reading backwards from a "prev" cursor flips both comparison and order.
    backwards = cursor is not None and cursor.direction == "prev"
    ascending = keyset.descending == backwards
    if cursor is not None:
        op = ">" if ascending else "<"
        where.append(f"({sort}, {ident}) {op} ({bind(cursor.sort_value)}, {bind(cursor.id_value)})")
    order = "ASC" if ascending else "DESC"
    columns = ", ".join(map(_quote, keyset.columns)) or "*"
    table = ".".join(map(_quote, keyset.table.split(".")))
    sql = f"SELECT {columns} FROM {table}"  # noqa: S608 - identifiers validated and quoted
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {sort} {order}, {ident} {order} LIMIT {bind(limit)}"
    return sql, tuple(params)


def _quote(identifier: str) -> str:
    # Validated against _IDENTIFIER at construction: quoting keeps reserved
    # words such as "timestamp" (the seed's messages column) valid.
    return f'"{identifier}"'
