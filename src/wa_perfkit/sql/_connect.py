"""
Connecting with psycopg 3, and turning its errors into `SQLToolkitError`.

psycopg is the ``postgres`` extra: it is imported here, lazily, so that
``import wa_perfkit.sql`` works without it. Connections are opened in
autocommit mode because ``CREATE INDEX CONCURRENTLY`` refuses to run inside a
transaction block; transactional migrations open their own transaction.

Error messages never repeat the DSN: it may hold a password.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from wa_perfkit.errors import SQLToolkitError
from wa_perfkit.sql.exit_codes import ExitCode

if TYPE_CHECKING:
    import psycopg

__all__ = ["connect", "translate_errors"]

_CONNECT_TIMEOUT_SECONDS: Final = 10
_RELATION: Final = re.compile(r'relation "([^"]+)" does not exist')


def connect(dsn: str) -> psycopg.Connection[Any]:
    """
    Open an autocommit psycopg connection.

    Args:
        dsn: a libpq connection string or ``postgresql://`` URL.

    Returns:
        The open connection; close it (or use it as a context manager).

    Raises:
        SQLToolkitError: with exit code `ExitCode.MISSING_DRIVER` if psycopg is
            not installed, `ExitCode.CONNECTION` if the DSN is malformed or the
            server refuses or cannot be reached.
    """
    driver = _import_psycopg()
    try:
        conn: psycopg.Connection[Any] = driver.connect(
            dsn,
            autocommit=True,
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            application_name="wa-perfkit",
        )
    except driver.ProgrammingError as exc:  # libpq could not parse the DSN
        raise SQLToolkitError(f"invalid DSN: {exc}", ExitCode.CONNECTION) from exc
    except driver.OperationalError as exc:
        raise SQLToolkitError(f"cannot connect: {_first_line(exc)}", ExitCode.CONNECTION) from exc
    return conn


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """
    Turn psycopg errors raised in the block into `SQLToolkitError`.

    Yields:
        Nothing; wrap database work in ``with translate_errors():``.

    Raises:
        SQLToolkitError: with the `ExitCode` matching the SQLSTATE.
    """
    driver = _import_psycopg()
    try:
        yield
    except driver.errors.UndefinedTable as exc:
        message = f"missing table {_missing_relation(exc)}: {_first_line(exc)}"
        raise SQLToolkitError(message, ExitCode.MISSING_TABLE) from exc
    except driver.errors.UndefinedColumn as exc:
        message = f"missing column: {_first_line(exc)}"
        raise SQLToolkitError(message, ExitCode.MISSING_TABLE) from exc
    except driver.errors.InsufficientPrivilege as exc:
        message = f"insufficient privilege: {_first_line(exc)}"
        raise SQLToolkitError(message, ExitCode.PRIVILEGES) from exc
    except driver.OperationalError as exc:
        raise SQLToolkitError(f"connection lost: {_first_line(exc)}", ExitCode.CONNECTION) from exc
    except driver.Error as exc:
        raise SQLToolkitError(f"database error: {_first_line(exc)}", ExitCode.ERROR) from exc


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise SQLToolkitError(
            "psycopg is not installed: pip install 'wa-perfkit[postgres]'", ExitCode.MISSING_DRIVER
        ) from exc
    return psycopg


def _missing_relation(exc: Exception) -> str:
    match = _RELATION.search(str(exc))
    return match.group(1) if match else "(unnamed)"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0]
