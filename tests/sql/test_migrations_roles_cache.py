"""
app_users.roles_cache stays equal to the roles JOIN, whatever happens to roles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wa_perfkit import sql

USERS = [f"00000000-0000-0000-0000-0000000000{n:02d}" for n in range(1, 7)]
ACCOUNTS = [None, "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000a2"]

_FRESH_JOIN = """
SELECT u.user_id::text, r.role_id::text, r.account_id::text, ar.name
  FROM app_users u
  JOIN app_user_roles r ON r.user_id = u.user_id
  JOIN app_roles ar ON ar.id = r.role_id
"""


@pytest.fixture(scope="module", name="roles_conn")
def roles_conn_fixture(databases: Any) -> Iterator[Any]:
    """
    One migrated database with six users, two accounts and four roles.
    """
    with sql.connect(databases.create(schema=True, migrate=True)) as conn:
        conn.execute(
            "INSERT INTO app_users (user_id, email) SELECT u::uuid, u || '@example.com'"
            " FROM unnest(%s::text[]) AS u",
            (USERS,),
        )
        conn.execute(
            "INSERT INTO whatsapp_accounts (id, name, phone_number_id)"
            " SELECT a::uuid, a, a FROM unnest(%s::text[]) AS a",
            (ACCOUNTS[1:],),
        )
        conn.execute("INSERT INTO app_roles (name) VALUES ('owner'), ('admin'), ('agent'), ('bot')")
        yield conn


def _cached(conn: Any) -> Counter[tuple[str, str, str | None, str]]:
    rows = conn.execute("SELECT user_id::text, roles_cache FROM app_users").fetchall()
    return Counter(
        (user_id, role["role_id"], role["account_id"], role["role_name"])
        for user_id, cache in rows
        for role in cache
    )


def _fresh(conn: Any) -> Counter[tuple[str, str, str | None, str]]:
    return Counter(tuple(row) for row in conn.execute(_FRESH_JOIN).fetchall())


def _pick(conn: Any, query: str, index: int) -> Any:
    rows = conn.execute(query).fetchall()
    return rows[index % len(rows)][0] if rows else None


def _run(conn: Any, op: tuple[Any, ...]) -> None:
    kind, a, b, c = op
    role_id = _pick(conn, "SELECT id FROM app_roles ORDER BY id", b)
    row_id = _pick(conn, "SELECT id FROM app_user_roles ORDER BY id", a)
    statements = {
        "insert": (
            "INSERT INTO app_user_roles (user_id, role_id, account_id) VALUES (%s, %s, %s)",
            (USERS[a % len(USERS)], role_id, ACCOUNTS[c % len(ACCOUNTS)]),
        ),
        "move": ("UPDATE app_user_roles SET user_id = %s WHERE id = %s", (USERS[b % 6], row_id)),
        "rerole": ("UPDATE app_user_roles SET role_id = %s WHERE id = %s", (role_id, row_id)),
        "reaccount": (
            "UPDATE app_user_roles SET account_id = %s WHERE id = %s",
            (ACCOUNTS[c % len(ACCOUNTS)], row_id),
        ),
        "delete": ("DELETE FROM app_user_roles WHERE id = %s", (row_id,)),
        "rename": ("UPDATE app_roles SET name = name || 'x' WHERE id = %s", (role_id,)),
        "delete_role": ("DELETE FROM app_roles WHERE id = %s", (role_id,)),
        "new_role": ("INSERT INTO app_roles (name) VALUES ('role' || %s::text)", (a * 100 + c,)),
        "truncate": ("TRUNCATE app_user_roles", None),
    }
    if kind == "insert" and role_id is None:
        return  # every role was deleted: nothing to grant
    statement, params = statements[kind]
    if kind == "truncate":
        # PostgreSQL refuses TRUNCATE while deferred trigger events are pending
        # in the transaction: fire them first (a no-op in autocommit).
        conn.execute("SET CONSTRAINTS wa_perfkit_user_roles_cache IMMEDIATE")
    try:
        with conn.transaction():  # a savepoint when the sequence runs in one transaction
            conn.execute(statement, params)
    except psycopg.errors.UniqueViolation:
        pass  # a generated role name was already taken: the operation did not happen


_OPS = st.tuples(
    st.sampled_from(
        ["insert"] * 4
        + ["move", "rerole", "reaccount", "delete", "rename", "delete_role", "new_role", "truncate"]
    ),
    st.integers(0, 40),
    st.integers(0, 40),
    st.integers(0, 40),
)


class TestRolesCache:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(ops=st.lists(_OPS, min_size=1, max_size=25), in_transaction=st.booleans())
    def test_cache_equals_a_fresh_join_after_any_sequence(
        self, roles_conn: Any, ops: list[tuple[Any, ...]], in_transaction: bool
    ) -> None:
        """Inserts, moves, updates, deletes, renames and truncates keep roles_cache exact."""
        if in_transaction:
            with roles_conn.transaction():
                for op in ops:
                    _run(roles_conn, op)
                # The cache is refreshed at commit; this fires the refresh now.
                roles_conn.execute("SET CONSTRAINTS wa_perfkit_user_roles_cache IMMEDIATE")
                assert _cached(roles_conn) == _fresh(roles_conn)
        else:
            for op in ops:
                _run(roles_conn, op)
                assert _cached(roles_conn) == _fresh(roles_conn)

    def test_moving_a_row_to_another_user_refreshes_both(self, roles_conn: Any) -> None:
        """UPDATE ... SET user_id removes the role from the old user's cache too."""
        roles_conn.execute("TRUNCATE app_user_roles")
        # Its own role: the property test before may have deleted every role.
        (role_id,) = roles_conn.execute(
            "INSERT INTO app_roles (name) VALUES ('mover-' || gen_random_uuid()) RETURNING id"
        ).fetchone()
        roles_conn.execute(
            "INSERT INTO app_user_roles (user_id, role_id) VALUES (%s, %s)", (USERS[0], role_id)
        )
        roles_conn.execute("UPDATE app_user_roles SET user_id = %s", (USERS[1],))
        caches = dict(
            roles_conn.execute(
                "SELECT user_id::text, jsonb_array_length(roles_cache) FROM app_users"
                " WHERE user_id = ANY(%s::uuid[])",
                (USERS[:2],),
            ).fetchall()
        )
        assert caches == {USERS[0]: 0, USERS[1]: 1}


