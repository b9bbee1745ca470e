"""
Fixtures of the example and demo tests: the Postgres ones come from tests/postgres.

Re-exported (not redefined) so both directories share one discovery logic and
each session drops exactly the databases it created.
"""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from tests.postgres.conftest import databases_fixture, pg_server_fixture

__all__ = ["asyncpg_url", "databases_fixture", "pg_server_fixture"]


def asyncpg_url(conninfo: str) -> str:
    """Turn a libpq conninfo (what `Databases.create` returns) into a postgresql:// URL."""
    parts = conninfo_to_dict(conninfo)
    user = parts.get("user", "postgres")
    password = f":{parts['password']}" if parts.get("password") else ""
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", "5432")
    return f"postgresql://{user}{password}@{host}:{port}/{parts['dbname']}"
