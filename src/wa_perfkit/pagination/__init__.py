"""
Keyset pagination with opaque, tamper-evident cursors.

Every row exactly once, in order, forwards and backwards, at the same cost on
page 1 and page 1,000; for asyncpg (``$n``), psycopg (``%s``) and supabase-py
(PostgREST filters):

```text
from wa_perfkit.pagination import CONVERSATIONS, Paginator

paginator = Paginator(CONVERSATIONS, secret=settings.cursor_key, max_page_size=100)

query = paginator.query(request_cursor, page_size=limit, scope=account_id)
rows = await conn.fetch(query.sql, *query.params)        # asyncpg
page = paginator.page(rows, query)
return {"items": page.items, "next": page.next_cursor, "prev": page.prev_cursor}
```

A bad cursor raises `wa_perfkit.errors.InvalidCursor` (HTTP 400), never a
database error.
"""

from __future__ import annotations

from wa_perfkit.pagination.cursor import DEFAULT_MAX_CURSOR_LENGTH, Cursor, CursorCodec, Direction
from wa_perfkit.pagination.keyset import (
    CONVERSATIONS,
    MESSAGES,
    Keyset,
    KeysetQuery,
    Page,
    Paginator,
    Placeholder,
)
from wa_perfkit.pagination.postgrest import PostgrestBuilder, PostgrestQuery, postgrest_query

__all__ = [
    "Paginator",
    "Keyset",
    "CONVERSATIONS",
    "MESSAGES",
    "KeysetQuery",
    "Page",
    "Placeholder",
    # cursors
    "Cursor",
    "CursorCodec",
    "Direction",
    "DEFAULT_MAX_CURSOR_LENGTH",
    # supabase-py / PostgREST
    "PostgrestBuilder",
    "PostgrestQuery",
    "postgrest_query",
]