class TestSeedTrigger:
    def test_the_seed_trigger_leaves_stale_roles_on_delete(self, fresh_dsn: str) -> None:
        """The seed's trigger reads NEW on DELETE (NULL), so the deleted role stays cached."""
        with sql.connect(fresh_dsn) as conn:
            conn.execute(_SEED_TRIGGER)
            conn.execute("INSERT INTO app_users (user_id, email) VALUES (%s, 'a@b')", (USERS[0],))
            conn.execute("INSERT INTO app_roles (name) VALUES ('admin')")
            conn.execute(
                "INSERT INTO app_user_roles (user_id, role_id) SELECT %s, id FROM app_roles",
                (USERS[0],),
            )
            conn.execute("DELETE FROM app_user_roles")
            stale = conn.execute("SELECT roles_cache FROM app_users").fetchone()[0]
            assert [role["role_name"] for role in stale] == ["admin"]
            # Migration 0002 drops the seed's trigger and backfills the exact cache.
            sql.apply_migrations(conn)
            assert conn.execute("SELECT roles_cache FROM app_users").fetchone()[0] == []


_SEED_TRIGGER = """
ALTER TABLE app_users ADD COLUMN roles_cache JSONB;
CREATE OR REPLACE FUNCTION update_user_roles_cache() RETURNS TRIGGER AS $$
BEGIN
  UPDATE app_users SET roles_cache = (
    SELECT json_agg(json_build_object(
      'role_id', r.role_id, 'account_id', r.account_id, 'role_name', ar.name))
    FROM app_user_roles r JOIN app_roles ar ON ar.id = r.role_id
    WHERE r.user_id = NEW.user_id)
  WHERE user_id = NEW.user_id;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER trigger_update_user_roles_cache
AFTER INSERT OR UPDATE OR DELETE ON app_user_roles
FOR EACH ROW EXECUTE FUNCTION update_user_roles_cache();
"""
