"""
Every failure of ``wa-perfkit sql`` has its own exit code, and none prints the DSN.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo

from wa_perfkit import sql
from wa_perfkit.cli import main
from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.sql._connect import translate_errors

Connect = Callable[[str], Any]

# Letters that appear in none of our messages, so any of them in the output leaks.
_MARKERS = "QZXJ"
_passwords = st.text(
    alphabet=st.sampled_from([*_MARKERS, "%", "@", "[", "]", ":", "/", "?", "#", "'", "é", "9"]),
    min_size=1,
    max_size=24,
).map(lambda text: "QZ" + text)


def _leaks(password: str, output: str) -> list[str]:
    """Every 3-character piece of the password, with a marker letter, found in output."""
    pieces = {password[i : i + 3] for i in range(len(password) - 2)}
    return [p for p in pieces if any(m in p for m in _MARKERS) and p in output]


class TestExitCodes:
    def test_statement_timeout_is_exit_code_10(self, fresh_dsn: str, connect: Connect) -> None:
        """A statement cancelled by statement_timeout is a timeout, not a lost connection."""
        conn = connect(fresh_dsn)
        conn.execute("SET statement_timeout = '20ms'")
        with pytest.raises(SQLToolkitError) as caught, translate_errors():
            conn.execute("SELECT pg_sleep(5)")
        assert caught.value.exit_code == sql.ExitCode.TIMEOUT == 10
        assert "statement_timeout" in str(caught.value)

    def test_lock_timeout_through_the_cli_is_exit_code_10(
        self, fresh_dsn: str, connect: Connect, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`sql explain` under lock_timeout, with a table locked by another session: exit 10."""
        locker = connect(fresh_dsn)
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE")
        dsn = make_conninfo(fresh_dsn, options="-c lock_timeout=50")
        assert main(["sql", "explain", "--dsn", dsn]) == sql.ExitCode.TIMEOUT
        err = capsys.readouterr().err
        assert "lock_timeout" in err
        assert "connection lost" not in err
        locker.execute("ROLLBACK")

    def test_a_deadlock_is_exit_code_11(self, fresh_dsn: str, connect: Connect) -> None:
        """Two sessions locking two rows in opposite orders: the victim gets exit code 11."""
        first, second = connect(fresh_dsn), connect(fresh_dsn)
        first.execute("INSERT INTO app_roles (name) VALUES ('a'), ('b')")
        for conn in (first, second):
            conn.execute("SET deadlock_timeout = '10ms'")
            conn.execute("BEGIN")
        first.execute("UPDATE app_roles SET name = name WHERE name = 'a'")
        second.execute("UPDATE app_roles SET name = name WHERE name = 'b'")
        errors: list[SQLToolkitError] = []

        def cross(conn: Any, name: str) -> None:
            try:
                with translate_errors():
                    conn.execute("UPDATE app_roles SET name = name WHERE name = %s", (name,))
            except SQLToolkitError as exc:
                errors.append(exc)
            conn.execute("ROLLBACK")

        thread = threading.Thread(target=cross, args=(second, "a"))
        thread.start()
        cross(first, "b")
        thread.join(30)
        assert [exc.exit_code for exc in errors] == [sql.ExitCode.CONFLICT]
        assert sql.ExitCode.CONFLICT == 11
        assert "deadlock detected" in str(errors[0])


class TestNoDsnInMessages:
    @pytest.mark.parametrize(
        ("template", "password"),
        [
            ("postgresql://app:{pw}@127.0.0.1:1/db", "s3cr%t-QZ"),
            ("postgresql://app:{pw}@[::1:5432/db", "QZ-ipv6-pass"),
            ("postgresql://app:{pw}@127.0.0.1:1/db", "pa@QZhost"),
            ("host=127.0.0.1 port=1 password='{pw}", "QZunterminated"),
        ],
    )
    def test_known_parse_failures_print_no_part_of_the_password(
        self, template: str, password: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A raw %, an unclosed IPv6 bracket, an @ or a quote: exit 3, DSN and password unseen."""
        dsn = template.format(pw=password)
        assert main(["sql", "status", "--dsn", dsn]) == sql.ExitCode.CONNECTION
        err = capsys.readouterr().err
        assert err.startswith("wa-perfkit: error:")
        assert not _leaks(password, err)
        assert "127.0.0.1" not in err or "invalid DSN" not in err

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(password=_passwords, form=st.sampled_from(["uri", "ipv6", "keyword"]))
    @example(password="QZ%", form="uri")
    def test_generated_passwords_never_reach_the_message(self, password: str, form: str) -> None:
        """Whatever the password, the error of `connect` (and its cause chain) omits it."""
        dsn = {
            "uri": f"postgresql://app:{password}@127.0.0.1:1/db",
            "ipv6": f"postgresql://app:{password}@[::1:1/db",
            "keyword": f"host=127.0.0.1 port=1 password={password}",
        }[form]
        with pytest.raises(SQLToolkitError) as caught:
            sql.connect(dsn)
        assert caught.value.exit_code == sql.ExitCode.CONNECTION
        chain = str(caught.value) + repr(caught.value.__cause__) + repr(caught.value.__context__)
        assert not _leaks(password, chain)


def test_a_dsn_given_without_dsn_flag_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    """`sql status postgresql://app:secret@host/db` is a usage error that hides the word."""
    with pytest.raises(SystemExit) as caught:
        main(["sql", "status", "postgresql://app:QZsecretQZ@127.0.0.1:1/db"])
    assert caught.value.code == sql.ExitCode.USAGE
    captured = capsys.readouterr()
    assert "QZsecret" not in captured.err + captured.out
    assert "--dsn" in captured.err
