"""
Connecting with psycopg 3, and turning its errors into `SQLToolkitError`.

psycopg is the ``postgres`` extra: it is imported here, lazily, so that
``import wa_perfkit.sql`` works without it. Connections are opened in
autocommit mode because ``CREATE INDEX CONCURRENTLY`` refuses to run inside a
transaction block; transactional migrations open their own transaction.

Error messages never repeat the DSN, nor any part of it: it may hold a
password, and when libpq cannot parse a DSN (a raw ``%`` in a password, an
unclosed ``[`` of an IPv6 address, an ``@`` in a password) its message quotes
the very text it choked on. So connection failures are reported by category
(refused, timed out, authentication failed...), from a fixed table of
phrases, and never by libpq's own words.

Server errors raised by a statement carry no DSN; they are classified by
SQLSTATE, so that a timeout or a deadlock is not mistaken for a lost
connection.
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
# libpq's connection failures, by what they mean; matched against its message,
# which is never printed.
_CONNECT_REASONS: Final = (
    ("password authentication failed", "password authentication failed"),
    ("no password supplied", "the server asks for a password and none was given"),
    ("authentication failed", "authentication failed"),
    ("connection refused", "connection refused (is the server running on that host and port?)"),
    ("timeout expired", "connection timed out"),
    ("could not translate host name", "unknown host name"),
    ("failed to resolve host", "unknown host name"),
    ("name or service not known", "unknown host name"),
    ("does not exist", "the database or role does not exist"),
    ("no pg_hba.conf entry", "the server's pg_hba.conf refuses this client"),
    ("too many connections", "the server has too many connections"),
    ("ssl", "SSL negotiation failed"),
    ("server closed the connection", "the server closed the connection"),
)
_CONNECTION_LOST_STATES: Final = ("08", "57P01", "57P02", "57P03")


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
    except driver.ProgrammingError:  # libpq could not parse the DSN; its message quotes it
        message = _INVALID_DSN
    except driver.OperationalError as exc:
        message = f"cannot connect: {_connect_reason(exc)}"
    except (ValueError, TypeError):  # e.g. a NUL byte in the DSN
        message = _INVALID_DSN
    else:
        return conn
    # Raised outside the except blocks, so that neither __cause__ nor
    # __context__ keeps libpq's message (it may quote a mis-parsed password).
    raise SQLToolkitError(message, ExitCode.CONNECTION)


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
    except driver.errors.QueryCanceled as exc:
        message = f"statement cancelled: {_first_line(exc)} (see statement_timeout)"
        raise SQLToolkitError(message, ExitCode.TIMEOUT) from exc
    except driver.errors.LockNotAvailable as exc:
        message = f"lock not granted in time: {_first_line(exc)} (see lock_timeout)"
        raise SQLToolkitError(message, ExitCode.TIMEOUT) from exc
    except (driver.errors.DeadlockDetected, driver.errors.SerializationFailure) as exc:
        message = f"transaction conflict: {_first_line(exc)}; nothing was half-applied, retry"
        raise SQLToolkitError(message, ExitCode.CONFLICT) from exc
    except driver.OperationalError as exc:
        if _connection_lost(exc):
            message = f"connection lost: {_first_line(exc)}"
            raise SQLToolkitError(message, ExitCode.CONNECTION) from exc
        raise SQLToolkitError(f"database error: {_first_line(exc)}", ExitCode.ERROR) from exc
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


_INVALID_DSN: Final = (
    "invalid DSN (not shown: it may contain a password); check the URL's percent-encoding "
    "(a % or @ in a password must be written %25 or %40) and that an IPv6 host is "
    "written [addr]"
)


def _connect_reason(exc: Exception) -> str:
    text = str(exc).lower()
    for needle, reason in _CONNECT_REASONS:
        if needle in text:
            return reason
    return "the server is unreachable or refused the connection (details withheld)"


def _connection_lost(exc: Exception) -> bool:
    state = getattr(exc, "sqlstate", None)
    return state is None or str(state).startswith(_CONNECTION_LOST_STATES)


def _missing_relation(exc: Exception) -> str:
    match = _RELATION.search(str(exc))
    return match.group(1) if match else "(unnamed)"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0]
