"""
Every Python block of README.md and docs/*.md runs as written, and each page type-checks.

See tests/docs/blocks.py for the rules (page order, one namespace per page,
``<!-- fragment -->`` blocks compiled and type-checked but not run).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.blocks import PAGES, ROOT, as_module, blocks, programs
from tests.services import delete_namespace

PAGES_WITH_CODE = [page for page in PAGES if blocks(page)]

#: Pages whose blocks are being rewritten into complete programs (emptied page by page).
PENDING: set[str] = set()


def _param(page: Path) -> object:
    name = str(page.relative_to(ROOT))
    marks = [pytest.mark.xfail(reason="being rewritten", strict=True)] if name in PENDING else []
    return pytest.param(page, id=name, marks=marks)


#: The variables a reader of the docs has set (their own secrets).
READER_ENV = {
    "SUPABASE_JWT_SECRET": "docs-jwt-secret-0123456789abcdef-0123456789abcdef",
    "FINGERPRINT_KEY": "docs-fingerprint-key-0123456789abcdef",
    "WA_APP_SECRET": "docs-meta-app-secret",
    "WA_VERIFY_TOKEN": "docs-verify-token",
    "CURSOR_KEY": "docs-cursor-key-0123456789abcdef",
}


@pytest.fixture(name="docs_env")
def fixture_docs_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The variables the docs read: the session's Redis and a namespace of this test."""
    namespace = f"docs{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("WA_PERFKIT_REDIS_URL", redis_url)
    monkeypatch.setenv("WA_PERFKIT_NAMESPACE", namespace)
    for name, value in READER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WA_PERFKIT_CACHE_URL", raising=False)
    monkeypatch.delenv("WA_PERFKIT_CACHE_DISABLED", raising=False)
    monkeypatch.delenv("WA_PERFKIT_DSN", raising=False)  # no page touches a database of yours
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    yield namespace
    delete_namespace(redis_url, namespace)  # every program's namespace starts with it


@pytest.mark.parametrize("page", [_param(page) for page in PAGES_WITH_CODE])
def test_page_runs(page: Path, docs_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's blocks run top to bottom, one namespace per program; fragments compile.

    Each program is a separate app: its own module name and its own cache namespace.
    """
    for number, program in enumerate(programs(page)):
        module = f"docs_{page.stem.replace('-', '_')}_{program[0].program.replace('-', '_')}"
        monkeypatch.setenv("WA_PERFKIT_NAMESPACE", f"{docs_env}p{number}")
        namespace: dict[str, object] = {"__name__": module}
        for block in program:
            code = block.compiled()
            if block.fragment:
                continue
            try:
                exec(code, namespace)  # noqa: S102 (the documentation's own code)
            except BaseException as exc:
                raise AssertionError(f"{block.where}: {type(exc).__name__}: {exc}") from exc


def test_every_page_type_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mypy accepts each page assembled as one module (fragments in their context)."""
    from mypy import api

    monkeypatch.setenv("MYPYPATH", str(ROOT / "examples"))
    files = []
    for page in PAGES_WITH_CODE:
        if str(page.relative_to(ROOT)) in PENDING:
            continue
        for number, program in enumerate(programs(page)):
            target = tmp_path / f"docs_{page.stem.replace('-', '_')}_{number}.py"
            target.write_text(as_module(program), encoding="utf-8")
            files.append(str(target))
    # The project's own settings (strict) and cache: warm after `make test`'s mypy step.
    out, err, status = api.run([
        "--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary",
        "--python-executable", sys.executable, *files,
    ])
    assert status == 0, out + err
