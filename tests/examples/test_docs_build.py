"""
The docs site builds with ``mkdocs build --strict`` (skipped without the ``docs`` extra).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
        reason="pip install --group docs (make docs) to build the docs site",
    ),
]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """Every page, nav entry, link and API reference block resolves: no warning at all."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site"),
         "-f", str(ROOT / "mkdocs.yml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "cache" / "index.html").exists()
    assert (tmp_path / "site" / "quickstart" / "index.html").exists()
