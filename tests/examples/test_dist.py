"""
The built wheel: its contents, and the quickstarts run from a fresh virtualenv.

One module-scoped fixture builds the wheel (without build isolation when
hatchling is already installed) and installs it with the ``fastapi`` extra into a new venv,
from PyPI (or pip's cache). Scripts run outside the repository, so they import
the installed wheel, never ``src/``.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(*command: str | Path, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(name="wheel", scope="module")
def wheel_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # hatchling already installed: build without an isolated env (seconds, offline).
    isolation = [] if importlib.util.find_spec("hatchling") else ["--use-pep517"]
    no_isolation = [] if isolation else ["--no-build-isolation"]
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", *no_isolation, *isolation,
         "--quiet", "-w", out, ROOT, cwd=out)
    (wheel,) = out.glob("wa_perfkit-*.whl")
    return wheel


@pytest.fixture(name="venv_python", scope="module")
def venv_python_fixture(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", where / "venv", cwd=where)
    python = where / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{wheel}[fastapi]", cwd=where)
    return python


class TestWheel:
    def test_contents(self, wheel: Path) -> None:
        """py.typed, the schema and migrations, the demo; nothing from tests/ or examples/."""
        names = zipfile.ZipFile(wheel).namelist()
        assert "wa_perfkit/py.typed" in names
        assert "wa_perfkit/sql/schema.sql" in names
        assert any(re.fullmatch(r"wa_perfkit/sql/migrations/0001_\w+\.sql", n) for n in names)
        assert "wa_perfkit/demo/runner.py" in names
        assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    def test_examples_quickstart_runs_from_the_wheel(
        self, venv_python: Path, tmp_path: Path
    ) -> None:
        """examples/quickstart.py, run with the fresh venv: a real miss, then real hits."""
        out = _run(venv_python, ROOT / "examples" / "quickstart.py", "--hits", "200", cwd=tmp_path)
        assert "MemoryBackend" in out and "no loader call" in out

    def test_readme_quickstart_runs_as_written(self, venv_python: Path, tmp_path: Path) -> None:
        """The README's python block runs unchanged from the wheel (SampleDB is its db)."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
        assert blocks, "README.md has no python block"
        script = tmp_path / "check_readme.py"
        script.write_text(textwrap.dedent(f"""
            import asyncio
            import wa_perfkit

            namespace = {{"__name__": "readme"}}
            exec(compile({blocks[0]!r}, "README.md", "exec"), namespace)
            app, route, db = namespace["app"], namespace["conversation"], namespace["db"]
            assert "/conversations/{{account_id}}/{{conversation_id}}" in [
                r.path for r in app.routes
            ]

            async def main():
                first = await route("acc-1", "conv-1")
                second = await route("acc-1", "conv-1")
                assert first == second and first["id"] == "conv-1", first
                assert db.queries == 1, db.queries

            asyncio.run(main())
            print("ok", wa_perfkit.__file__)
        """), encoding="utf-8")
        out = _run(venv_python, script, cwd=tmp_path)
        assert out.startswith("ok") and str(ROOT / "src") not in out
