"""
mypy sees the original signature of decorated functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

HERE = Path(__file__).parent


class TestTyping:
    def test_sample_passes_strict(self) -> None:
        """The typed sample, full of assert_type, is clean under mypy --strict."""
        out, err, status = api.run(["--strict", "--no-incremental", str(HERE / "sample.py")])
        assert status == 0, out + err

    def test_wrong_arguments_are_caught(self, tmp_path: Path) -> None:
        """Calling a decorated function or its invalidate with wrong arguments is a type error."""
        bad = tmp_path / "bad_sample.py"
        bad.write_text((HERE / "bad_sample.py.txt").read_text())
        out, _, status = api.run(["--strict", "--no-incremental", str(bad)])
        assert status == 1
        assert 'incompatible type "int"; expected "str"' in out
        assert "Too many arguments" in out
