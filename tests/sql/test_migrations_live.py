"""
Migration 0002 on a live database: lock order, lock_timeout with retries, batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from wa_perfkit import sql
from wa_perfkit.errors import SQLToolkitError

Connect = Callable[[str], Any]
USER = "00000000-0000-0000-0000-0000000000b1"
_UNDO_0002 = """
DROP TRIGGER IF EXISTS wa_perfkit_user_roles_cache ON app_user_roles;
DROP TRIGGER IF EXISTS wa_perfkit_user_roles_truncate ON app_user_roles;
DROP TRIGGER IF EXISTS wa_perfkit_role_renamed ON app_roles;
ALTER TABLE app_users DROP COLUMN roles_cache;
DELETE FROM wa_perfkit_migrations WHERE version >= 2;
DROP MATERIALIZED VIEW mv_users_with_roles;
"""


def _before_0002(databases: Any) -> str:
    """A database with 0001 applied (indexes built), 0002 and 0003 pending."""
    dsn = databases.create(schema=True, migrate=True)
    with sql.connect(dsn) as conn:
        conn.execute(_UNDO_0002.encode())
        conn.execute("INSERT INTO app_users (user_id, email) VALUES (%s, 'b@example.com')", (USER,))
        conn.execute("INSERT INTO app_roles (name) VALUES ('agent'), ('admin')")
    return dsn


def _grant(conn: Any, role: str) -> None:
    conn.execute(
        "INSERT INTO app_user_roles (user_id, role_id)"
        " SELECT %s, id FROM app_roles WHERE name = %s",
        (USER, role),
    )


class _Apply(threading.Thread):
    def __init__(self, conn: Any, policy: sql.LockPolicy) -> None:
        super().__init__(daemon=True)
        self.conn, self.policy = conn, policy
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            sql.apply_migrations(self.conn, lock_policy=self.policy)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _until_waiting(observer: Any, pid: int) -> None:
    for _ in range(3000):
        row = observer.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        if row is not None and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError("apply never waited for a lock")


class TestLockOrder:
    def test_an_application_transaction_replacing_roles_during_0002_is_not_aborted(
        self, databases: Any, connect: Connect
    ) -> None:
        """
        The application deletes then inserts a user's roles while 0002 applies: both finish.

        The application locks app_user_roles, then app_users (the foreign key
        check of its INSERT). A migration holding app_users while it waits for
        app_user_roles would close a cycle; 0002 holds one table at a time.
        """
        dsn = _before_0002(databases)
        app, runner, observer = connect(dsn), connect(dsn), connect(dsn)
        app.execute("SET deadlock_timeout = '20ms'")
        app.execute("BEGIN")
        app.execute("DELETE FROM app_user_roles WHERE user_id = %s", (USER,))
        apply = _Apply(runner, sql.LockPolicy(lock_timeout=0.2, retries=100, pause=0.05))
        apply.start()
        _until_waiting(observer, runner.info.backend_pid)
        _grant(app, "agent")
        app.execute("COMMIT")
        apply.join(60)
        assert apply.error is None, apply.error
        cache = observer.execute("SELECT roles_cache FROM app_users WHERE user_id = %s", (USER,))
        assert [role["role_name"] for role in cache.fetchone()[0]] == ["agent"]


class TestLockTimeout:
    def test_a_long_transaction_makes_apply_retry_then_succeed(
        self, databases: Any, connect: Connect
    ) -> None:
        """A reader holds app_users; apply gives up its lock wait, retries, succeeds."""
        dsn = _before_0002(databases)
        reader = connect(dsn)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM app_users")
        pauses: list[float] = []

        def sleep(seconds: float) -> None:
            pauses.append(seconds)
            if len(pauses) == 2:
                reader.execute("COMMIT")  # the long transaction ends during the 2nd pause

        policy = sql.LockPolicy(lock_timeout=0.05, retries=5, pause=0.01, sleep=sleep)
        report = sql.apply_migrations(connect(dsn), lock_policy=policy)
        assert report.applied == ("0002_roles_cache", "0003_users_with_roles_view")
        assert len(pauses) == 2

    def test_a_lock_never_granted_is_exit_code_10(self, databases: Any, connect: Connect) -> None:
        """After the last retry, apply fails with TIMEOUT, nothing recorded."""
        dsn = _before_0002(databases)
        reader = connect(dsn)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM app_users")
        policy = sql.LockPolicy(lock_timeout=0.02, retries=2, pause=0.0)
        conn = connect(dsn)
        with pytest.raises(SQLToolkitError) as caught:
            sql.apply_migrations(conn, lock_policy=policy)
        assert caught.value.exit_code == sql.ExitCode.TIMEOUT
        assert "lock_timeout" in str(caught.value)
        reader.execute("ROLLBACK")
        states = {item.migration.label: item.state for item in sql.migration_status(conn)}
        assert states["0002_roles_cache"] is sql.State.PENDING


class TestBackfill:
    def test_the_backfill_runs_in_batches_and_is_exact(
        self, databases: Any, connect: Connect
    ) -> None:
        """1,201 users with roles before 0002: every cache exact, in three transactions."""
        dsn = _before_0002(databases)
        conn = connect(dsn)
        conn.execute(
            "INSERT INTO app_users (user_id, email)"
            " SELECT gen_random_uuid(), n || '@example.com' FROM generate_series(1, 1200) n"
        )
        conn.execute(
            "INSERT INTO app_user_roles (user_id, role_id)"
            " SELECT u.user_id, r.id FROM app_users u CROSS JOIN app_roles r"
            " WHERE r.name = 'agent' OR u.email < '5'"
        )
        xid_before = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        sql.apply_migrations(conn)
        stale = conn.execute(
            "SELECT count(*) FROM app_users WHERE roles_cache <> wa_perfkit_user_roles(user_id)"
        ).fetchone()[0]
        assert stale == 0
        assert (
            conn.execute(
                "SELECT count(*) FROM app_users WHERE jsonb_array_length(roles_cache) > 0"
            ).fetchone()[0]
            == 1201
        )
        rows_by_xid = conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM app_users WHERE xmin::text::bigint > %s",
            (xid_before,),
        ).fetchone()[0]
        assert rows_by_xid == 3  # 500 + 500 + 201 users, one transaction each

    def test_an_older_0002_is_modified_and_reapplied_with_the_deferred_trigger(
        self, databases: Any, connect: Connect
    ) -> None:
        """A database migrated by an older release gets the new trigger; no DDL on re-run."""
        dsn = databases.create(schema=True, migrate=True)
        conn = connect(dsn)
        conn.execute(
            "DROP TRIGGER wa_perfkit_user_roles_cache ON app_user_roles;"
            " CREATE TRIGGER wa_perfkit_user_roles_cache AFTER INSERT OR UPDATE OR DELETE"
            " ON app_user_roles FOR EACH ROW EXECUTE FUNCTION wa_perfkit_user_roles_changed();"
            " UPDATE wa_perfkit_migrations SET checksum = 'older' WHERE version = 2"
        )
        states = {item.migration.label: item.state for item in sql.migration_status(conn)}
        assert states["0002_roles_cache"] is sql.State.MODIFIED
        assert sql.apply_migrations(conn).applied == ("0002_roles_cache",)
        deferred = conn.execute(
            "SELECT tgdeferrable AND tginitdeferred FROM pg_trigger"
            " WHERE tgname = 'wa_perfkit_user_roles_cache'"
        ).fetchone()[0]
        assert deferred is True


def test_psycopg_is_the_driver() -> None:
    """These tests drive psycopg 3 directly (a guard for the imports above)."""
    assert psycopg.__version__
