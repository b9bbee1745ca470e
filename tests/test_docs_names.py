"""
Docs never show a removed name: every `wa_perfkit.x.y` they mention resolves.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
