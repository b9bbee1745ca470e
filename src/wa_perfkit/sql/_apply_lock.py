"""
The lock that serialises ``apply`` runs, taken without holding a snapshot.

A session that waits inside ``pg_advisory_lock()`` is running a statement,
so it holds a snapshot for the whole wait; ``CREATE INDEX CONCURRENTLY`` in
the session that holds the lock waits for every snapshot older than its own
to go away, the two wait for each other, and PostgreSQL kills one of them
("deadlock detected"). So the waiting run asks with ``pg_try_advisory_lock()``
(one short statement, autocommit) and sleeps in Python between attempts, when
it has no transaction open. While it waits, its ``application_name`` says so,
and it can tell who holds the lock (pid, application_name, since when) from
``pg_locks`` and ``pg_stat_activity``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.sql.exit_codes import ExitCode

if TYPE_CHECKING:
    import psycopg

__all__ = ["APPLY_LOCK_KEY", "acquire_apply_lock", "lock_holder", "release_apply_lock"]

#: Key of the session advisory lock held while applying (a fixed constant).
APPLY_LOCK_KEY: Final = 0x77615F706B6974
_FIRST_PAUSE: Final = 0.05
_LONGEST_PAUSE: Final = 1.0
_WAITING_SUFFIX: Final = " (waiting for lock)"
_HOLDER: Final = """
SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start, a.state
  FROM pg_catalog.pg_locks l
  JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted
   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND l.classid = %s AND l.objid = %s AND l.objsubid = 1
 LIMIT 1"""


def acquire_apply_lock(
    conn: psycopg.Connection[Any],
    wait: float,
    on_wait: Callable[[str], None] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """
    Take the apply lock, polling for at most ``wait`` seconds.

    Args:
        conn: an autocommit connection (no transaction may be open).
        wait: seconds to keep trying before giving up.
        on_wait: called once, with who holds the lock, if the first try fails.
        clock: monotonic clock (injectable for tests).
        sleep: how to pause between tries.

    Raises:
        SQLToolkitError: `ExitCode.LOCKED` if another session still holds the
            lock after ``wait`` seconds; the message names that session.
    """
    if _try(conn):
        return
    deadline = clock() + wait
    holder = lock_holder(conn)
    if on_wait is not None:
        on_wait(f"another apply is running ({holder}); waiting up to {wait:g} s")
    original = str(conn.execute("SHOW application_name").fetchone()[0])  # type: ignore[index]
    _set_name(conn, original[: 63 - len(_WAITING_SUFFIX)] + _WAITING_SUFFIX)
    try:
        pause = _FIRST_PAUSE
        while clock() < deadline:
            # No transaction is open here: this session holds no snapshot while it sleeps.
            sleep(min(pause, max(0.0, deadline - clock())))
            if _try(conn):
                return
            pause = min(pause * 2, _LONGEST_PAUSE)
        holder = lock_holder(conn)
    finally:
        _set_name(conn, original)
    raise SQLToolkitError(
        f"another apply still holds the migration lock after {wait:g} s ({holder}); "
        "retry when it has finished, or raise --lock-wait",
        ExitCode.LOCKED,
    )


def release_apply_lock(conn: psycopg.Connection[Any]) -> None:
    """
    Release the apply lock taken by `acquire_apply_lock`.

    Args:
        conn: the connection that holds it.
    """
    conn.execute("SELECT pg_advisory_unlock(%s)", (APPLY_LOCK_KEY,))


def lock_holder(conn: psycopg.Connection[Any]) -> str:
    """
    Describe the session holding the apply lock.

    Args:
        conn: any connection to the same database.

    Returns:
        e.g. ``held by pid 4242, application_name 'deploy', connected since
        2026-01-01 10:00:00+00``, or a note that it was released meanwhile.
    """
    classid, objid = APPLY_LOCK_KEY >> 32, APPLY_LOCK_KEY & 0xFFFFFFFF
    row = conn.execute(_HOLDER, (classid, objid)).fetchone()
    if row is None:
        return "holder not visible: released meanwhile, or no privilege to see it"
    pid, name, address, since, state = row
    where = f", from {address}" if address else ""
    when = f", connected since {since:%Y-%m-%d %H:%M:%S%z}" if since else ""
    return f"held by pid {pid}, application_name {name!r}{where}{when}, {state or 'unknown'}"


def _try(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (APPLY_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def _set_name(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute("SELECT pg_catalog.set_config('application_name', %s, false)", (name,))
