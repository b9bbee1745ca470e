"""
`wa-perfkit demo`: measured figures, the /auth/me bound, every mode, read-after-write.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from tests.examples.conftest import asyncpg_url
from tests.postgres.conftest import Databases
from wa_perfkit.cli import main
from wa_perfkit.demo import ROUTES, DemoConfig, run_demo
from wa_perfkit.demo.app import create_app
from wa_perfkit.demo.load import Request, call, percentile
from wa_perfkit.demo.report import to_table
from wa_perfkit.demo.runner import _after_cache, _context
from wa_perfkit.demo.store import MemoryStore

pytestmark = pytest.mark.slow


class TestDemoRun:
    async def test_default_latency_auth_me_after_is_at_most_5_percent(self) -> None:
        """With the default 80 ms round trip, /auth/me after is at most 5% of before."""
        result = await run_demo(DemoConfig(requests=12))
        assert result.errors == 0
        assert result.settings["db_latency_ms"] == 80.0
        me = result.after["/auth/me"].p50_ms / result.before["/auth/me"].p50_ms
        assert me <= 0.05, to_table(result)
        # Caching off really pays the round trips; on, the cached routes pay none.
        assert result.before["/auth/me"].p50_ms >= 160
        assert result.queries["before"] > 3 > 1 > result.queries["after"]
        assert result.cache["hit_ratio"] == 1.0

    async def test_every_route_is_measured_in_both_phases(self) -> None:
        """Each route has its requests timed with caching off and on, all 2xx."""
        result = await run_demo(DemoConfig(requests=6, db_latency_ms=5, conversations=300))
        for route in ROUTES:
            assert result.before[route].requests == 6
            assert result.after[route].requests == 6
            assert result.before[route].errors == result.after[route].errors == 0
        # Routes whose data is cached end far below the ones that still query.
        assert result.after["/bot/profile"].p50_ms < result.after["/conversations"].p50_ms

    async def test_load_is_bounded_in_time(self) -> None:
        """No request starts after the deadline: a tiny bound cuts the run short."""
        started = time.perf_counter()
        result = await run_demo(
            DemoConfig(requests=500, db_latency_ms=50, max_seconds=0.3, conversations=200)
        )
        assert time.perf_counter() - started < 10
        assert sum(s.requests for s in result.before.values()) < 500 * len(ROUTES)

    def test_percentile_is_nearest_rank(self) -> None:
        """p50 and p95 are samples of the run (nearest rank), never interpolated."""
        samples = [float(n) for n in range(1, 101)]
        assert percentile(samples, 0.5) == 50.0
        assert percentile(samples, 0.95) == 95.0
        assert percentile([3.0], 0.95) == 3.0


class TestDemoCli:
    def test_json_on_stdout_progress_on_stderr(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json prints one JSON document; progress goes to stderr."""
        code = main(["demo", "--json", "--requests", "4", "--db-latency-ms", "2"])
        out, err = capsys.readouterr()
        assert code == 0
        document = json.loads(out)
        assert [route["endpoint"] for route in document["routes"]] == list(ROUTES)
        assert {"p50_ms", "p95_ms", "requests"} <= set(document["routes"][0]["before"])
        assert "requests" in err

    def test_table_has_the_seeds_columns(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The table: endpoint, before p50/p95, after p50/p95, gain."""
        assert main(["demo", "--requests", "3", "--db-latency-ms", "1"]) == 0
        out = capsys.readouterr().out
        assert "| Endpoint | Before p50 | Before p95 | After p50 | After p95 | Gain (p50) |" in out
        for route in ROUTES:
            assert f"`{route}`" in out

    def test_bad_bounds_exit_1(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unbounded request count is refused before any work."""
        assert main(["demo", "--requests", "0"]) == 1
        assert "--requests" in capsys.readouterr().err


class TestDemoModes:
    async def test_redis_mode_leaves_no_key(self, redis_url: str) -> None:
        """--redis caches in Redis and removes exactly its run's keys at the end."""
        result = await run_demo(
            DemoConfig(requests=4, db_latency_ms=2, conversations=200, redis_url=redis_url)
        )
        assert result.errors == 0 and result.settings["cache"] == "redis"
        assert result.cache["hits"] > 0 and result.cache["backend_errors"] == 0
        client = redis.Redis.from_url(redis_url)
        try:
            assert not list(client.scan_iter("wa_perfkit_demo:*", count=1000))
        finally:
            client.close()

    async def test_postgres_mode_cleans_up(self, databases: Databases) -> None:
        """--dsn serves the sample data from Postgres and deletes its rows afterwards."""
        import psycopg

        conninfo = databases.create(schema=False)
        result = await run_demo(
            DemoConfig(requests=4, conversations=200, dsn=asyncpg_url(conninfo))
        )
        assert result.errors == 0 and result.settings["store"] == "postgres"
        assert result.settings["db_latency_ms"] == 0.0
        with psycopg.connect(conninfo) as conn:
            for table in ("whatsapp_accounts", "app_users", "conversations", "messages"):
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


class TestDemoApp:
    async def test_write_then_read_is_never_stale(self) -> None:
        """POST a message: the next read of its conversation shows it (the entry was dropped)."""
        context = _context(DemoConfig(conversations=100))
        store = MemoryStore(context.data, 0.0)
        cache = _after_cache(context)
        app = create_app(
            store, cache, verifier=context.verifier, cursor_secret=context.cursor_secret
        )
        agent = next(link for link in context.data.user_roles if link["account_id"])
        token = context.tokens[agent["user_id"]]
        conversation = next(
            row for row in context.data.conversations if row["account_id"] == agent["account_id"]
        )
        path = f"/messages/{conversation['id']}"
        first = await call(app, Request(path, path, token))
        assert first.status == 200
        for text in ("one", "two"):
            sent = await call(app, Request(path, path, token, method="POST", body={"text": text}))
            assert sent.status == 201
            again = await call(app, Request(path, path, token))
            assert again.body["conversation"]["last_message"] == text
            assert again.body["items"][0]["content"] == text

    async def test_refusals(self) -> None:
        """No token: 401 + RFC 6750 challenge; agent on /admin/users: 403; bad cursor: 400."""
        context = _context(DemoConfig(conversations=100))
        app = create_app(
            MemoryStore(context.data, 0.0), _after_cache(context),
            verifier=context.verifier, cursor_secret=context.cursor_secret,
        )
        agent = next(link for link in context.data.user_roles if link["account_id"])
        token = context.tokens[agent["user_id"]]
        missing = await call(app, Request("me", "/auth/me"))
        assert missing.status == 401
        assert missing.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert (await call(app, Request("admin", "/admin/users", token))).status == 403
        bad = Request("c", "/conversations", token, {"cursor": "garbage"})
        assert (await call(app, bad)).status == 400
