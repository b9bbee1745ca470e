"""
Apply the migrations, and tell what state a database is in.

The state of each migration comes from two places: the ``wa_perfkit_migrations``
table (what was recorded as applied, with the file's checksum) and the
catalog (whether each index a ``CONCURRENTLY`` migration builds exists and is
valid). Trusting only the table would miss the classic failure of a
concurrent build: the statement failed, PostgreSQL kept an INVALID index, and
``IF NOT EXISTS`` would keep it forever.

Applying takes a session advisory lock, so two deploys running ``apply`` at
once do not build the same index twice: the second polls for it with no
snapshot held (see `wa_perfkit.sql.APPLY_LOCK_KEY`), then finds nothing left
to do. A migration is re-run when it is
pending, modified or invalid; every migration is idempotent, so re-running one
that was interrupted completes it. A database that is up to date gets no DDL
at all: applying twice changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.sql._apply_lock import acquire_apply_lock, release_apply_lock
from wa_perfkit.sql._connect import translate_errors
from wa_perfkit.sql._execute import LockPolicy, run_migration
from wa_perfkit.sql.exit_codes import ExitCode
from wa_perfkit.sql.migrations import Migration, load_migrations, schema_sql

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_LOCK_WAIT",
    "LockPolicy",
    "MIGRATIONS_TABLE",
    "REQUIRED_TABLES",
    "ApplyReport",
    "MigrationState",
    "State",
    "apply_migrations",
    "apply_schema",
    "migration_status",
]

MIGRATIONS_TABLE: Final = "wa_perfkit_migrations"
#: The inbox tables the migrations touch.
REQUIRED_TABLES: Final = (
    "whatsapp_accounts",
    "contacts",
    "conversations",
    "messages",
    "app_users",
    "app_roles",
    "app_user_roles",
)
#: Seconds a second ``apply`` waits for the one running before giving up.
DEFAULT_LOCK_WAIT: Final = 600.0

_CREATE_TABLE: Final = """
CREATE TABLE IF NOT EXISTS wa_perfkit_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
_RECORDED: Final = "SELECT version, checksum, applied_at FROM wa_perfkit_migrations"
_INDEX_VALIDITY: Final = """
SELECT c.relname, i.indisvalid AND i.indisready
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
 WHERE c.relname = ANY (%s) AND pg_catalog.pg_table_is_visible(c.oid)"""


class State(str, enum.Enum):
    """
    Where one migration stands in a database.
    """

    APPLIED = "applied"
    PENDING = "pending"
    #: Recorded, but the shipped file changed since (a newer wa_perfkit).
    MODIFIED = "modified"
    #: Recorded, but an index it builds is missing or INVALID.
    INVALID = "invalid"


@dataclass(frozen=True)
class MigrationState:
    """
    The state of one migration, as `migration_status` reports it.

    Attributes:
        migration: the shipped migration.
        state: where it stands.
        detail: why it is not `State.APPLIED` (names the indexes), else ``""``.
        applied_at: when it was recorded, if it was.
    """

    migration: Migration
    state: State
    detail: str = ""
    applied_at: datetime | None = None


@dataclass(frozen=True)
class ApplyReport:
    """
    What `apply_migrations` did.

    Attributes:
        applied: labels of the migrations run, in order.
        rebuilt_indexes: INVALID indexes dropped and built again.
    """

    applied: tuple[str, ...] = ()
    rebuilt_indexes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """
        Whether anything was executed.

        Returns:
            False when the database was already up to date.
        """
        return bool(self.applied or self.rebuilt_indexes)


def migration_status(conn: psycopg.Connection[Any]) -> list[MigrationState]:
    """
    Report every shipped migration's state without changing anything.

    Args:
        conn: an autocommit psycopg connection (see `wa_perfkit.sql.connect`).

    Returns:
        One `MigrationState` per shipped migration, in version order.

    Raises:
        SQLToolkitError: the database could not be read.
    """
    with translate_errors():
        recorded = _recorded(conn)
        return [
            _state_of(conn, migration, recorded.get(migration.version))
            for migration in load_migrations()
        ]


