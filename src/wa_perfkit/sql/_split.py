"""
Split an SQL script into statements.

Migrations that use ``CREATE INDEX CONCURRENTLY`` must send one statement per
round trip: a multi-statement query string runs as one implicit transaction,
where PostgreSQL refuses ``CONCURRENTLY``. The splitter understands exactly
what can hide a semicolon in the scripts we ship: ``'...'`` strings,
``"..."`` identifiers, ``$tag$...$tag$`` bodies and ``--``/``/* */`` comments.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["split_statements"]

_DOLLAR_TAG: Final = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*\$|\$\$")


def split_statements(script: str) -> list[str]:
    """
    Split ``script`` on top-level semicolons.

    Args:
        script: SQL text, possibly with comments and dollar-quoted bodies.

    Returns:
        The statements, stripped, without their trailing semicolon; comment-only
        chunks are dropped.
    """
    statements: list[str] = []
    start = 0
    pos = 0
    while pos < len(script):
        end = _skip_quoted(script, pos)
        if end != pos:
            pos = end
            continue
        if script[pos] == ";":
            statements.append(script[start:pos])
            start = pos + 1
        pos += 1
    statements.append(script[start:])
    return [stmt.strip() for stmt in statements if _has_code(stmt)]


def _skip_quoted(script: str, pos: int) -> int:
    """
    Return the index just past a quoted span or comment starting at ``pos``.

    Returns ``pos`` itself when nothing quoted starts there.
    """
    two = script[pos : pos + 2]
    if two == "--":
        return _find_end(script, "\n", pos + 2)
    if two == "/*":
        return _find_end(script, "*/", pos + 2)
    char = script[pos]
    if char in "'\"":
        return _find_end(script, char, pos + 1)
    if char == "$":
        match = _DOLLAR_TAG.match(script, pos)
        if match:
            return _find_end(script, match.group(), match.end())
    return pos


def _find_end(script: str, closer: str, pos: int) -> int:
    end = script.find(closer, pos)
    return len(script) if end < 0 else end + len(closer)


def _has_code(chunk: str) -> bool:
    pos = 0
    while pos < len(chunk):
        end = _skip_quoted(chunk, pos)
        if end != pos and chunk[pos] in "-/":
            pos = end
            continue
        if not chunk[pos].isspace():
            return True
        pos += 1
    return False
