"""
The Python blocks of README.md and docs/*.md, as the tests run and type-check them.

A small harness of our own rather than Sybil or pytest-examples, for one
reason: a page must also be type-checked as a whole (its fragments included,
with the names the blocks before them define), which needs the page assembled
into one module for mypy; finding the blocks is a regular expression.

The rules, also written in docs/contributing-docs.md:

* Every ```` ```python ```` block runs, in page order, in one namespace per page:
  a block may use what an earlier block of the same page defined, as a reader
  who copies the page top to bottom would.
* A block preceded by ``<!-- fragment -->`` (or ``<!-- fragment: why -->``) is
  not run: it is compiled as the body of an ``async def`` (so it may
  ``await``) and type-checked with the rest of the page.
* A block preceded by ``<!-- program: NAME -->`` belongs to program NAME:
  each program has its own namespace, and a module of its own for mypy (e.g.
  the Flask twin of a FastAPI example on the same page). Unmarked blocks
  belong to the page's main program. ``<!-- fragment program: NAME -->``
  combines both.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_BLOCK = re.compile(
    r"(?:<!--(?P<marker>(?:(?!-->).)*)-->\s*\n)?^```python[^\n]*\n(?P<code>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)
_PROGRAM = re.compile(r"\bprogram:\s*([\w-]+)")


@dataclass(frozen=True)
class Block:
    """One ```` ```python ```` block of a page."""

    page: Path
    line: int
    code: str
    fragment: bool
    program: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def compiled(self) -> object:
        """Compile the block (a fragment as the body of an async function)."""
        source = _as_function(self.code, "_fragment") if self.fragment else self.code
        return compile(source, self.where, "exec", dont_inherit=True)


def blocks(page: Path) -> list[Block]:
    """Return the Python blocks of ``page`` in order."""
    text = page.read_text(encoding="utf-8")
    found = []
    for m in _BLOCK.finditer(text):
        marker = m.group("marker") or ""
        program = _PROGRAM.search(marker)
        found.append(Block(
            page, text.count("\n", 0, m.start("code")) + 1, m.group("code"),
            fragment=marker.strip().startswith("fragment"),
            program=program.group(1) if program else "main",
        ))
    return found


def programs(page: Path) -> list[list[Block]]:
    """Return ``page``'s blocks grouped by program, each in page order."""
    grouped: dict[str, list[Block]] = {}
    for block in blocks(page):
        grouped.setdefault(block.program, []).append(block)
    return list(grouped.values())


def _as_function(code: str, name: str) -> str:
    return f"async def {name}() -> None:\n" + textwrap.indent(code, "    ") + "    pass\n"


def as_module(program: list[Block]) -> str:
    """
    Return a program's blocks as one module for mypy: runnable blocks as they are,
    each fragment inside its own ``async def``.
    """
    parts = [
        f"# Generated from {program[0].where}: the blocks of one program, in order.",
        "from __future__ import annotations\n",
    ]
    for number, block in enumerate(program):
        code = _FUTURE.sub("", block.code)  # one, at the top, for the whole page
        code = _as_function(code, f"_fragment_{number}") if block.fragment else code
        parts.append(f"# {block.where}\n{code}")
    return "\n".join(parts)


_FUTURE = re.compile(r"^from __future__ import [^\n]*\n", re.MULTILINE)
