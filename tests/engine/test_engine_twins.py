"""
The remaining sync/async twins that carry logic stay equal (httpcore's unasync
check, in a test): the engine's, and the backends'.

The miss path is one flow; what is left twice is a driver and the entry points
(the engine's, and `CachedUser`'s, whose async hit first reads what never
waits: a local backend, a tiered L1). In the backends, how long to wait for
confirmed invalidations is decided once, without I/O; what is left twice: its
BLPOP drivers, the confirming step around them, the pipelines that carry
the invalidation notes, and a tiered instance's wait. Each async twin, once its
``async``/``await`` and the names below are turned into their sync spelling
(and docstrings and comments dropped), must read exactly like its sync twin.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any

import pytest

from wa_perfkit._engine import readthrough, steps
from wa_perfkit.auth.user_cache import CachedUser
from wa_perfkit.backends import _acks, _redis_ops
from wa_perfkit.backends import redis as redis_backend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend

#: async spelling -> sync spelling, beyond dropping ``async``/``await`` and the ``a`` prefix.
UNASYNC = [
    (r"\bself\._async_flight\b", "self._thread_flight"),
    (r"\bCall\(None, loader\)", "Call(loader, None)"),
    (r"\b_refresh_in_task\b", "_refresh_in_thread"),
    (r"\bCallable\[\[\], Awaitable\[(T|tuple\[T, int\])\]\]", r"Callable[[], \1]"),
    (r"\barun\b", "run"),
    (r"\bashare\b", "share"),
    (
        r"entry = self\._read_now\(key\)\n\s+if entry is MISS and self\._remote:"
        r"\n\s+entry = self\._aread\(key\)",
        "entry = self._read(key)",
    ),
    (r"\baresolve\b", "resolve"),
    (r"\ba(invalidate_user|revoke)\b", r"\1"),
    (r"\baload_through\b", "load_through"),
    (r"\bself\.aread_or_join\b", "self._store._read"),
    (r"\b(_?)aread\b", r"\1read"),
    (r"\bado\b", "do"),
    (r"\bself\.async_client\(\)", "self.client"),
    (r"\b_a(confirmed|guarded|noted|clear_each|store_noted|invalidate_elsewhere)\b", r"_\1"),
    (r"\ba(collect|publish|subscribers)\b", r"\1"),
]

TWINS: list[tuple[Any, str, str]] = [
    (steps, "run", "arun"),
    (readthrough.ReadThrough, "resolve", "aresolve"),
    (readthrough.ReadThrough, "load_through", "aload_through"),
    (readthrough.ReadThrough, "share", "ashare"),
    (CachedUser, "resolve", "aresolve"),
    (CachedUser, "invalidate_user", "ainvalidate_user"),
    (CachedUser, "revoke", "arevoke"),
    (_acks, "collect", "acollect"),
    (RedisBackend, "_confirmed", "_aconfirmed"),
    (redis_backend, "_store_noted", "_astore_noted"),
    (_redis_ops, "_noted", "_anoted"),
    (_redis_ops, "_clear_each", "_aclear_each"),
    (TieredBackend, "_invalidate_elsewhere", "_ainvalidate_elsewhere"),
]


class _DropAwait(ast.NodeTransformer):
    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self.visit(node.value)


def _normalised(function: Any) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    node = tree.body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    node.body = body
    node = _DropAwait().visit(node)  # in the tree: ``(await f())[0]`` reads ``f()[0]``
    text = ast.unparse(node)  # comments are gone, layout is canonical
    text = re.sub(r"^async def ", "def ", text)
    for pattern, replacement in UNASYNC:
        text = re.sub(pattern, replacement, text)
    return text


@pytest.mark.parametrize(
    ("owner", "sync", "async_"), TWINS, ids=[f"{t[0].__name__}.{t[1]}" for t in TWINS]
)
def test_async_twin_reads_like_the_sync_one(owner: Any, sync: str, async_: str) -> None:
    """Only async/await and the names listed in UNASYNC differ between the twins."""
    assert _normalised(getattr(owner, async_)) == _normalised(getattr(owner, sync))
