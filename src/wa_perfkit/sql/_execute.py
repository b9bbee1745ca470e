"""
Run one migration's statements on a live database.

Three modes, from the migration's header:

- ``off``: one statement per round trip in autocommit, for
  ``CREATE INDEX CONCURRENTLY``. No ``lock_timeout`` is set: a concurrent
  build blocks no reader or writer while it waits, and a build cancelled by
  a timeout would leave an INVALID index behind.
- ``on``: every statement in one transaction, under ``lock_timeout``.
- ``each``: every statement in its own transaction, under ``lock_timeout``;
  a ``-- wa_perfkit: repeat`` statement is a batch, repeated with its
  previous result as parameter until it returns NULL.

Why ``lock_timeout``: a DDL statement queues for its table lock behind any
long transaction, and every query on that table then queues behind the DDL
statement. With a short ``lock_timeout`` the statement gives up instead,
lets the queue drain, and is retried after a pause; after the last retry the
run fails with `ExitCode.TIMEOUT`, nothing half-applied.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.sql.exit_codes import ExitCode
from wa_perfkit.sql.migrations import Migration

if TYPE_CHECKING:
    import psycopg

__all__ = ["LockPolicy", "run_migration"]

T = TypeVar("T")
_REPEAT: Final = "-- wa_perfkit: repeat"
_RECORD: Final = """
INSERT INTO wa_perfkit_migrations (version, name, checksum) VALUES (%s, %s, %s)
ON CONFLICT (version) DO UPDATE
   SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, applied_at = now()"""
# Bounds the batches of one repeat statement: far more than any real table needs.
_MAX_BATCHES: Final = 10_000_000


@dataclass(frozen=True)
class LockPolicy:
    """
    How long a migration statement may wait for a table lock, and how often to retry.

    Attributes:
        lock_timeout: seconds one attempt waits for a lock.
        retries: attempts after the first one.
        pause: seconds before the first retry; doubled each time (up to
            ``max_pause``), with jitter.
        max_pause: the longest pause between two attempts.
        sleep: how to pause (injectable for tests).
    """

    lock_timeout: float = 2.0
    retries: int = 10
    pause: float = 0.5
    max_pause: float = 5.0
    sleep: Callable[[float], None] = time.sleep


def run_migration(conn: psycopg.Connection[Any], migration: Migration, policy: LockPolicy) -> None:
    """
    Execute a migration's statements as its mode says, then record it.

    Args:
        conn: an autocommit connection.
        migration: the migration to run.
        policy: lock timeout and retries for ``on`` and ``each`` statements.

    Raises:
        SQLToolkitError: `ExitCode.TIMEOUT` when a lock was still not granted
            after the last retry.
        psycopg.Error: any other database error (translated by the caller).
    """
    record = (migration.version, migration.name, migration.checksum)
    if migration.mode == "off":
        _all(conn, migration.statements)
    elif migration.mode == "on":
        _retrying(conn, policy, migration, lambda: _all(conn, migration.statements))
    else:
        for statement in migration.statements:
            if _REPEAT in statement:
                _repeat(conn, policy, migration, statement)
            else:
                _retrying(conn, policy, migration, partial(_all, conn, (statement,)))
    conn.execute(_RECORD.encode(), record)


def _all(conn: psycopg.Connection[Any], statements: tuple[str, ...]) -> None:
    for statement in statements:
        conn.execute(statement.encode())


def _batch(conn: psycopg.Connection[Any], statement: str, after: Any) -> Any:
    row = conn.execute(statement.encode(), (after,)).fetchone()
    return row[0] if row else None


def _repeat(
    conn: psycopg.Connection[Any], policy: LockPolicy, migration: Migration, statement: str
) -> None:
    position: Any = None
    for _ in range(_MAX_BATCHES):
        position = _retrying(conn, policy, migration, partial(_batch, conn, statement, position))
        if position is None:
            return
    raise SQLToolkitError(f"{migration.label}: batch statement did not finish")


def _retrying(
    conn: psycopg.Connection[Any],
    policy: LockPolicy,
    migration: Migration,
    action: Callable[[], T],
) -> T:
    import psycopg  # the caller imported it: connections come from it

    pause = policy.pause
    for attempt in range(policy.retries + 1):
        try:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_catalog.set_config('lock_timeout', %s, true)",
                    (f"{max(1, round(policy.lock_timeout * 1000))}ms",),
                )
                return action()
        except psycopg.errors.LockNotAvailable as exc:
            if attempt == policy.retries:
                raise SQLToolkitError(
                    f"{migration.label}: a table lock was not granted within "
                    f"lock_timeout={policy.lock_timeout:g} s, {policy.retries + 1} times: a long "
                    f"transaction holds it ({str(exc).splitlines()[0]}); retry later "
                    "or raise --lock-timeout",
                    ExitCode.TIMEOUT,
                ) from exc
        # Jitter: two runners retrying in step would collide again.
        policy.sleep(pause * (0.5 + random.random()))  # noqa: S311 - not cryptographic
        pause = min(pause * 2, policy.max_pause)
    raise AssertionError("unreachable: the last attempt returns or raises")
