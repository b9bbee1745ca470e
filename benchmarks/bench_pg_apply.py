"""
``wa-perfkit sql apply`` on a live inbox: what a writer and a user lookup feel.

Plain, bounded script (not part of the test suite). Creates a throwaway
database on the server given by ``$WA_PERFKIT_PG_DSN`` (default:
127.0.0.1:5432 as postgres), seeds it (``--messages`` messages over 20,000
conversations, ``--users`` users with one or two roles each), then runs:

- a writer: one connection inserting a message and bumping its conversation's
  ``updated_at`` in one transaction, as fast as it can;
- a user lookup: one connection reading a random user with its roles, as the
  auth path does on every request;
- an admin: one connection replacing a random user's roles (delete, then
  insert) every 20 ms, as an application does;

first for ``--before`` seconds alone, then while ``apply_migrations`` runs
(all three migrations, default lock policy). It prints a markdown table:
writer p50/p99/max before vs during, the longest a lookup waited, admin
transactions aborted, and how long ``apply`` took. The database is dropped at
the end.

    python benchmarks/bench_pg_apply.py [--messages 1000000] [--users 50000]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from wa_perfkit import sql

_SEED = """
INSERT INTO whatsapp_accounts (name, phone_number_id)
SELECT 'account ' || g, (100000000000 + g)::text FROM generate_series(1, 200) AS g;
INSERT INTO app_roles (name) VALUES ('owner'), ('admin'), ('agent'), ('viewer'), ('bot');
INSERT INTO app_users (user_id, email)
SELECT gen_random_uuid(), 'user' || g || '@example.com' FROM generate_series(1, {users}) AS g;
INSERT INTO app_user_roles (user_id, role_id)
SELECT u.user_id, r.id FROM app_users u JOIN app_roles r
    ON r.name IN ('agent', CASE WHEN u.email < 'user2' THEN 'admin' END);
WITH a AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM whatsapp_accounts)
INSERT INTO conversations (account_id, client_number, updated_at)
SELECT a.id, '+33' || g, now() - g * interval '1 minute'
  FROM generate_series(1, 20000) AS g JOIN a ON a.rn = (g % 200) + 1;
WITH c AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM conversations)
INSERT INTO messages (conversation_id, direction, content, "timestamp")
SELECT c.id, CASE WHEN g % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'message ' || g,
       now() - g * interval '1 second'
  FROM generate_series(1, {messages}) AS g JOIN c ON c.rn = (g % 20000) + 1;
ANALYZE;
"""
_WRITE = """
WITH m AS (INSERT INTO messages (conversation_id, direction, content)
           VALUES (%s, 'inbound', 'hello') RETURNING conversation_id)
