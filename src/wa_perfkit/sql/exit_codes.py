"""
Exit codes of ``wa-perfkit sql``, documented in docs/postgres.md.

They are stable: scripts and CI jobs branch on them.
"""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """
    What a ``wa-perfkit sql`` run ended with.
    """

    #: Success; for ``status``: every migration applied and valid.
    OK = 0
    #: Any other database error (the message says which).
    ERROR = 1
    #: Bad command line (argparse's own code).
    USAGE = 2
    #: The DSN is malformed, the server unreachable, authentication failed, or
    #: the connection dropped. Never a timeout or deadlock (see 10 and 11).
    CONNECTION = 3
    #: A table (or column) the command needs does not exist; the message names it.
    MISSING_TABLE = 4
    #: The role lacks a privilege (e.g. not the owner of the table it must index).
    PRIVILEGES = 5
    #: ``status``: some migration is pending, modified, or left an invalid index.
    NOT_UP_TO_DATE = 6
    #: ``explain --require-index``: a hot query scans a table sequentially.
    SEQUENTIAL_SCAN = 7
    #: The ``postgres`` extra (psycopg) is not installed.
    MISSING_DRIVER = 8
    #: ``apply``: another ``apply`` held the migration lock longer than
    #: ``--lock-wait``; the message names its session (pid, application_name).
    LOCKED = 9
    #: A statement was cancelled by ``statement_timeout``, or a lock was not
    #: granted within ``lock_timeout`` (after the runner's retries).
    TIMEOUT = 10
    #: PostgreSQL detected a deadlock or a serialization failure; retrying is safe.
    CONFLICT = 11
