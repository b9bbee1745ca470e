"""
Two ``apply`` runs at once: the second waits without a snapshot, then finds nothing to do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from wa_perfkit import sql
from wa_perfkit.cli import main
from wa_perfkit.errors import SQLToolkitError

Connect = Callable[[str], Any]
_STEP_LIMIT = 3000  # bounded polls of pg_stat_activity (about 30 s in all)


def _wait_until(probe: Callable[[], bool], what: str) -> None:
    for _ in range(_STEP_LIMIT):
        if probe():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


def _waiting(observer: Any, pid: int, event: str) -> Callable[[], bool]:
    def probe() -> bool:
        row = observer.execute(
            "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        return row is not None and row[0] == "Lock" and row[1] == event

    return probe


class _Run(threading.Thread):
    """`apply_migrations` on its own connection, in a thread; keeps its result or error."""

    def __init__(self, conn: Any, **options: Any) -> None:
        super().__init__(daemon=True)
        self.conn, self.options = conn, options
        self.result: sql.ApplyReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = sql.apply_migrations(self.conn, **self.options)
        except BaseException as exc:  # reported by the test
            self.error = exc


class TestConcurrentApply:
    def test_a_second_apply_waits_for_the_first_and_neither_deadlocks(
        self, fresh_dsn: str, connect: Connect
    ) -> None:
        """
        Run 1 builds indexes CONCURRENTLY while run 2 waits for the lock: both succeed.

        An open snapshot (a third session) holds run 1 inside its first concurrent
        build until run 2 is waiting for the apply lock; the next concurrent build
        must not wait for run 2 (the old blocking lock call held a snapshot there).
        """
        holder, observer = connect(fresh_dsn), connect(fresh_dsn)
        first, second = connect(fresh_dsn), connect(fresh_dsn)
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT count(*) FROM conversations")
        run1 = _Run(first)
        run1.start()
        _wait_until(_waiting(observer, first.info.backend_pid, "virtualxid"), "run 1 builds")
        run2 = _Run(second)
        run2.start()
        _wait_until(_waiting_for_apply_lock(observer, second.info.backend_pid), "run 2 waits")
        holder.execute("COMMIT")
        run1.join(60)
        run2.join(60)
        assert run1.error is None, run1.error
        assert run2.error is None, run2.error
        assert run1.result is not None and len(run1.result.applied) == 3
        assert run2.result is not None and not run2.result.changed

    def test_waiting_too_long_is_exit_code_9_naming_the_holder(
        self, fresh_dsn: str, connect: Connect, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A run that cannot get the apply lock in time exits 9 and says who holds it."""
        holder = connect(fresh_dsn)
        holder.execute("SET application_name = 'deploy-42'")
        holder.execute("SELECT pg_advisory_lock(%s)", (sql.APPLY_LOCK_KEY,))
        with pytest.raises(SQLToolkitError) as caught:
            sql.apply_migrations(connect(fresh_dsn), lock_wait=0.2)
        assert caught.value.exit_code == sql.ExitCode.LOCKED == 9
        assert f"pid {holder.info.backend_pid}" in str(caught.value)
        assert "deploy-42" in str(caught.value)
        code = main(["sql", "apply", "--lock-wait", "0.1", "--dsn", fresh_dsn])
        assert code == sql.ExitCode.LOCKED
        assert "deploy-42" in capsys.readouterr().err


def _waiting_for_apply_lock(observer: Any, pid: int) -> Callable[[], bool]:
    """Run 2 waits for the apply lock: blocked on it (old code) or polling for it."""

    def probe() -> bool:
        row = observer.execute(
            "SELECT wait_event, application_name FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        return row is not None and (row[0] == "advisory" or row[1].endswith("waiting for lock)"))

    return probe