UPDATE conversations SET updated_at = now(), last_message = 'hello'
 WHERE id = (SELECT conversation_id FROM m)"""
_LOOKUP = """
SELECT u.user_id, u.email, ar.name, r.account_id FROM app_users u
  LEFT JOIN app_user_roles r ON r.user_id = u.user_id
  LEFT JOIN app_roles ar ON ar.id = r.role_id WHERE u.user_id = %s"""


@dataclass
class Probe:
    """One client loop: its latencies (seconds), by phase, and its errors."""

    name: str
    timings: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    phase: str = "before"
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, dsn: str, step: Callable[[Any, random.Random], None], pause: float) -> None:
        rng = random.Random(self.name)
        with psycopg.connect(dsn, autocommit=True, application_name=self.name) as conn:
            while not self.stop.is_set():
                phase = self.phase
                started = time.perf_counter()
                try:
                    step(conn, rng)
                except psycopg.Error as exc:
                    self.errors.setdefault(phase, []).append(type(exc).__name__)
                self.timings.setdefault(phase, []).append(time.perf_counter() - started)
                if pause:
                    time.sleep(pause)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _ms(value: float) -> str:
    return f"{value * 1000:,.1f} ms"


def main() -> None:
    """Seed, measure before and during apply, print the table, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--before", type=float, default=15.0, help="seconds measured before")
    args = parser.parse_args()
    server = os.environ.get("WA_PERFKIT_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")
    name = f"wa_perfkit_bench_{secrets.token_hex(4)}"
    with psycopg.connect(make_conninfo(server, dbname="postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
    dsn = make_conninfo(server, dbname=name)
    try:
        _run(dsn, args)
    finally:
        with psycopg.connect(make_conninfo(server, dbname="postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def _run(dsn: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with sql.connect(dsn) as conn:
        sql.apply_schema(conn)
        conn.execute(_SEED.format(messages=int(args.messages), users=int(args.users)).encode())
        conversations = [row[0] for row in conn.execute("SELECT id FROM conversations")]
        users = [row[0] for row in conn.execute("SELECT user_id FROM app_users")]
        roles = [row[0] for row in conn.execute("SELECT id FROM app_roles")]
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    print(
        f"seeded {args.messages:,} messages, {args.users:,} users in "
        f"{time.perf_counter() - started:.0f} s"
    )

    def write(conn: Any, rng: random.Random) -> None:
        conn.execute(_WRITE, (rng.choice(conversations),))

    def lookup(conn: Any, rng: random.Random) -> None:
        conn.execute(_LOOKUP, (rng.choice(users),)).fetchall()

    def replace_roles(conn: Any, rng: random.Random) -> None:
        user = rng.choice(users)
        with conn.transaction():
            conn.execute("DELETE FROM app_user_roles WHERE user_id = %s", (user,))
            conn.execute(
                "INSERT INTO app_user_roles (user_id, role_id) VALUES (%s, %s)",
                (user, rng.choice(roles)),
            )

    probes = [Probe("writer"), Probe("lookup"), Probe("admin")]
    steps = [(write, 0.0), (lookup, 0.0), (replace_roles, 0.02)]
    threads = [
        threading.Thread(target=probe.run, args=(dsn, step, pause), daemon=True)
        for probe, (step, pause) in zip(probes, steps, strict=True)
    ]
    for thread in threads:
        thread.start()
    time.sleep(args.before)
    for probe in probes:
        probe.phase = "during"
    began = time.perf_counter()
    with sql.connect(dsn) as conn:
        report = sql.apply_migrations(conn)
    took = time.perf_counter() - began
    for probe in probes:
        probe.phase = "after"
        probe.stop.set()
    for thread in threads:
        thread.join(30)
    _print(probes, report, took, args, version)


def _print(
    probes: list[Probe],
    report: sql.ApplyReport,
    took: float,
    args: argparse.Namespace,
    version: str,
) -> None:
    writer, lookup, admin = probes
    print(
        f"\nPostgreSQL {version}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {args.messages:,} messages, 20,000 conversations, "
        f"{args.users:,} users; apply ({', '.join(report.applied)}) took {took:.1f} s.\n"
    )
    print("| client | phase | requests | p50 | p99 | max | errors |")
    print("|---|---|---:|---:|---:|---:|---|")
    for probe in (writer, lookup, admin):
        for phase in ("before", "during"):
            values = probe.timings.get(phase, [])
            errors = probe.errors.get(phase, [])
            listed = ", ".join(f"{n} {e}" for e, n in _counted(errors)) or "none"
            print(
                f"| {probe.name} | {phase} | {len(values):,} | {_ms(_quantile(values, 0.5))} |"
                f" {_ms(_quantile(values, 0.99))} | {_ms(max(values, default=float('nan')))} |"
                f" {listed} |"
            )
    during = lookup.timings.get("during", [])
    if during:
        print(
            f"\nlongest user lookup during apply: {_ms(max(during))}; "
            f"median {_ms(statistics.median(during))}"
        )


def _counted(errors: list[str]) -> list[tuple[str, int]]:
    return sorted({error: errors.count(error) for error in errors}.items())


if __name__ == "__main__":
    main()