def apply_migrations(
    conn: psycopg.Connection[Any],
    *,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    on_wait: Callable[[str], None] | None = None,
    lock_policy: LockPolicy | None = None,
) -> ApplyReport:
    """
    Apply every migration that is not applied and valid; repair invalid indexes.

    Only one run applies at a time. Another run waits for it, holding no
    snapshot (so it cannot block the first run's concurrent index builds),
    then re-reads the state and normally finds nothing to do.

    Args:
        conn: an autocommit psycopg connection (see `wa_perfkit.sql.connect`).
        lock_wait: seconds to wait for another ``apply`` to finish.
        on_wait: called with a description of the other run (its pid and
            application_name) when this one has to wait.
        lock_policy: ``lock_timeout`` and retries for the statements that
            lock tables the application uses (default: 2 s, 10 retries).

    Returns:
        What was done; ``report.changed`` is False on an up-to-date database.

    Raises:
        SQLToolkitError: a required table is missing (exit code
            `ExitCode.MISSING_TABLE`, every missing table named), a privilege
            is missing (`ExitCode.PRIVILEGES`), another run kept the lock
            longer than ``lock_wait`` (`ExitCode.LOCKED`), a timeout
            (`ExitCode.TIMEOUT`), a deadlock (`ExitCode.CONFLICT`) or another
            database error.
    """
    _require_tables(conn, REQUIRED_TABLES)
    with translate_errors():
        acquire_apply_lock(conn, lock_wait, on_wait)
        try:
            return _apply_locked(conn, lock_policy or LockPolicy())
        finally:
            release_apply_lock(conn)


def apply_schema(conn: psycopg.Connection[Any]) -> None:
    """
    Create the inbox reference schema (idempotent; for tests, examples, demo).

    Args:
        conn: an autocommit psycopg connection.

    Raises:
        SQLToolkitError: the DDL failed.
    """
    with translate_errors(), conn.transaction():
        conn.execute(schema_sql().encode())


def _apply_locked(conn: psycopg.Connection[Any], policy: LockPolicy) -> ApplyReport:
    todo = [item for item in migration_status(conn) if item.state is not State.APPLIED]
    if not todo:
        return ApplyReport()
    conn.execute(_CREATE_TABLE.encode())
    rebuilt: list[str] = []
    for item in todo:
        rebuilt += _drop_invalid_indexes(conn, item.migration)
        run_migration(conn, item.migration, policy)
    return ApplyReport(tuple(item.migration.label for item in todo), tuple(rebuilt))


def _drop_invalid_indexes(conn: psycopg.Connection[Any], migration: Migration) -> list[str]:
    invalid = [name for name, valid in _index_validity(conn, migration).items() if not valid]
    for name in invalid:
        # Identifier from our own packaged file, matched by \w+: safe to inline.
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}".encode())
    return invalid


def _state_of(
    conn: psycopg.Connection[Any], migration: Migration, recorded: tuple[str, datetime] | None
) -> MigrationState:
    if recorded is None:
        return MigrationState(migration, State.PENDING, "not recorded as applied")
    checksum, applied_at = recorded
    problems = _index_problems(conn, migration)
    if problems:
        return MigrationState(migration, State.INVALID, problems, applied_at)
    if checksum != migration.checksum:
        return MigrationState(migration, State.MODIFIED, "shipped file changed since", applied_at)
    return MigrationState(migration, State.APPLIED, "", applied_at)


def _index_problems(conn: psycopg.Connection[Any], migration: Migration) -> str:
    validity = _index_validity(conn, migration)
    missing = [name for name in migration.concurrent_indexes if name not in validity]
    invalid = [name for name, valid in validity.items() if not valid]
    return "; ".join(
        part
        for part in (_listed("missing index", missing), _listed("INVALID index", invalid))
        if part
    )


def _index_validity(conn: psycopg.Connection[Any], migration: Migration) -> Mapping[str, bool]:
    if not migration.concurrent_indexes:
        return {}
    rows = conn.execute(_INDEX_VALIDITY.encode(), (list(migration.concurrent_indexes),))
    return {str(name): bool(valid) for name, valid in rows.fetchall()}


def _recorded(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, datetime]]:
    if not _existing_tables(conn, [MIGRATIONS_TABLE]):
        return {}
    rows = conn.execute(_RECORDED)
    return {int(version): (str(checksum), applied_at) for version, checksum, applied_at in rows}


def _require_tables(conn: psycopg.Connection[Any], tables: Iterable[str]) -> None:
    wanted = list(tables)
    with translate_errors():
        present = _existing_tables(conn, wanted)
    missing = [table for table in wanted if table not in present]
    if missing:
        raise SQLToolkitError(
            "missing table"
            + ("s " if len(missing) > 1 else " ")
            + ", ".join(missing)
            + " (create the inbox schema first, e.g. `wa-perfkit sql apply --with-schema`)",
            ExitCode.MISSING_TABLE,
        )


def _existing_tables(conn: psycopg.Connection[Any], tables: list[str]) -> set[str]:
    rows = conn.execute(
        "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL", (tables,)
    )
    return {str(row[0]) for row in rows}


def _listed(what: str, names: list[str]) -> str:
    return f"{what}{'es' if len(names) > 1 else ''} {', '.join(names)}" if names else ""
