"""
The roles-cache triggers add no deadlock between admins editing one user's roles.

Without triggers, transactions that revoke or grant one user's roles in one
global order (here: by role name) never deadlock: each waits at most for a
role row another holds, and that one never waits back. A trigger that locks
the user's row in the middle of such a transaction (after the statement has
locked a role row) makes a cycle possible: A holds the user and wants a role
row B holds, B holds that role row and wants the user.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg

from wa_perfkit import sql

Connect = Callable[[str], Any]
USER = "00000000-0000-0000-0000-0000000000a1"
ROLES = ("r1", "r2", "r3", "r4", "r5", "r6")
_POLLS = 3000


def _prepare(conn: Any) -> None:
    conn.execute("INSERT INTO app_users (user_id, email) VALUES (%s, 'a@example.com')", (USER,))
    conn.execute("INSERT INTO app_roles (name) SELECT unnest(%s::text[])", (list(ROLES),))
    conn.execute(
        "INSERT INTO app_user_roles (user_id, role_id)"
        " SELECT %s, id FROM app_roles WHERE name = ANY(%s)",
        (USER, ["r1", "r2", "r3"]),
    )


def _revoke(conn: Any, role: str) -> None:
    conn.execute(
        "DELETE FROM app_user_roles WHERE user_id = %s"
        " AND role_id = (SELECT id FROM app_roles WHERE name = %s)",
        (USER, role),
    )


def _grant(conn: Any, role: str) -> None:
    conn.execute(
        "INSERT INTO app_user_roles (user_id, role_id)"
        " SELECT %s, id FROM app_roles WHERE name = %s",
        (USER, role),
    )


def _assert_cache_exact(conn: Any) -> None:
    cached = conn.execute("SELECT roles_cache FROM app_users WHERE user_id = %s", (USER,))
    names = Counter(role["role_name"] for role in cached.fetchone()[0])
    fresh = conn.execute(
        "SELECT ar.name FROM app_user_roles r JOIN app_roles ar ON ar.id = r.role_id"
        " WHERE r.user_id = %s",
        (USER,),
    ).fetchall()
    assert names == Counter(name for (name,) in fresh)


def _until(probe: Callable[[], bool]) -> None:
    for _ in range(_POLLS):
        if probe():
            return
        time.sleep(0.01)
    raise AssertionError("the other session neither finished nor waited")


def _blocked_or_done(observer: Any, pid: int, done: threading.Event) -> Callable[[], bool]:
    def probe() -> bool:
        row = observer.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        return done.is_set() or (row is not None and row[0] == "Lock")

    return probe


class _Step(threading.Thread):
    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.action, self.done, self.error = action, threading.Event(), None

    def run(self) -> None:
        try:
            self.action()
        except psycopg.Error as exc:
            self.error = exc  # type: ignore[assignment]
        finally:
            self.done.set()


class TestTwoAdmins:
    def test_revokes_in_one_order_do_not_deadlock(self, databases: Any, connect: Connect) -> None:
        """
        A revokes r1 then r2, B revokes r2 (then commits): no deadlock, exact cache.

        B's revoke is issued while A holds r1 (and, with an immediate trigger,
        the user); A's revoke of r2 then waits for B.
        """
        dsn = databases.create(schema=True, migrate=True)
        first, second, observer = connect(dsn), connect(dsn), connect(dsn)
        _prepare(first)
        for conn in (first, second):
            conn.execute("SET deadlock_timeout = '20ms'")
            conn.execute("BEGIN")
        _revoke(first, "r1")
        b_revoke = _Step(lambda: _revoke(second, "r2"))
        b_revoke.start()
        _until(_blocked_or_done(observer, second.info.backend_pid, b_revoke.done))
        a_revoke = _Step(lambda: _revoke(first, "r2"))
        a_revoke.start()
        _until(_blocked_or_done(observer, first.info.backend_pid, a_revoke.done))
        b_revoke.join(30)
        second.execute("ROLLBACK" if b_revoke.error else "COMMIT")
        a_revoke.join(30)
        first.execute("ROLLBACK" if a_revoke.error else "COMMIT")
        assert (a_revoke.error, b_revoke.error) == (None, None)
        _assert_cache_exact(observer)


class TestChurn:
    def test_four_admins_toggling_roles_in_one_order_never_deadlock(
        self, databases: Any, connect: Connect
    ) -> None:
        """4 connections x 30 transactions toggling sorted role subsets: 0 deadlocks."""
        dsn = databases.create(schema=True, migrate=True)
        _prepare(connect(dsn))
        deadlocks: list[str] = []

        def admin(seed: int) -> None:
            rng = random.Random(seed)
            with sql.connect(dsn) as conn:
                conn.execute("SET deadlock_timeout = '20ms'")
                for _ in range(30):
                    roles = sorted(rng.sample(ROLES, rng.randint(1, 3)))
                    try:
                        with conn.transaction():
                            for role in roles:
                                held = conn.execute(
                                    "SELECT 1 FROM app_user_roles r JOIN app_roles ar"
                                    " ON ar.id = r.role_id WHERE r.user_id = %s AND ar.name = %s",
                                    (USER, role),
                                ).fetchone()
                                (_revoke if held else _grant)(conn, role)
                    except psycopg.errors.DeadlockDetected as exc:
                        deadlocks.append(str(exc).split("\n", 1)[0])

        threads = [threading.Thread(target=admin, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert deadlocks == []
        _assert_cache_exact(connect(dsn))
