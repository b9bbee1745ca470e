"""
Refreshing the ``mv_users_with_roles`` materialized view (migration 0003).

``REFRESH MATERIALIZED VIEW CONCURRENTLY`` computes the new contents aside and
applies the difference, so readers are never blocked; it needs the view's
unique index (created by the migration) and a view populated at least once.
A plain refresh is faster but takes an exclusive lock for its duration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wa_perfkit.sql._connect import translate_errors

if TYPE_CHECKING:
    import psycopg

__all__ = ["refresh_users_with_roles"]


def refresh_users_with_roles(conn: psycopg.Connection[Any], *, concurrently: bool = True) -> None:
    """
    Refresh ``mv_users_with_roles``.

    Args:
        conn: an open psycopg connection.
        concurrently: refresh without blocking readers (the default).

    Raises:
        SQLToolkitError: the view is missing (migration 0003 not applied) or the
            refresh failed.
    """
    statement = (
        b"REFRESH MATERIALIZED VIEW CONCURRENTLY mv_users_with_roles"
        if concurrently
        else b"REFRESH MATERIALIZED VIEW mv_users_with_roles"
    )
    with translate_errors():
        conn.execute(statement)
