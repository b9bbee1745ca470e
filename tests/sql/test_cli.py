"""
``wa-perfkit sql`` through `wa_perfkit.cli.main`: output and exit codes.
"""

from __future__ import annotations

from typing import Any

import pytest

from wa_perfkit.cli import main
from wa_perfkit.sql import ExitCode


class TestSqlCommand:
    def test_show_prints_every_migration(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`sql show` prints the three migrations, no database needed."""
        assert main(["sql", "show"]) == ExitCode.OK
        out = capsys.readouterr().out
        assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_conversations_account_keyset" in out
        assert "0003_users_with_roles_view" in out

    def test_show_schema_prints_the_reference_tables(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`sql show --schema` prints the seven inbox tables."""
        assert main(["sql", "show", "--schema"]) == ExitCode.OK
        assert "CREATE TABLE IF NOT EXISTS app_user_roles" in capsys.readouterr().out

    @pytest.mark.parametrize(
        "dsn", ["postgresql://postgres@127.0.0.1:1/nothing", "this is not a dsn"]
    )
    def test_a_bad_dsn_exits_3(self, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
        """An unreachable server or malformed DSN is exit code 3 with one line on stderr."""
        assert main(["sql", "status", "--dsn", dsn]) == ExitCode.CONNECTION == 3
        err = capsys.readouterr().err
        assert err.startswith("wa-perfkit: error:")
        assert "Traceback" not in err

    def test_a_missing_table_exits_4_and_names_it(
        self, databases: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`apply` on a database without the inbox tables names them, exit code 4."""
        dsn = databases.create(schema=False)
        assert main(["sql", "apply", "--dsn", dsn]) == ExitCode.MISSING_TABLE == 4
        assert (
            "missing tables whatsapp_accounts, contacts, conversations" in capsys.readouterr().err
        )

    def test_explain_on_a_missing_table_exits_4_and_names_it(
        self, databases: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`explain` on an empty database names the first table it needs."""
        dsn = databases.create(schema=False)
        assert main(["sql", "explain", "--dsn", dsn]) == ExitCode.MISSING_TABLE
        assert "missing table conversations" in capsys.readouterr().err

    def test_apply_then_status_then_apply_again(
        self, fresh_dsn: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """status exits 6 before, apply applies, status exits 0, apply again is a no-op."""
        assert main(["sql", "status", "--dsn", fresh_dsn]) == ExitCode.NOT_UP_TO_DATE == 6
        assert "pending" in capsys.readouterr().out
        assert main(["sql", "apply", "--dsn", fresh_dsn]) == ExitCode.OK
        assert "applied 0001_indexes" in capsys.readouterr().out
        assert main(["sql", "status", "--dsn", fresh_dsn]) == ExitCode.OK
        assert capsys.readouterr().out.count(" applied at ") == 3
        assert main(["sql", "apply", "--dsn", fresh_dsn]) == ExitCode.OK
        assert "up to date" in capsys.readouterr().out

    def test_apply_with_schema_creates_the_tables(
        self, databases: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`apply --with-schema` works on an empty database."""
        dsn = databases.create(schema=False)
        assert main(["sql", "apply", "--with-schema", "--dsn", dsn]) == ExitCode.OK
        assert "applied 0003_users_with_roles_view" in capsys.readouterr().out

    def test_explain_reports_index_and_time(
        self, seeded: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`explain --require-index --plan` on the migrated data: four index verdicts, exit 0."""
        assert main(["sql", "explain", "--plan", "--require-index", "--dsn", seeded.dsn]) == 0
        out = capsys.readouterr().out
        assert out.count(" index ") >= 4
        assert " ms" in out
        assert "Index Scan" in out

    def test_explain_require_index_exits_7_on_a_sequential_scan(
        self, fresh_dsn: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without the indexes, `--require-index` fails the run with exit code 7."""
        code = main(["sql", "explain", "--require-index", "--dsn", fresh_dsn])
        assert code == ExitCode.SEQUENTIAL_SCAN
        assert "SEQUENTIAL SCAN" in capsys.readouterr().out

    def test_no_dsn_is_a_usage_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without --dsn nor WA_PERFKIT_DSN/DATABASE_URL the command exits 2."""
        monkeypatch.delenv("WA_PERFKIT_DSN", raising=False)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        with pytest.raises(SystemExit) as caught:
            main(["sql", "status"])
        assert caught.value.code == ExitCode.USAGE
