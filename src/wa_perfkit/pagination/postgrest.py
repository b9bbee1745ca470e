"""
The same keyset pages through PostgREST: supabase-py's query builder.

PostgREST has no row-value comparison, so ``(updated_at, id) < (X, Y)`` is
spelled out as its logical equivalent:

```text
or=(updated_at.lt."X",and(updated_at.eq."X",id.lt."Y"))
```

Values are always double-quoted, because timestamps contain ``:`` and ``.``,
which PostgREST otherwise reads as syntax; ``"`` and ``\\`` inside a value are
backslash-escaped. supabase-py URL-encodes the whole parameter (``+`` of a
UTC offset included):

```python
q = postgrest_query(paginator, cursor, scope=account_id)
rows = q.apply(supabase.table("conversations").select("*")).execute().data
page = paginator.page(rows, q.keyset_query)
```

PostgREST returns JSON, so the row values (and the cursors made from them)
are strings; they go back into the filter verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from wa_perfkit.pagination.cursor import Cursor, KeyValue
from wa_perfkit.pagination.keyset import Keyset, KeysetQuery, Paginator

__all__ = ["PostgrestBuilder", "PostgrestQuery", "postgrest_query"]

BuilderT = TypeVar("BuilderT", bound="PostgrestBuilder")


class PostgrestBuilder(Protocol):
    """
    The part of supabase-py's / postgrest-py's request builder we call.
    """

    def eq(self, column: str, value: Any) -> Any:
        """Filter ``column = value``."""

    def or_(self, filters: str) -> Any:
        """Add an ``or=(...)`` filter."""

    def order(self, column: str, *, desc: bool = False) -> Any:
        """Order by ``column``."""

    def limit(self, size: int) -> Any:
        """Limit the number of rows."""


@dataclass(frozen=True)
class PostgrestQuery:
    """
    A keyset page as PostgREST parameters.

    Attributes:
        scope: ``(column, value)`` equality filter, or None.
        or_filter: the boundary filter without the surrounding ``or=( )``, or
            None on the first page.
        order: ``(column, descending)`` pairs.
        limit: rows to fetch (page size + 1).
        keyset_query: pass it to `Paginator.page` with the returned rows.
    """

    scope: tuple[str, Any] | None
    or_filter: str | None
    order: tuple[tuple[str, bool], ...]
    limit: int
    keyset_query: KeysetQuery

    def params(self) -> dict[str, str]:
        """
        The query-string parameters, for a raw HTTP call to PostgREST.

        Returns:
            Unencoded parameters (the HTTP client URL-encodes them).
        """
        params: dict[str, str] = {}
        if self.scope:
            params[self.scope[0]] = f"eq.{self.scope[1]}"
        if self.or_filter:
            params["or"] = f"({self.or_filter})"
        params["order"] = ",".join(f"{col}.{'desc' if desc else 'asc'}" for col, desc in self.order)
        params["limit"] = str(self.limit)
        return params

    def apply(self, builder: BuilderT) -> BuilderT:
        """
        Add this page's filters, order and limit to a supabase-py builder.

        Args:
            builder: e.g. ``supabase.table("conversations").select("*")``.

        Returns:
            The builder, ready for ``.execute()``.
        """
        result: Any = builder
        if self.scope:
            result = result.eq(*self.scope)
        if self.or_filter:
            result = result.or_(self.or_filter)
        for column, desc in self.order:
            result = result.order(column, desc=desc)
        built: BuilderT = result.limit(self.limit)
        return built


def postgrest_query(
    paginator: Paginator,
    token: str | None = None,
    *,
    page_size: int | str | None = None,
    scope: Any = None,
) -> PostgrestQuery:
    """
    Build the PostgREST form of the page a cursor points to.

    Args:
        paginator: the paginator (its keyset and key).
        token: the client's cursor, or None for the first page.
        page_size: the requested page size (clamped; see `Paginator.page_size`).
        scope: value of the keyset's ``scope_column``.

    Returns:
        The page's filters, order and limit.

    Raises:
        InvalidCursor: the cursor is invalid.
    """
    keyset_query = paginator.query(token, page_size=page_size, scope=scope, placeholder="psycopg")
    keyset, cursor = paginator.keyset, keyset_query.cursor
    ascending = keyset.descending == (cursor is not None and cursor.direction == "prev")
    return PostgrestQuery(
        scope=(keyset.scope_column, scope) if keyset.scope_column else None,
        or_filter=_boundary(keyset, cursor, "gt" if ascending else "lt") if cursor else None,
        order=((keyset.sort_column, not ascending), (keyset.id_column, not ascending)),
        limit=keyset_query.page_size + 1,
        keyset_query=keyset_query,
    )


def _boundary(keyset: Keyset, cursor: Cursor, op: str) -> str:
    sort, ident = keyset.sort_column, keyset.id_column
    value, id_value = _quote(cursor.sort_value), _quote(cursor.id_value)
    id_op = f"{op}e" if cursor.inclusive else op  # lte / gte: the row at the position too
    return f"{sort}.{op}.{value},and({sort}.eq.{value},{ident}.{id_op}.{id_value})"


def _quote(value: KeyValue) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
