"""
The release files: the wheel's and sdist's contents and metadata, and the
quickstarts run from a fresh virtualenv.

One module-scoped fixture builds the sdist and the wheel (``python -m build``
without build isolation: hatchling comes with the ``test`` dependency group, so
it takes seconds and no network), or takes them from ``WA_PERFKIT_DIST_DIR``
(``make dist`` checks the files it is about to publish). Another installs the
wheel with the ``redis`` and ``fastapi`` extras into a new venv, from PyPI (or
pip's cache). Scripts run outside the repository, so they import the installed
wheel, never ``src/``.
"""

from __future__ import annotations

import email.message
import email.parser
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import wa_perfkit

ROOT = Path(__file__).resolve().parents[2]
#: The extras users install; contributor tools are dependency groups, never extras.
USER_EXTRAS = {"redis", "fastapi", "flask", "prometheus", "postgres"}
PROJECT_URLS = {"Homepage", "Documentation", "Source", "Changelog", "Issues"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(*command: str | Path, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(name="dist", scope="module")
def dist_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding exactly one sdist and one wheel of this version."""
    given = os.environ.get("WA_PERFKIT_DIST_DIR")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=out)
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist}, found {found}"
    return found[0]


@pytest.fixture(name="wheel", scope="module")
def wheel_fixture(dist: Path) -> Path:
    return _one(dist, f"wa_perfkit-{wa_perfkit.__version__}-py3-none-any.whl")


@pytest.fixture(name="sdist", scope="module")
def sdist_fixture(dist: Path) -> Path:
    return _one(dist, f"wa_perfkit-{wa_perfkit.__version__}.tar.gz")


@pytest.fixture(name="metadata", scope="module")
def metadata_fixture(wheel: Path) -> email.message.Message:
    name = f"wa_perfkit-{wa_perfkit.__version__}.dist-info/METADATA"
    text = zipfile.ZipFile(wheel).read(name).decode("utf-8")
    return email.parser.Parser().parsestr(text)


@pytest.fixture(name="venv_python", scope="module")
def venv_python_fixture(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", where / "venv", cwd=where)
    python = where / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{wheel}[redis,fastapi]", cwd=where)
    return python


def _makefile_pythons() -> list[str]:
    match = re.search(r"^PYTHONS \?= (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile: no PYTHONS line"
    return match.group(1).split()


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
        assert not [n for n in names if "/tests/" in n or n.split("/")[-1].startswith("test_")]

    def test_license_in_wheel_and_sdist(self, wheel: Path, sdist: Path) -> None:
        """The MIT licence text ships in both release files."""
        license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
        assert license_text.startswith("MIT License")
        in_wheel = f"wa_perfkit-{wa_perfkit.__version__}.dist-info/licenses/LICENSE"
        assert zipfile.ZipFile(wheel).read(in_wheel).decode() == license_text
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(f"wa_perfkit-{wa_perfkit.__version__}/LICENSE")
            assert member is not None and member.read().decode() == license_text

    def test_sdist_contents(self, sdist: Path) -> None:
        """The sdist can rebuild and test the project, and carries nothing local."""
        with tarfile.open(sdist) as archive:
            names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
        for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE",
                       "src/wa_perfkit/__init__.py", "src/wa_perfkit/py.typed",
                       "tests/conftest.py", "docs/index.md"):
            assert needed in names, needed
        local = (".venv", ".git/", "dist/", "__pycache__", ".mypy_cache", ".hypothesis")
        assert not [n for n in names if n.startswith(local) or "__pycache__" in n]

    def test_metadata(self, metadata: email.message.Message) -> None:
        """Name, version, licence, Python range, URLs, user extras only, typed."""
        assert metadata["Name"] == "wa-perfkit"
        assert metadata["Version"] == wa_perfkit.__version__
        assert metadata["License-Expression"] == "MIT"
        assert metadata["License-File"] == "LICENSE"
        assert metadata["Requires-Python"] == ">=3.10"
        assert metadata["Description-Content-Type"] == "text/markdown"
        assert set(metadata.get_all("Provides-Extra") or []) == USER_EXTRAS
        urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
        assert set(urls) == PROJECT_URLS
        assert all(url.startswith("https://") for url in urls.values()), urls
        assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])

    def test_python_classifiers_are_the_tested_pythons(
        self, metadata: email.message.Message
    ) -> None:
        """Every "Python :: 3.X" the wheel claims is one that `make test` runs, and back."""
        classifiers = metadata.get_all("Classifier") or []
        claimed = sorted(
            c.rsplit(" :: ", 1)[1] for c in classifiers
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
        )
        assert claimed == sorted(_makefile_pythons()) == ["3.10", "3.11", "3.12", "3.13"]

    def test_readme_renders_on_pypi(self, metadata: email.message.Message) -> None:
        """The long description is the README, with install first and absolute links only."""
        readme = metadata.get_payload()
        assert isinstance(readme, str)
        assert readme.strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
        relative = re.findall(r"\]\((?!https://|#)([^)]*)\)", readme)
        assert not relative, f"relative links break on PyPI: {relative}"
        assert readme.index("pip install") < readme.index("```python")

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

    def test_fastapi_complete_app_runs_from_the_wheel(
        self, venv_python: Path, tmp_path: Path, redis_url: str
    ) -> None:
        """docs/apps.md's FastAPI app and its walk-through run on the wheel with only
        ``[redis,fastapi]`` (plus httpx for the TestClient), against real Redis."""
        import uuid

        from tests.docs.blocks import programs
        from tests.docs.test_doc_blocks import READER_ENV
        from tests.services import delete_namespace

        _run(venv_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "httpx", cwd=tmp_path)
        (main,) = [p for p in programs(ROOT / "docs" / "apps.md") if p[0].program == "main"]
        script = tmp_path / "app.py"
        script.write_text("\n".join(block.code for block in main) + '\nprint("ok")\n',
                          encoding="utf-8")
        namespace = f"wheel{uuid.uuid4().hex[:10]}"
        env = {**os.environ, **READER_ENV, "WA_PERFKIT_REDIS_URL": redis_url,
               "WA_PERFKIT_NAMESPACE": namespace}
        env.pop("WA_PERFKIT_CACHE_URL", None)
        env.pop("WA_PERFKIT_CACHE_DISABLED", None)
        try:
            result = subprocess.run(
                [str(venv_python), str(script)], cwd=tmp_path, env=env, capture_output=True,
                text=True, timeout=300, check=False,
            )
        finally:
            delete_namespace(redis_url, namespace + ":")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("ok")
