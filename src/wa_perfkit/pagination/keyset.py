"""
Keyset pagination over ``(sort column, id)``, for asyncpg and psycopg.

The common cursor query ``WHERE updated_at < $cursor ORDER BY updated_at
DESC`` is wrong: every row sharing the boundary timestamp with the last row of a page,
but not on that page, is skipped forever. The fix is a total order: sort by
``(updated_at, id)`` and compare the pair as a row value:

```text
WHERE account_id = $1 AND (updated_at, id) < ($2, $3)
ORDER BY updated_at DESC, id DESC
LIMIT $4
```

which the index ``(account_id, updated_at DESC, id DESC)`` (migration 0001)
serves as a single range scan at any depth, unlike ``OFFSET``, which reads and
discards every skipped row. Each query fetches one row more than the page
size to learn whether another page exists. A previous page is the same query
with the comparison and the order reversed, its rows flipped back afterwards.

Sort and id columns must be NOT NULL (a NULL never compares, so its row would
never be returned).

A cursor is valid for the listing that issued it, whichever driver runs the
query: declare the columns' SQL types (``sort_type``, ``id_type``) and the
position is bound as text and cast in SQL, so a cursor made from PostgREST's
JSON strings and one made from asyncpg's ``datetime`` and ``UUID`` give the
same page on either path. A keyset's identity (table, columns, direction,
scope) is bound into its cursors, so different listings refuse each other's.

Following a ``prev_cursor`` when no row is left before its position (they
were deleted) gives an empty page whose ``next_cursor`` reads forwards from
that position, the row at it included: the client lands on what is now the
first page instead of being stranded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final, Generic, Literal, TypeVar

from wa_perfkit.errors import ConfigurationError, InvalidCursor, InvalidPageSize
from wa_perfkit.pagination.cursor import (
    Cursor,
    CursorCodec,
    Direction,
    KeyValue,
)
from wa_perfkit.secret import Secret

__all__ = ["CONVERSATIONS", "MESSAGES", "Keyset", "KeysetQuery", "Page", "Paginator", "Placeholder"]

RowT = TypeVar("RowT")
Placeholder = Literal["asyncpg", "psycopg"]
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SQL_TYPE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?: [A-Za-z_][A-Za-z0-9_]*)*")
# SQL types whose values have a bounded text form, with the longest such value.
_LATEST: Final = datetime(9999, 12, 31, 23, 59, 59, 999999, timezone(-timedelta(hours=23)))
_FIXED_WIDTH: Final[dict[str, KeyValue]] = {
    **dict.fromkeys(
        ["timestamptz", "timestamp", "timestamp with time zone", "timestamp without time zone"],
        _LATEST,
    ),
    "date": date.max,
    "uuid": uuid.UUID(int=(1 << 128) - 1),
    **dict.fromkeys(["smallint", "integer", "int", "bigint", "int2", "int4", "int8"], -(2**63)),
}
# Room for a driver's spelling of a bounded value (PostgREST's JSON strings).
_SLACK: Final = 24


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
        name: the identity bound into cursors, so a cursor of one listing is
            refused by another; defaults to one derived from the table, sort
            and id columns, direction and scope column
            (``conversations:updated_at,id:desc:account_id``).
        sort_type: SQL type of the sort column (``"timestamptz"``); with it
            the cursor position is cast in SQL, so cursors made from any
            driver's rows (PostgREST's strings included) work on every path.
        id_type: SQL type of the id column (``"uuid"``), likewise.
        max_key_chars: longest text sort key or id (in characters) whose
            cursors must fit the length limit; irrelevant for fixed-width
            types (timestamps, dates, UUIDs, integers).

    Raises:
        ConfigurationError: a name is not a plain SQL identifier, or a type
            not a plain SQL type name.
    """

    table: str
    sort_column: str
    id_column: str = "id"
    scope_column: str | None = None
    columns: tuple[str, ...] = ()
    descending: bool = True
    name: str = ""
    sort_type: str = ""
    id_type: str = ""
    max_key_chars: int = 1000

    def __post_init__(self) -> None:
        names = [*self.table.split("."), self.sort_column, self.id_column, *self.columns]
        names += [self.scope_column] if self.scope_column else []
        bad = [name for name in names if not _IDENTIFIER.fullmatch(name)]
        if bad:
            raise ConfigurationError(f"not a plain SQL identifier: {bad[0]!r}")
        types = [t for t in (self.sort_type, self.id_type) if t]
        if any(not _SQL_TYPE.fullmatch(t) for t in types):
            raise ConfigurationError(f"not a plain SQL type name: {types!r}")
        if self.max_key_chars < 1:
            raise ConfigurationError("max_key_chars must be at least 1")
        if not self.name:
            order = "desc" if self.descending else "asc"
            identity = f"{self.table}:{self.sort_column},{self.id_column}:{order}"
            object.__setattr__(self, "name", f"{identity}:{self.scope_column or ''}")

    def max_cursor_length(self) -> int:
        """
        The length of the longest cursor this keyset's pages can issue.

        Returns:
            Characters, for `Paginator`'s default limit: a few hundred for
            typed timestamps, UUIDs and integers; more for text keys, up to
            ``max_key_chars`` characters of any Unicode.
        """
        probe = CursorCodec(b"\0" * 16, max_length=0)
        longest = [
            probe.encode(Cursor(self.name, "prev", sort, ident))
            for sort in _widest(self.sort_type, self.max_key_chars)
            for ident in _widest(self.id_type, self.max_key_chars)
        ]
        return max(map(len, longest)) + _SLACK


