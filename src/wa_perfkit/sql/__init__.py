"""
The Postgres toolkit: inbox schema, performance migrations, EXPLAIN checks.

Everything here works from a DSN with psycopg 3 (the ``postgres`` extra),
imported lazily, so ``import wa_perfkit.sql`` costs nothing without it:

```python
from wa_perfkit import sql

with sql.connect(dsn) as conn:          # autocommit: CONCURRENTLY needs it
    report = sql.apply_migrations(conn)  # idempotent; repairs INVALID indexes
    for item in sql.migration_status(conn):
        print(item.migration.label, item.state.value, item.detail)
    for result in sql.explain_hot_queries(conn):
        print(result.query.name, result.verdict, result.execution_ms)
```

The same operations are the ``wa-perfkit sql`` command (see `ExitCode`).
"""

from __future__ import annotations

from wa_perfkit.sql._apply_lock import APPLY_LOCK_KEY
from wa_perfkit.sql._connect import connect
from wa_perfkit.sql.exit_codes import ExitCode
from wa_perfkit.sql.explain import HOT_QUERIES, ExplainResult, HotQuery, explain_hot_queries
from wa_perfkit.sql.migrations import Migration, load_migrations, schema_sql
from wa_perfkit.sql.runner import (
    DEFAULT_LOCK_WAIT,
    MIGRATIONS_TABLE,
    REQUIRED_TABLES,
    ApplyReport,
    LockPolicy,
    MigrationState,
    State,
    apply_migrations,
    apply_schema,
    migration_status,
)
from wa_perfkit.sql.views import refresh_users_with_roles

__all__ = [
    "connect",
    "ExitCode",
    # migrations
    "Migration",
    "load_migrations",
    "schema_sql",
    "APPLY_LOCK_KEY",
    "DEFAULT_LOCK_WAIT",
    "LockPolicy",
    "MIGRATIONS_TABLE",
    "REQUIRED_TABLES",
    "ApplyReport",
    "MigrationState",
    "State",
    "apply_migrations",
    "apply_schema",
    "migration_status",
    # explain
    "HOT_QUERIES",
    "ExplainResult",
    "HotQuery",
    "explain_hot_queries",
    # materialized view
    "refresh_users_with_roles",
]
