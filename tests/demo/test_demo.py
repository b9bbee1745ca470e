"""
`wa-perfkit demo`: measured figures, the /auth/me bound, every mode, read-after-write.
"""

from __future__ import annotations

import json
import re
import time

import psycopg
import pytest
import redis

from tests.postgres_services import Databases, asyncpg_url
from tests.services import free_port
from wa_perfkit.cli import main
from wa_perfkit.demo import ROUTES, DemoConfig, run_demo
from wa_perfkit.demo.app import create_app
from wa_perfkit.demo.load import Request, call, percentile
from wa_perfkit.demo.report import speed_up, to_table
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

    def test_table_columns_read_as_what_was_measured(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Route, p50/p95 without and with the cache, a speed-up, and what still queries."""
        assert main(["demo", "--requests", "3", "--db-latency-ms", "1"]) == 0
        out = capsys.readouterr().out
        header = (
            "| Route | No cache p50 | No cache p95 | Cached p50 | Cached p95 | Speed-up (p50) "
            "| Database reads left with the cache |"
        )
        assert header in out
        rows = {line.split("|")[1].strip(" `"): line for line in out.splitlines()
                if line.startswith("| `")}
        assert list(rows) == list(ROUTES)
        for line in rows.values():
            assert re.search(r"\| ×[\d.,]+ (faster|slower) \|", line), line
        assert rows["/auth/me"].rstrip().endswith("| none |")
        for route in ("/admin/users", "/conversations", "/messages/{conversation_id}"):
            assert "fresh" in rows[route].rsplit("|", 2)[1], rows[route]

    def test_no_internal_words(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Neither the help nor the table speaks of "the seed" or of "before/after" phases."""
        with pytest.raises(SystemExit):
            main(["demo", "--help"])
        assert main(["demo", "--requests", "2", "--db-latency-ms", "1"]) == 0
        out = capsys.readouterr().out
        assert "seed" not in out.lower()
        assert "Before" not in out and "After p" not in out

    def test_speed_up_wording(self) -> None:
        """p50 without / p50 with the cache, as "×N faster" (or slower), "n/a" without samples."""
        assert speed_up(160.0, 0.25) == "×640 faster"
        assert speed_up(3.0, 2.0) == "×1.5 faster"
        assert speed_up(2.0, 3.0) == "×1.5 slower"
        assert speed_up(float("nan"), 1.0) == "n/a"

    def test_bad_bounds_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unbounded request count is refused before any work, as a command-line error."""
        assert main(["demo", "--requests", "0"]) == 2
        assert "--requests" in capsys.readouterr().err


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The run printed nothing on stdout and exactly one line on stderr."""
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wa-perfkit: error: "), err
    return lines[0]


class TestDemoFailures:
    """Like `wa-perfkit sql`: one line on stderr and a non-zero exit, never a table."""

    def test_unreachable_redis(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Nothing listens at the Redis URL: exit 3 before any request is measured."""
        url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
        assert main(["demo", "--redis", url, "--requests", "2", "--db-latency-ms", "1"]) == 3
        line = one_error_line(capsys)
        assert "Redis" in line and "refused" in line and "hunter2" not in line

    @pytest.mark.parametrize("url", ["localhost:6379", "http://127.0.0.1:6379/0", "redis://:x@[::1"])
    def test_malformed_redis_url(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A URL redis-py cannot read: exit 3, and the URL's password is not echoed."""
        assert main(["demo", "--redis", url, "--requests", "2"]) == 3
        assert "Redis URL" in one_error_line(capsys)

    @pytest.mark.parametrize(
        "dsn",
        ["postgresql://nobody@127.0.0.1:{port}/nowhere", "not a dsn", "postgresql://x:p%zz@[::1"],
    )
    def test_bad_dsn(self, dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A DSN that cannot connect, or cannot be parsed: exit 3 like `wa-perfkit sql`."""
        dsn = dsn.format(port=free_port())
        assert main(["demo", "--dsn", dsn, "--requests", "2"]) == 3
        line = one_error_line(capsys)
        assert "cannot connect" in line or "invalid DSN" in line

    def test_missing_database(
        self, databases: Databases, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A server that answers but has no such database: exit 3, one line."""
        url = asyncpg_url(databases.create(schema=False)).rsplit("/", 1)[0] + "/no_such_db_here"
        assert main(["demo", "--dsn", url, "--requests", "2"]) == 3
        assert "does not exist" in one_error_line(capsys)


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

    async def test_postgres_mode_leaves_no_table(self, databases: Databases) -> None:
        """--dsn works in a schema of its own and drops it: the database is as it was."""
        conninfo = databases.create(schema=False)
        before = _relations(conninfo)
        result = await run_demo(
            DemoConfig(requests=4, conversations=200, dsn=asyncpg_url(conninfo))
        )
        assert result.errors == 0 and result.settings["store"] == "postgres"
        assert result.settings["db_latency_ms"] == 0.0
        assert result.queries["before"] > result.queries["after"] > 0
        assert _relations(conninfo) == before

    async def test_postgres_mode_never_touches_the_users_tables(
        self, databases: Databases
    ) -> None:
        """The user's own inbox tables (same names) keep their rows; none of theirs is read."""
        conninfo = databases.create(schema=True)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO whatsapp_accounts (name, phone_number_id, waba_id) "
                "VALUES ('theirs', '1', '2')"
            )
            conn.execute("INSERT INTO app_roles (name) VALUES ('admin'), ('agent')")
        before = _relations(conninfo)
        config = DemoConfig(requests=3, conversations=100, dsn=asyncpg_url(conninfo))
        result = await run_demo(config)
        assert result.errors == 0
        assert _relations(conninfo) == before
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT name FROM whatsapp_accounts").fetchall() == [("theirs",)]
            assert conn.execute("SELECT count(*) FROM app_roles").fetchone() == (2,)


def _relations(conninfo: str) -> list[tuple[str, str, int]]:
    """The user's schemas, and each table with its row count (schema, table, rows)."""
    user_schemas = "nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
    with psycopg.connect(conninfo) as conn:
        schemas = conn.execute(f"SELECT nspname FROM pg_namespace WHERE {user_schemas}")
        found = [(schema, "", 0) for (schema,) in schemas.fetchall()]
        tables = conn.execute(
            "SELECT nspname, relname FROM pg_class JOIN pg_namespace n "
            f"ON n.oid = relnamespace WHERE relkind = 'r' AND {user_schemas}"
        ).fetchall()
        for schema, table in tables:
            (rows,) = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone() or (0,)
            found.append((schema, table, rows))
    return sorted(found)


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


@pytest.mark.parametrize("kind", ["garbage", "truncated", "non-ascii", "5000-chars"])
async def test_the_demo_answers_400_to_a_bad_cursor(kind: str) -> None:
    """Garbage, truncated, non-ASCII or 5,000-character cursors: 400, never 500."""
    context = _context(DemoConfig(conversations=100))
    app = create_app(
        MemoryStore(context.data, 0.0), _after_cache(context),
        verifier=context.verifier, cursor_secret=context.cursor_secret,
    )
    agent = next(link for link in context.data.user_roles if link["account_id"])
    token = context.tokens[agent["user_id"]]
    first = await call(app, Request("c", "/conversations", token, {"limit": "2"}))
    real = first.body["next"]
    cursor = {
        "garbage": "garbage!",
        "truncated": real[:-7],
        "non-ascii": real[:-3] + "Жé€",
        "5000-chars": "A" * 5000,
    }[kind]
    bad = await call(app, Request("c", "/conversations", token, {"limit": "2", "cursor": cursor}))
    assert bad.status == 400
