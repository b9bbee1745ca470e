"""
``wa-perfkit sql``: print, apply, check and explain the migrations.

```text
wa-perfkit sql show [--schema | --migration N]
wa-perfkit sql apply   [--dsn DSN] [--with-schema] [--lock-wait S]
                       [--lock-timeout S] [--lock-retries N]
wa-perfkit sql status  [--dsn DSN]
wa-perfkit sql explain [--dsn DSN] [--plan] [--require-index]
wa-perfkit sql refresh [--dsn DSN] [--blocking]
```

The DSN defaults to ``$WA_PERFKIT_DSN``, then ``$DATABASE_URL``, so it need
not appear in shell history or ``ps``. Exit codes are `ExitCode`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from wa_perfkit.sql import (
    DEFAULT_LOCK_WAIT,
    ExitCode,
    LockPolicy,
    State,
    apply_migrations,
    apply_schema,
    connect,
    explain_hot_queries,
    load_migrations,
    migration_status,
    refresh_users_with_roles,
    schema_sql,
)

__all__ = ["register"]

Handler = Callable[[argparse.Namespace], int]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """
    Add the ``sql`` command group to the top-level ``wa-perfkit`` parser.

    Args:
        commands: the top-level parser's subparsers.
    """
    group = commands.add_parser("sql", help="Postgres migrations, status and EXPLAIN checks")
    actions = group.add_subparsers(dest="sql_command", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the migrations' SQL")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--schema", action="store_true", help="print the inbox reference schema")
    which.add_argument("--migration", type=int, metavar="N", help="print migration N only")
    show.set_defaults(handler=_show)
    _with_dsn(actions.add_parser("apply", help="apply pending migrations, repair invalid ones"))
    actions.choices["apply"].add_argument(
        "--with-schema", action="store_true", help="create the reference inbox tables first"
    )
    actions.choices["apply"].add_argument(
        "--lock-wait",
        type=float,
        default=DEFAULT_LOCK_WAIT,
        metavar="SECONDS",
        help="how long to wait for another apply to finish (default: %(default)g; then exit 9)",
    )
    actions.choices["apply"].add_argument(
        "--lock-timeout",
        type=float,
        default=LockPolicy.lock_timeout,
        metavar="SECONDS",
        help="lock_timeout of each schema change or backfill batch (default: %(default)g)",
    )
    actions.choices["apply"].add_argument(
        "--lock-retries",
        type=int,
        default=LockPolicy.retries,
        metavar="N",
        help="retries after a lock_timeout, pausing 0.5 s doubling to 5 s (default: %(default)d)",
    )
    actions.choices["apply"].set_defaults(handler=_apply)
    _with_dsn(actions.add_parser("status", help="list applied / pending / invalid migrations"))
    actions.choices["status"].set_defaults(handler=_status)
    explain = actions.add_parser("explain", help="EXPLAIN (ANALYZE, BUFFERS) the hot queries")
    _with_dsn(explain)
    explain.add_argument("--plan", action="store_true", help="also print each plan tree")
    explain.add_argument(
        "--require-index", action="store_true", help="exit 7 if a hot query scans a table"
    )
    explain.set_defaults(handler=_explain)
    refresh = actions.add_parser("refresh", help="refresh mv_users_with_roles")
    _with_dsn(refresh)
    refresh.add_argument("--blocking", action="store_true", help="plain (locking) refresh")
    refresh.set_defaults(handler=_refresh)


def _with_dsn(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        default=os.environ.get("WA_PERFKIT_DSN") or os.environ.get("DATABASE_URL"),
        help="libpq DSN or postgresql:// URL (default: $WA_PERFKIT_DSN, then $DATABASE_URL)",
    )
    # A DSN typed without --dsn would be echoed by argparse ("unrecognized
    # arguments: postgresql://user:password@..."): collect stray words instead.
    parser.add_argument("stray", nargs="*", help=argparse.SUPPRESS)


def _dsn(args: argparse.Namespace) -> str:
    if args.stray:
        print(
            "wa-perfkit: error: unexpected argument (not shown: it may be a DSN with a "
            "password); pass the DSN with --dsn or set WA_PERFKIT_DSN",
            file=sys.stderr,
        )
        raise SystemExit(ExitCode.USAGE)
    if not args.dsn:
        print("wa-perfkit: error: no DSN: pass --dsn or set WA_PERFKIT_DSN", file=sys.stderr)
        raise SystemExit(ExitCode.USAGE)
    return str(args.dsn)


def _show(args: argparse.Namespace) -> int:
    if args.schema:
        print(schema_sql())
        return ExitCode.OK
    migrations = [m for m in load_migrations() if args.migration in (None, m.version)]
    if not migrations:
        print(f"wa-perfkit: error: no migration {args.migration}", file=sys.stderr)
        return ExitCode.USAGE
    for migration in migrations:
        print(f"-- ===== {migration.label} =====\n{migration.sql}")
    return ExitCode.OK


def _apply(args: argparse.Namespace) -> int:
    with connect(_dsn(args)) as conn:
        if args.with_schema:
            apply_schema(conn)
        policy = LockPolicy(lock_timeout=args.lock_timeout, retries=args.lock_retries)
        report = apply_migrations(conn, lock_wait=args.lock_wait, on_wait=_tell, lock_policy=policy)
    for name in report.rebuilt_indexes:
        print(f"rebuilt INVALID index {name}")
    for label in report.applied:
        print(f"applied {label}")
    if not report.changed:
        print("up to date: nothing to apply")
    return ExitCode.OK


def _status(args: argparse.Namespace) -> int:
    with connect(_dsn(args)) as conn:
        states = migration_status(conn)
    for item in states:
        when = f" at {item.applied_at:%Y-%m-%d %H:%M:%S%z}" if item.applied_at else ""
        detail = f" ({item.detail})" if item.detail else ""
        print(f"{item.migration.label:<32} {item.state.value}{when}{detail}")
    up_to_date = all(item.state is State.APPLIED for item in states)
    return ExitCode.OK if up_to_date else ExitCode.NOT_UP_TO_DATE


def _explain(args: argparse.Namespace) -> int:
    with connect(_dsn(args)) as conn:
        results = explain_hot_queries(conn)
    for result in results:
        print(
            f"{result.query.name:<34} {result.verdict:<28} {result.execution_ms:8.3f} ms"
            f"  buffers hit={result.shared_hit} read={result.shared_read}"
        )
        if args.plan:
            print(f"  {result.query.sql}\n{_indent(result.tree())}")
    scanned = any(result.seq_scans for result in results)
    return ExitCode.SEQUENTIAL_SCAN if args.require_index and scanned else ExitCode.OK


def _refresh(args: argparse.Namespace) -> int:
    with connect(_dsn(args)) as conn:
        refresh_users_with_roles(conn, concurrently=not args.blocking)
    print("refreshed mv_users_with_roles")
    return ExitCode.OK


def _tell(message: str) -> None:
    print(f"wa-perfkit: {message}", file=sys.stderr, flush=True)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
