"""
Real PostgreSQL for the tests: find a server, make throwaway databases, seed one.

tests/conftest.py registers the fixtures below for the whole suite, so every
folder that needs a database (tests/sql, tests/pagination, tests/examples...)
shares one server lookup, one seeded database and one clean-up per session.

The server is found in this order: ``$WA_PERFKIT_PG_DSN``; the default local
server on 127.0.0.1:5432 (as ``postgres``, then ``root``); a throwaway server
made with ``initdb``/``pg_ctl`` from /usr/lib/postgresql/*/bin on a free port.
Without any, the tests skip with what to install, except under ``CI``, where a
missing database is a failure, never a silent skip.

Every database a session uses is created here under a random
``wa_perfkit_test_*`` name and dropped at the end; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wa_perfkit import sql

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
except ImportError:  # without the postgres extra, every fixture below skips
    psycopg = None

SEED_SQL = Path(__file__).with_name("postgres_seed.sql")
_EXTRA_HINT = "pip install 'wa-perfkit[postgres]'"
PAGINATION_ACCOUNT = "00000000-0000-0000-0000-00000000feed"
_LOCAL_CANDIDATES = (
    "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
    "host=127.0.0.1 port=5432 user=root dbname=postgres",
)
_INSTALL_HINT = (
    "PostgreSQL is not reachable: set WA_PERFKIT_PG_DSN to a server's DSN, or install "
    "PostgreSQL 15 (Debian: apt-get install postgresql) and run it on 127.0.0.1:5432"
)


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _throwaway_server() -> Iterator[str | None]:
    """
    Start a private server from the PostgreSQL binaries, if any are installed.
    """
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins or not Path(bins[-1], "initdb").exists():
        yield None
        return
    bindir = bins[-1]
    datadir = tempfile.mkdtemp(prefix="wa_perfkit_pg_")
    # initdb refuses to run as root: run the server as the postgres user then.
    as_user: list[str] = []
    if os.geteuid() == 0 and shutil.which("runuser"):
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(datadir, "postgres")
    port = _free_port()
    run = [*as_user, f"{bindir}/initdb", "-D", datadir, "-U", "postgres", "--auth=trust"]
    start = [*as_user, f"{bindir}/pg_ctl", "-D", datadir, "-w", "-l", f"{datadir}/log"]
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {datadir}"
    try:
        subprocess.run(run, check=True, capture_output=True)
        subprocess.run([*start, "-o", options, "start"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(datadir, ignore_errors=True)
        yield None
        return
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run([*start, "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture(scope="session", name="pg_server")
def pg_server_fixture() -> Iterator[str]:
    """
    DSN of a maintenance database on a reachable PostgreSQL server.
    """
    if psycopg is None:
        pytest.skip(_EXTRA_HINT)
    from_env = os.environ.get("WA_PERFKIT_PG_DSN")
    candidates = [from_env] if from_env else list(_LOCAL_CANDIDATES)
    for dsn in candidates:
        if _reachable(dsn):
            yield dsn
            return
    with _throwaway_server() as dsn:
        if dsn is not None and _reachable(dsn):
            yield dsn
            return
    if os.environ.get("CI"):
        pytest.fail(_INSTALL_HINT)
    pytest.skip(_INSTALL_HINT)


@dataclass
class Databases:
    """
    Creates throwaway databases and drops them (and only them) at the end.
    """

    server: str
    names: list[str]
    roles: list[str]

    def create(self, *, schema: bool = True, migrate: bool = False) -> str:
        """
        Create a database with a random name and return its DSN.
        """
        name = f"wa_perfkit_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        self.names.append(name)
        dsn = make_conninfo(self.server, dbname=name)
        with sql.connect(dsn) as conn:
            if schema:
                sql.apply_schema(conn)
            if migrate:
                sql.apply_migrations(conn)
        return dsn

    def create_role(self) -> str:
        """
        Create a login role with no privileges (dropped at the end).
        """
        name = f"wa_perfkit_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {name} LOGIN")
        self.roles.append(name)
        return name

    def drop_all(self) -> None:
        # Each DROP DATABASE waits for a checkpoint (0.2-2.5 s each here, one after the
        # other): issued all at once they share one or two (30 databases: 31 s -> 1 s).
        with ThreadPoolExecutor(max_workers=max(1, min(32, len(self.names)))) as pool:
            list(pool.map(self._drop, self.names))
        with psycopg.connect(self.server, autocommit=True) as admin:
            for role in self.roles:
                admin.execute(f"DROP ROLE IF EXISTS {role}")

    def _drop(self, name: str) -> None:
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session", name="databases")
def databases_fixture(pg_server: str) -> Iterator[Databases]:
    """
    The session's throwaway databases.
    """
    databases = Databases(pg_server, [], [])
    try:
        yield databases
    finally:
        databases.drop_all()


@dataclass(frozen=True)
class SeededDatabase:
    """
    The session's big database: 200,000 messages, migrated and analyzed.
    """

    dsn: str
    before: list[sql.ExplainResult]
    after: list[sql.ExplainResult]


@pytest.fixture(scope="session", name="seeded")
def seeded_fixture(databases: Databases) -> SeededDatabase:
    """
    Seed once per session, EXPLAIN, migrate, ANALYZE, EXPLAIN again.
    """
    dsn = databases.create(schema=True)
    with sql.connect(dsn) as conn:
        conn.execute(SEED_SQL.read_bytes())
        conn.execute("ANALYZE")
        before = sql.explain_hot_queries(conn)
        sql.apply_migrations(conn)
        conn.execute("ANALYZE")
        after = sql.explain_hot_queries(conn)
    return SeededDatabase(dsn, before, after)


@pytest.fixture(name="fresh_dsn")
def fresh_dsn_fixture(databases: Databases) -> str:
    """
    A new database with the inbox schema and no migration applied.
    """
    return databases.create(schema=True)


@pytest.fixture(name="connect")
def connect_fixture() -> Iterator[Callable[[str], Any]]:
    """
    Open autocommit connections that are closed after the test.
    """
    opened: list[Any] = []

    def open_(dsn: str) -> Any:
        conn = sql.connect(dsn)
        opened.append(conn)
        return conn

    yield open_
    for conn in opened:
        conn.close()


_PGBOUNCER_HINT = (
    "pgbouncer is not installed (Debian: apt-get install pgbouncer; `make` installs it "
    "when it can): the transaction-pooler tests need it"
)


@pytest.fixture(scope="session", name="pgbouncer")
def pgbouncer_fixture(pg_server: str) -> Iterator[Callable[[str], str]]:
    """
    A PgBouncer in transaction mode in front of the test server.

    Yields a function turning a database DSN into the same database through
    PgBouncer. Without the binary the tests skip with what to install, except
    under ``CI``, where it is a failure.
    """
    from tests._pgbouncer import running_pgbouncer

    binary = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(_PGBOUNCER_HINT)
        pytest.skip(_PGBOUNCER_HINT)
    with running_pgbouncer(binary, pg_server) as bouncer:

        def through(dsn: str) -> str:
            return make_conninfo(bouncer, dbname=conninfo_to_dict(dsn)["dbname"])

        yield through


def asyncpg_url(conninfo: str) -> str:
    """Turn a libpq conninfo (what `Databases.create` returns) into a postgresql:// URL."""
    parts = conninfo_to_dict(conninfo)
    user = parts.get("user", "postgres")
    password = f":{parts['password']}" if parts.get("password") else ""
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", "5432")
    return f"postgresql://{user}{password}@{host}:{port}/{parts['dbname']}"
