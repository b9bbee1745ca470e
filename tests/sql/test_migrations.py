"""
Migrations against a real PostgreSQL: idempotence, status, repair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wa_perfkit import sql
from wa_perfkit.errors import SQLToolkitError

Connect = Callable[[str], Any]

_CATALOG_FINGERPRINT = """
SELECT (SELECT array_agg(c.oid::bigint || ':' || c.xmin::text ORDER BY c.oid)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'),
       (SELECT array_agg(t.oid::bigint || ':' || t.xmin::text ORDER BY t.oid)
          FROM pg_trigger t WHERE NOT t.tgisinternal),
       (SELECT array_agg(version::text || ':' || applied_at::text ORDER BY version)
          FROM wa_perfkit_migrations)
"""


def _states(conn: Any) -> dict[str, sql.State]:
    return {item.migration.label: item.state for item in sql.migration_status(conn)}


class TestShippedMigrations:
    def test_three_versioned_migrations_are_packaged(self) -> None:
        """The package ships migrations 1, 2, 3; only the index one runs outside transactions."""
        migrations = sql.load_migrations()
        assert [m.version for m in migrations] == [1, 2, 3]
        assert [m.transactional for m in migrations] == [False, True, True]
        assert [m.mode for m in migrations] == ["off", "each", "on"]
        assert len(migrations[0].concurrent_indexes) == 8

    def test_every_index_statement_is_concurrent_and_idempotent(self) -> None:
        """Each statement of 0001 is CREATE INDEX CONCURRENTLY IF NOT EXISTS."""
        for statement in sql.load_migrations()[0].statements:
            assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS" in statement


class TestApply:
    def test_apply_on_a_fresh_database_applies_everything(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """A database with only the schema gets all three migrations, recorded."""
        conn = connect(fresh_dsn)
        assert set(_states(conn).values()) == {sql.State.PENDING}
        report = sql.apply_migrations(conn)
        assert report.applied == ("0001_indexes", "0002_roles_cache", "0003_users_with_roles_view")
        assert set(_states(conn).values()) == {sql.State.APPLIED}

    def test_applying_twice_changes_nothing(self, fresh_dsn: str, connect: Connect) -> None:
        """The second apply executes no DDL: catalog rows and the migrations table are untouched."""
        conn = connect(fresh_dsn)
        sql.apply_migrations(conn)
        before = conn.execute(_CATALOG_FINGERPRINT).fetchone()
        report = sql.apply_migrations(conn)
        assert not report.changed
        assert conn.execute(_CATALOG_FINGERPRINT).fetchone() == before

    def test_a_migration_missing_from_the_table_is_pending_then_reapplied(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """An apply that stopped before recording 0002 is reported and completed."""
        conn = connect(fresh_dsn)
        sql.apply_migrations(conn)
        conn.execute("DELETE FROM wa_perfkit_migrations WHERE version = 2")
        assert _states(conn)["0002_roles_cache"] is sql.State.PENDING
        assert sql.apply_migrations(conn).applied == ("0002_roles_cache",)
        assert set(_states(conn).values()) == {sql.State.APPLIED}

    def test_an_index_migration_interrupted_half_way_is_completed(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """Only three of the eight CONCURRENTLY statements ran: pending, then completed."""
        conn = connect(fresh_dsn)
        for statement in sql.load_migrations()[0].statements[:3]:
            conn.execute(statement.encode())
        assert _states(conn)["0001_indexes"] is sql.State.PENDING
        sql.apply_migrations(conn)
        names = sql.load_migrations()[0].concurrent_indexes
        count = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = ANY(%s)", (list(names),)
        ).fetchone()
        assert count == (8,)

    def test_an_invalid_index_from_a_failed_concurrent_build_is_reported_and_rebuilt(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """A failed concurrent build leaves an INVALID index: status names it, apply rebuilds it."""
        conn = connect(fresh_dsn)
        sql.apply_migrations(conn)
        conn.execute("INSERT INTO whatsapp_accounts (name, phone_number_id) VALUES ('a', '1')")
        conn.execute(
            "INSERT INTO conversations (account_id, client_number)"
            " SELECT id, '+1' FROM whatsapp_accounts"
        )
        conn.execute("DROP INDEX idx_conversations_contact")
        # 1 / (36 - 36): the build fails on the first row, as a deadlock or cancel would.
        with pytest.raises(Exception, match="division by zero"):
            conn.execute(
                "CREATE INDEX CONCURRENTLY idx_conversations_contact"
                " ON conversations ((1 / (length(id::text) - 36)))"
            )
        status = {item.migration.label: item for item in sql.migration_status(conn)}
        assert status["0001_indexes"].state is sql.State.INVALID
        assert "idx_conversations_contact" in status["0001_indexes"].detail

        report = sql.apply_migrations(conn)

        assert report.rebuilt_indexes == ("idx_conversations_contact",)
        assert set(_states(conn).values()) == {sql.State.APPLIED}
        row = conn.execute(
            "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indexrelid = 'idx_conversations_contact'::regclass"
        ).fetchone()
        assert row[0] is True
        assert "(contact_id)" in row[1]

    def test_a_dropped_index_makes_the_migration_invalid(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """Someone dropped a keyset index by hand: status says which, apply recreates it."""
        conn = connect(fresh_dsn)
        sql.apply_migrations(conn)
        conn.execute("DROP INDEX idx_messages_conversation_keyset")
        item = sql.migration_status(conn)[0]
        assert item.state is sql.State.INVALID
        assert "missing index idx_messages_conversation_keyset" in item.detail
        assert sql.apply_migrations(conn).applied == ("0001_indexes",)
        assert set(_states(conn).values()) == {sql.State.APPLIED}

    def test_missing_tables_are_named(self, databases: Any, connect: Connect) -> None:
        """Without the inbox schema, apply fails with exit code 4 and names the tables."""
        conn = connect(databases.create(schema=False))
        with pytest.raises(SQLToolkitError) as caught:
            sql.apply_migrations(conn)
        assert caught.value.exit_code == sql.ExitCode.MISSING_TABLE
        assert "conversations" in str(caught.value)
        assert "app_user_roles" in str(caught.value)

    def test_a_role_without_privileges_gets_the_privileges_exit_code(
        self, databases: Any, fresh_dsn: str, connect: Connect
    ) -> None:
        """A login that does not own the tables cannot index them: exit code 5."""
        role = databases.create_role()
        owner = connect(fresh_dsn)
        owner.execute(f"GRANT CREATE ON SCHEMA public TO {role}")
        from psycopg.conninfo import make_conninfo

        conn = connect(make_conninfo(fresh_dsn, user=role))
        with pytest.raises(SQLToolkitError) as caught:
            sql.apply_migrations(conn)
        assert caught.value.exit_code == sql.ExitCode.PRIVILEGES
        owner.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")


class TestMaterializedView:
    def test_refresh_concurrently_picks_up_role_changes(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """mv_users_with_roles shows a new role after a concurrent refresh."""
        conn = connect(fresh_dsn)
        sql.apply_migrations(conn)
        conn.execute(
            "INSERT INTO app_users (user_id, email) VALUES"
            " ('00000000-0000-0000-0000-000000000001', 'a@example.com')"
        )
        conn.execute("INSERT INTO app_roles (name) VALUES ('admin')")
        conn.execute(
            "INSERT INTO app_user_roles (user_id, role_id)"
            " SELECT '00000000-0000-0000-0000-000000000001', id FROM app_roles"
        )
        sql.refresh_users_with_roles(conn, concurrently=False)  # first fill
        conn.execute("UPDATE app_roles SET name = 'owner'")
        sql.refresh_users_with_roles(conn)
        roles = conn.execute("SELECT roles FROM mv_users_with_roles").fetchone()[0]
        assert [role["role_name"] for role in roles] == ["owner"]
