"""
OFFSET vs keyset pagination, before and after the wa_perfkit indexes.

Plain, bounded script: creates a throwaway database on the server given by
``$WA_PERFKIT_PG_DSN`` (default: 127.0.0.1:5432 as postgres), seeds it with
the test data (200,000 messages) plus one 60,000-conversation account and one
60,000-message conversation, and times page 1, 100 and 1,000 (50 rows a page)
of both listings, each the median of a few runs. Prints a markdown table;
the database is dropped at the end.

    python benchmarks/bench_pagination.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from wa_perfkit import sql
from wa_perfkit.pagination import CONVERSATIONS, MESSAGES, Cursor, Keyset, Paginator

PAGE_SIZE = 50
PAGES = (1, 100, 1_000)
BIG_ACCOUNT = "00000000-0000-0000-0000-0000000b1600"
BIG_CONVERSATION = "00000000-0000-0000-0000-0000000c1600"
SEED = Path(__file__).resolve().parents[1] / "tests" / "postgres" / "seed.sql"
EXTRA = f"""
-- built from the constants above, never from input
INSERT INTO whatsapp_accounts (id, name, phone_number_id) VALUES ('{BIG_ACCOUNT}', 'big', 'big');
INSERT INTO conversations (id, account_id, client_number, updated_at)
VALUES ('{BIG_CONVERSATION}', '{BIG_ACCOUNT}', '+0', now());
INSERT INTO conversations (account_id, client_number, updated_at)
SELECT '{BIG_ACCOUNT}', '+44' || g, timestamptz '2025-01-01' + (g / 3) * interval '1 second'
  FROM generate_series(1, 60000) AS g;
INSERT INTO messages (conversation_id, direction, content, "timestamp")
SELECT '{BIG_CONVERSATION}', 'inbound', 'm' || g,
       timestamptz '2025-01-01' + (g / 3) * interval '1 second'
  FROM generate_series(1, 60000) AS g;
"""  # noqa: S608 - built from the constants above
LISTINGS: tuple[tuple[str, Keyset, str], ...] = (
    ("conversations of an account (60k)", CONVERSATIONS, BIG_ACCOUNT),
    ("messages of a conversation (60k)", MESSAGES, BIG_CONVERSATION),
)


def _median_ms(conn: Any, query: str, params: tuple[Any, ...], runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        conn.execute(query.encode(), params).fetchall()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def _offset_sql(keyset: Keyset) -> str:
    sort = f'"{keyset.sort_column}"'
    return (
        f'SELECT * FROM "{keyset.table}" WHERE "{keyset.scope_column}" = %s'  # noqa: S608
        f" ORDER BY {sort} DESC, id DESC LIMIT {PAGE_SIZE} OFFSET %s"
    )


def _measure(conn: Any, runs: int) -> dict[tuple[str, int, str], float]:
    results: dict[tuple[str, int, str], float] = {}
    for label, keyset, scope in LISTINGS:
        paginator = Paginator(keyset, secrets.token_bytes(32), max_page_size=PAGE_SIZE)
        for page in PAGES:
            offset = (page - 1) * PAGE_SIZE
            results[label, page, "offset"] = _median_ms(
                conn, _offset_sql(keyset), (scope, offset), runs
            )
            token = _cursor_before(conn, paginator, keyset, scope, offset)
            query = paginator.query(token, page_size=PAGE_SIZE, scope=scope, placeholder="psycopg")
            results[label, page, "keyset"] = _median_ms(conn, query.sql, query.params, runs)
    return results


def _cursor_before(
    conn: Any, paginator: Paginator, keyset: Keyset, scope: str, offset: int
) -> str | None:
    """The next-cursor a client holds when it asks for the row at ``offset``."""
    if offset == 0:
        return None
    row = conn.execute(
        _offset_sql(keyset).replace(f"LIMIT {PAGE_SIZE}", "LIMIT 1").encode(), (scope, offset - 1)
    ).fetchone()
    probe = f'SELECT * FROM "{keyset.table}" LIMIT 0'  # noqa: S608 - a constant keyset
    names = [column.name for column in conn.execute(probe.encode()).description]
    record = dict(zip(names, row, strict=True))
    position = Cursor(keyset.name, "next", record[keyset.sort_column], record[keyset.id_column])
    return paginator.codec.encode(position)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    server = os.environ.get(
        "WA_PERFKIT_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    )
    name = f"wa_perfkit_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
    try:
        with sql.connect(make_conninfo(server, dbname=name)) as conn:
            sql.apply_schema(conn)
            conn.execute(SEED.read_bytes())
            conn.execute(EXTRA.encode())
            conn.execute(b"ANALYZE")
            before = _measure(conn, args.runs)
            sql.apply_migrations(conn)
            conn.execute(b"ANALYZE")
            after = _measure(conn, args.runs)
            version = conn.execute(b"SHOW server_version").fetchone()[0]
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
    print(
        f"PostgreSQL {version}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; median of {args.runs} runs, {PAGE_SIZE} rows a page, "
        "client-side wall time (psycopg 3, loopback).\n"
    )
    print(
        "| listing | page | OFFSET, no index | keyset, no index"
        " | OFFSET, indexed | keyset, indexed |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, _ in LISTINGS:
        for page in PAGES:
            cells = [
                before[label, page, "offset"],
                before[label, page, "keyset"],
                after[label, page, "offset"],
                after[label, page, "keyset"],
            ]
            print(f"| {label} | {page:,} | " + " | ".join(f"{ms:.2f} ms" for ms in cells) + " |")


if __name__ == "__main__":
    main()
