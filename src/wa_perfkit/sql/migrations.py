"""
The versioned migrations shipped inside the package.

Each migration is a file ``migrations/NNNN_name.sql`` read with
`importlib.resources`, so it works from a wheel, a zip or an editable
install. Its first line says how the runner must execute it:

```text
-- wa_perfkit: transaction=off   one statement at a time, autocommit
-- wa_perfkit: transaction=on    all statements in one transaction
-- wa_perfkit: transaction=each  each statement in its own transaction
```

``transaction=off`` is for ``CREATE INDEX CONCURRENTLY``, which PostgreSQL
refuses inside a transaction block. ``transaction=each`` is for changes to
tables a live application uses: each statement is short, takes at most one
table lock, and is retried when ``lock_timeout`` expires; a statement preceded
by ``-- wa_perfkit: repeat`` is a batch, run again with its previous result as
its one parameter until it returns NULL. Every migration is written to be
idempotent (``IF NOT EXISTS``, ``CREATE OR REPLACE``), so re-running one that
was interrupted half-way completes it instead of failing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Final

from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.sql._split import split_statements

__all__ = ["Migration", "load_migrations", "schema_sql"]

_FILE_NAME: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_HEADER: Final = re.compile(r"^-- wa_perfkit: transaction=(on|off|each)\s*$")
_CONCURRENT_INDEX: Final = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+(\w+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Migration:
    """
    One versioned migration.

    Attributes:
        version: its number; migrations apply in increasing order.
        name: the file name without the number and extension.
        sql: the whole file.
        transactional: whether the statements run inside transactions.
        mode: ``"on"`` (one transaction), ``"each"`` (one per statement) or
            ``"off"`` (autocommit, for ``CONCURRENTLY``).
        statements: ``sql`` split into statements.
        checksum: SHA-256 of ``sql``, recorded when applied.
        concurrent_indexes: names of the indexes built ``CONCURRENTLY``; the
            runner checks that each exists and is valid.
    """

    version: int
    name: str
    sql: str = field(repr=False)
    transactional: bool
    statements: tuple[str, ...] = field(repr=False)
    checksum: str = field(repr=False)
    concurrent_indexes: tuple[str, ...] = ()
    mode: str = "on"

    @property
    def label(self) -> str:
        """
        The migration as people name it, e.g. ``0001_indexes``.

        Returns:
            The zero-padded version and name.
        """
        return f"{self.version:04d}_{self.name}"


@cache
def load_migrations() -> tuple[Migration, ...]:
    """
    Read the shipped migrations, in version order.

    Returns:
        Every migration of the package.

    Raises:
        SQLToolkitError: a packaged file is misnamed or lacks its header (a
            packaging bug, never a user error).
    """
    folder = resources.files("wa_perfkit.sql").joinpath("migrations")
    found = [
        _parse(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return tuple(sorted(found, key=lambda migration: migration.version))


def schema_sql() -> str:
    """
    Return the inbox reference schema (seven tables, idempotent DDL).

    Returns:
        The SQL text of ``schema.sql``.
    """
    return resources.files("wa_perfkit.sql").joinpath("schema.sql").read_text(encoding="utf-8")


def _parse(file_name: str, sql: str) -> Migration:
    name_match = _FILE_NAME.match(file_name)
    header_match = _HEADER.match(sql.split("\n", 1)[0])
    if name_match is None or header_match is None:
        raise SQLToolkitError(f"malformed packaged migration {file_name!r}")
    statements = tuple(split_statements(sql))
    return Migration(
        version=int(name_match.group(1)),
        name=name_match.group(2),
        sql=sql,
        transactional=header_match.group(1) != "off",
        mode=header_match.group(1),
        statements=statements,
        checksum=hashlib.sha256(sql.encode("utf-8")).hexdigest(),
        concurrent_indexes=tuple(_CONCURRENT_INDEX.findall(sql)),
    )
