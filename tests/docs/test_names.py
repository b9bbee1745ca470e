"""
Docs never show a removed name: every `wa_perfkit.x.y` they mention resolves.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
DOTTED = re.compile(r"(?<![\w/.-])wa_perfkit(?:\.[A-Za-z_][A-Za-z0-9_]*)+")  # not file paths


def resolves(dotted: str) -> bool:
    """Import the longest importable module prefix, then walk attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_dotted_name_resolves(page: Path) -> None:
    """Each dotted wa_perfkit name in the page can be imported or looked up."""
    text = page.read_text(encoding="utf-8")
    missing = sorted({name for name in DOTTED.findall(text) if not resolves(name)})
    assert not missing, f"{page.name} mentions names that do not exist: {missing}"


# -- text a user can follow ---------------------------------------------------------------

SRC = ROOT / "src" / "wa_perfkit"
INTERNAL_WORDS = re.compile(r"DESIGN|\bissue #?\d+")  # RFC sections (§) are fine
PRIVATE_PATH = re.compile(r"\bwa_perfkit(?:\.[A-Za-z0-9_]+)*\._[a-z][A-Za-z0-9_]*")
REST_LITERAL = re.compile(r"::\s*$", re.MULTILINE)


def _public_modules() -> list[Path]:
    return sorted(
        path for path in SRC.rglob("*.py")
        if not any(part.startswith("_") and part != "__init__.py"
                   for part in path.relative_to(SRC).parts)
    )


def _docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                found.append((getattr(node, "lineno", 1), doc))
    return found


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_pages_speak_to_users(page: Path) -> None:
    """No internal document, issue number or private module path in what users read."""
    text = page.read_text(encoding="utf-8")
    assert not INTERNAL_WORDS.findall(text), INTERNAL_WORDS.findall(text)
    assert not PRIVATE_PATH.findall(text), PRIVATE_PATH.findall(text)


@pytest.mark.parametrize(
    "module", _public_modules(), ids=[str(p.relative_to(SRC)) for p in _public_modules()]
)
def test_docstrings_speak_to_users(module: Path) -> None:
    """Public modules' docstrings (the API reference) hold no internal words or private paths,
    and use fenced code blocks: a reST ``::`` marker renders as a stray ``::``."""
    problems = []
    for line, doc in _docstrings(module):
        for pattern in (INTERNAL_WORDS, PRIVATE_PATH, REST_LITERAL):
            problems += [f"line {line}: {hit!r}" for hit in pattern.findall(doc)]
    assert not problems, problems


def test_no_rest_literal_anywhere_in_src() -> None:
    """Private modules too: no docstring uses reST ``::`` literal blocks."""
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in SRC.rglob("*.py") for line, doc in _docstrings(path)
        if REST_LITERAL.search(doc)
    ]
    assert not offenders, offenders
