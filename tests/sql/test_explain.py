"""
EXPLAIN (ANALYZE, BUFFERS) of the hot queries on 200,000 seeded messages.
"""

from __future__ import annotations

from typing import Any

import pytest

from wa_perfkit import sql

HOT = [
    "list conversations of an account",
    "messages of a conversation",
    "account by phone_number_id",
    "user with roles",
]


class TestExplain:
    def test_the_seed_has_two_hundred_thousand_messages(self, seeded: Any) -> None:
        """The data set is the size the issue asks for."""
        with sql.connect(seeded.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] >= 200_000

    def test_the_four_hot_queries_are_explained(self, seeded: Any) -> None:
        """Each hot query gets a verdict, a time and buffer counts."""
        assert [result.query.name for result in seeded.after] == HOT
        for result in seeded.after:
            assert result.execution_ms >= 0
            assert result.shared_hit + result.shared_read >= 0

    @pytest.mark.parametrize("name", HOT)
    def test_after_the_migrations_each_hot_query_uses_an_index(
        self, seeded: Any, name: str
    ) -> None:
        """No hot query reads a table sequentially once the migrations are applied."""
        result = next(r for r in seeded.after if r.query.name == name)
        assert result.uses_index, result.tree()
        assert result.verdict == "index"

    def test_before_the_migrations_the_large_tables_were_scanned(self, seeded: Any) -> None:
        """Without the indexes, listing messages is a sequential scan of messages."""
        before = {result.query.name: result for result in seeded.before}
        assert "messages" in before["messages of a conversation"].seq_scans
        assert "conversations" in before["list conversations of an account"].seq_scans

    def test_the_user_query_reads_roles_cache_after_migration_0002(self, seeded: Any) -> None:
        """Once roles are denormalised the user lookup no longer joins three tables."""
        user = next(r for r in seeded.after if r.query.name == "user with roles")
        assert "roles_cache" in user.query.sql
        assert "JOIN" not in user.query.sql