#: The inbox's conversation list: an account's conversations, latest activity first.
CONVERSATIONS: Final = Keyset(
    "conversations",
    "updated_at",
    scope_column="account_id",
    sort_type="timestamptz",
    id_type="uuid",
)
#: A conversation's messages, newest first.
MESSAGES: Final = Keyset(
    "messages", "timestamp", scope_column="conversation_id", sort_type="timestamptz", id_type="uuid"
)


def _widest(sql_type: str, max_chars: int) -> list[KeyValue]:
    if sql_type.lower() in _FIXED_WIDTH:
        return [_FIXED_WIDTH[sql_type.lower()]]
    # JSON writes a control character as \u0000 (6 bytes), a astral one as 4.
    return ["\x00" * max_chars, "\U0010ffff" * max_chars]


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
        max_cursor_length: longest cursor accepted before any decoding;
            defaults to `Keyset.max_cursor_length`, so the paginator accepts
            every cursor it issues.

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
        max_cursor_length: int | None = None,
    ) -> None:
        if not 1 <= default_page_size <= max_page_size:
            raise ConfigurationError("need 1 <= default_page_size <= max_page_size")
        self.keyset = keyset
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        limit = keyset.max_cursor_length() if max_cursor_length is None else max_cursor_length
        self.codec = CursorCodec(secret, max_length=limit)

    def page_size(self, requested: int | str | None = None) -> int:
        """
        Resolve a client's requested page size.

        Args:
            requested: the size asked for: an int, the text of a query parameter
                (``"50"``), or None.

        Returns:
            The default for None (or ``""``); otherwise the request clamped to
            ``[1, max_page_size]``.

        Raises:
            InvalidPageSize: not a whole number (``"abc"``, ``2.5``, ``True``),
                so that it never reaches the SQL ``LIMIT``.
        """
        if requested is None or requested == "":
            return self.default_page_size
        if type(requested) is str and requested.isascii() and requested.isdigit():
            digits = requested.lstrip("0") or "0"
            # A thousand-digit request clamps like any large one, without parsing it.
            requested = int(digits) if len(digits) <= 18 else self.max_page_size
        if type(requested) is not int:
            raise InvalidPageSize("page size must be a whole number")
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
        page_size: int | str | None = None,
        scope: Any = None,
        placeholder: Placeholder = "asyncpg",
    ) -> KeysetQuery:
        """
        Build the SQL of the page a cursor points to.

        Args:
            token: the client's cursor, or None for the first page.
            page_size: the requested page size (clamped; see `Paginator.page_size`).
            scope: value of the keyset's ``scope_column``; required when it has one.
            placeholder: ``"asyncpg"`` for ``$1``, ``"psycopg"`` for ``%s``.

        Returns:
            The query; run it and pass its rows to `page`.

        Raises:
            InvalidCursor: the cursor is invalid.
            InvalidPageSize: ``page_size`` is not a whole number.
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
            The page, in display order. After a ``prev`` cursor with no row
            left before it, an empty page whose ``next_cursor`` starts at the
            cursor's position (that row included).

        Raises:
            ConfigurationError: a row's text sort key is longer than the
                keyset's ``max_key_chars`` (its cursor would be refused).
        """
        getter = key or self._mapping_key
        items = list(rows[: query.page_size])
        more = len(rows) > query.page_size
        cursor = query.cursor
        if cursor is not None and cursor.direction == "prev" and not items:
            # Nothing before the position any more: point forwards from it,
            # the row at it included, rather than strand the client.
            restart = Cursor(self.keyset.name, "next", cursor.sort_value, cursor.id_value, True)
            return Page(items, self._issue(restart), None)
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
        return self._issue(Cursor(self.keyset.name, direction, *position))

    def _issue(self, cursor: Cursor) -> str:
        token = self.codec.encode(cursor)
        if len(token) > self.codec.max_length:
            raise ConfigurationError(
                f"a sort key of keyset {self.keyset.name} is longer than its max_key_chars "
                f"({self.keyset.max_key_chars}): raise it, or set max_cursor_length"
            )
        return token

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
        op = (">" if ascending else "<") + ("=" if cursor.inclusive else "")
        position = (
            _typed(bind, cursor.sort_value, keyset.sort_type),
            _typed(bind, cursor.id_value, keyset.id_type),
        )
        where.append(f"({sort}, {ident}) {op} ({position[0]}, {position[1]})")
    order = "ASC" if ascending else "DESC"
    columns = ", ".join(map(_quote, keyset.columns)) or "*"
    table = ".".join(map(_quote, keyset.table.split(".")))
    sql = f"SELECT {columns} FROM {table}"  # noqa: S608 - identifiers validated and quoted
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {sort} {order}, {ident} {order} LIMIT {bind(limit)}"
    return sql, tuple(params)


def _typed(bind: Callable[[Any], str], value: KeyValue, sql_type: str) -> str:
    if not sql_type:
        return bind(value)
    # Bound as text and cast in SQL: asyncpg types a bare parameter from its
    # column and refuses a str for a timestamptz (PostgREST rows are strings).
    text = value.isoformat() if isinstance(value, date) else str(value)
    return f"CAST({bind(text)}::text AS {sql_type})"


def _quote(identifier: str) -> str:
    # Validated against _IDENTIFIER at construction: quoting keeps reserved
    # words such as "timestamp" (a common messages column) valid.
    return f'"{identifier}"'
