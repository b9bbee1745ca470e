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
* A block preceded by ``<!-- new program -->`` starts afresh: an empty
  namespace, and a module of its own for mypy (e.g. the Flask twin of a
  FastAPI example on the same page).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_BLOCK = re.compile(
    r"(?P<marker><!--\s*(?P<kind>fragment|new program)\b[^>]*-->\s*\n)?"
    r"^```python[^\n]*\n(?P<code>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    """One ```` ```python ```` block of a page."""

    page: Path
    line: int
    code: str
    fragment: bool
    new_program: bool

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
    return [
        Block(page, text.count("\n", 0, m.start("code")) + 1, m.group("code"),
              m.group("kind") == "fragment", m.group("kind") == "new program")
        for m in _BLOCK.finditer(text)
    ]


def programs(page: Path) -> list[list[Block]]:
    """Return ``page``'s blocks split where a block starts a new program."""
    found: list[list[Block]] = []
    for block in blocks(page):
        if block.new_program or not found:
            found.append([])
        found[-1].append(block)
    return found


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
