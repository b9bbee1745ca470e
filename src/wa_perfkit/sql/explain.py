"""
EXPLAIN (ANALYZE, BUFFERS) of the inbox's hot queries.

The hot queries are the ones behind an inbox's slowest routes: the conversation
list of an account, the messages of a conversation, the webhook's account
lookup by ``phone_number_id`` and the user-with-roles lookup run on every
authenticated request. Each is run once with a real parameter taken from the
data, and its JSON plan is reduced to what decides latency: which relations
are read through an index, which are scanned sequentially, and the time.

EXPLAIN ANALYZE executes the query; these are all read-only SELECTs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from wa_perfkit.sql._connect import translate_errors

if TYPE_CHECKING:
    import psycopg

__all__ = ["HOT_QUERIES", "ExplainResult", "HotQuery", "explain_hot_queries", "hot_queries"]

_INDEX_NODES: Final = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})


@dataclass(frozen=True)
class HotQuery:
    """
    One query the inbox runs on a hot path.

    Attributes:
        name: what the route does, e.g. ``"list conversations of an account"``.
        sql: the query, with one ``%s`` parameter.
        sample: a query returning one realistic parameter value from the data.
    """

    name: str
    sql: str
    sample: str


HOT_QUERIES: Final = (
    HotQuery(
        "list conversations of an account",
        "SELECT * FROM conversations WHERE account_id = %s"
        " ORDER BY updated_at DESC, id DESC LIMIT 50",
        "SELECT account_id FROM conversations LIMIT 1",
    ),
    HotQuery(
        "messages of a conversation",
        'SELECT * FROM messages WHERE conversation_id = %s ORDER BY "timestamp" DESC, id DESC'
        " LIMIT 50",
        "SELECT conversation_id FROM messages LIMIT 1",
    ),
    HotQuery(
        "account by phone_number_id",
        "SELECT * FROM whatsapp_accounts WHERE phone_number_id = %s LIMIT 1",
        "SELECT phone_number_id FROM whatsapp_accounts LIMIT 1",
    ),
)
_USER_WITH_ROLES_CACHED: Final = HotQuery(
    "user with roles",
    "SELECT user_id, email, display_name, is_active, roles_cache FROM app_users WHERE user_id = %s",
    "SELECT user_id FROM app_users LIMIT 1",
)
_USER_WITH_ROLES_JOIN: Final = HotQuery(
    "user with roles",
    "SELECT u.user_id, u.email, ar.name AS role_name, r.account_id FROM app_users u"
    " LEFT JOIN app_user_roles r ON r.user_id = u.user_id"
    " LEFT JOIN app_roles ar ON ar.id = r.role_id WHERE u.user_id = %s",
    "SELECT user_id FROM app_users LIMIT 1",
)


@dataclass(frozen=True)
class ExplainResult:
    """
    The measured plan of one hot query.

    Attributes:
        query: the query explained.
        execution_ms: execution time reported by EXPLAIN ANALYZE.
        planning_ms: planning time.
        index_scans: ``"table via index"`` for every index access.
        seq_scans: tables read by a sequential scan.
        shared_hit: shared buffers found in cache.
        shared_read: shared buffers read from disk.
        plan: the raw JSON plan.
    """

    query: HotQuery
    execution_ms: float
    planning_ms: float
    index_scans: tuple[str, ...]
    seq_scans: tuple[str, ...]
    shared_hit: int
    shared_read: int
    plan: Mapping[str, Any] = field(repr=False)

    @property
    def uses_index(self) -> bool:
        """
        Whether every table access goes through an index.

        Returns:
            True when nothing is scanned sequentially and an index is used.
        """
        return not self.seq_scans and bool(self.index_scans)

    @property
    def verdict(self) -> str:
        """
        A one-word-ish verdict for people.

        Returns:
            ``"index"`` or ``"SEQUENTIAL SCAN on <tables>"``.
        """
        if self.seq_scans:
            return "SEQUENTIAL SCAN on " + ", ".join(self.seq_scans)
        return "index" if self.index_scans else "no table access"

    def tree(self) -> str:
        """
        Render the plan as an indented tree of nodes with actual rows and time.

        Returns:
            The plan, one node per line.
        """
        return "\n".join(_render(self.plan["Plan"], 0))


def hot_queries(conn: psycopg.Connection[Any]) -> tuple[HotQuery, ...]:
    """
    The hot queries for this database.

    The user lookup reads ``app_users.roles_cache`` when migration 0002 is
    applied, and the three-table JOIN of users, user roles and roles otherwise.

    Args:
        conn: an open psycopg connection.

    Returns:
        The queries to explain, in a stable order.
    """
    with translate_errors():
        row = conn.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'app_users' AND column_name = 'roles_cache'"
        ).fetchone()
    user_query = _USER_WITH_ROLES_CACHED if row else _USER_WITH_ROLES_JOIN
    return (*HOT_QUERIES, user_query)


def explain_hot_queries(conn: psycopg.Connection[Any]) -> list[ExplainResult]:
    """
    Run EXPLAIN (ANALYZE, BUFFERS) on each hot query.

    Args:
        conn: an open psycopg connection on the inbox database.

    Returns:
        One result per hot query.

    Raises:
        SQLToolkitError: a table is missing (exit code
            `ExitCode.MISSING_TABLE`, named), a privilege is missing, or another
            database error.
    """
    return [_explain(conn, query) for query in hot_queries(conn)]


def _explain(conn: psycopg.Connection[Any], query: HotQuery) -> ExplainResult:
    with translate_errors():
        sample = conn.execute(query.sample.encode()).fetchone()
        parameter = sample[0] if sample else str(uuid.uuid4())
        row = conn.execute(
            ("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.sql).encode(), (parameter,)
        ).fetchone()
    assert row is not None  # EXPLAIN always returns one row
    document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    plan: Mapping[str, Any] = document[0]
    nodes = list(_walk(plan["Plan"]))
    top = plan["Plan"]
    return ExplainResult(
        query=query,
        execution_ms=float(plan.get("Execution Time", 0.0)),
        planning_ms=float(plan.get("Planning Time", 0.0)),
        index_scans=tuple(
            f"{relation} via {node['Index Name']}"
            for node, relation in nodes
            if node["Node Type"] in _INDEX_NODES
        ),
        seq_scans=tuple(relation for node, relation in nodes if node["Node Type"] == "Seq Scan"),
        shared_hit=int(top.get("Shared Hit Blocks", 0)),
        shared_read=int(top.get("Shared Read Blocks", 0)),
        plan=plan,
    )


def _walk(
    node: Mapping[str, Any], parent_relation: str = "?"
) -> Iterator[tuple[Mapping[str, Any], str]]:
    # A Bitmap Index Scan names only its index: its table is the parent's.
    relation = str(node.get("Relation Name", parent_relation))
    yield node, relation
    for child in node.get("Plans", ()):
        yield from _walk(child, relation)


def _render(node: Mapping[str, Any], depth: int) -> Iterator[str]:
    target = node.get("Relation Name", "")
    if "Index Name" in node:
        target += f" using {node['Index Name']}"
    yield (
        f"{'  ' * depth}-> {node['Node Type']} {target}".rstrip()
        + f"  (rows={node.get('Actual Rows', '?')} time={node.get('Actual Total Time', '?')} ms)"
    )
    for child in node.get("Plans", ()):
        yield from _render(child, depth + 1)
