"""
The tests' tree mirrors src/, as tests/README.md says: the test of a module is found by its name.

* every ``test_*.py`` outside the special folders sits in the folder of a package
  (``tests/`` for ``wa_perfkit``, ``tests/integrations/flask/`` for
  ``wa_perfkit.integrations.flask``, a leading underscore dropped) and names one of
  its modules or subpackages, or the package itself: ``test_<name>.py`` or
  ``test_<name>_<aspect>.py``;
* every folder of Python files is a package (``__init__.py``), so helpers are
  imported as ``tests.<folder>._helper`` and no two test modules clash by name;
* processes of the code under test are started in tests/many only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src" / "wa_perfkit"

#: Folders with rules of their own (tests/README.md): not mirrors of a package.
SPECIAL = {"many", "docs", "examples", "typing"}

#: Cross-cutting files at the top: they test the package as a whole.
CROSS_CUTTING = {
    "test_benchmarks_smoke.py",  # benchmarks/run.py, outside src/
    "test_layers.py",  # the import layers of every module
    "test_model.py",  # ttl_repository + Cache + every backend against a reference model
    "test_package.py",  # the package's surface and metadata
    "test_public_imports.py",  # the import paths users type
    "test_tree.py",  # this file
}

#: A process of the code under test: a worker module run with -m, or multiprocessing.
STARTS_PROCESSES = re.compile(r"^\s*(import|from) multiprocessing\b|\"-m\",\s*\"tests\.", re.M)


def _bare(name: str) -> str:
    return name.lstrip("_")


def _test_files() -> list[Path]:
    return sorted(
        path for path in TESTS.rglob("test_*.py")
        if "__pycache__" not in path.parts
    )


def _mirrored(path: Path) -> bool:
    folders = path.relative_to(TESTS).parts[:-1]
    return not (folders and folders[0] in SPECIAL)


def _package_of(folders: tuple[str, ...]) -> Path | None:
    """The src package a tests folder mirrors (``engine`` -> ``_engine``), if any."""
    package = SRC
    for folder in folders:
        matches = [
            child for child in package.iterdir()
            if child.is_dir() and _bare(child.name) == folder and (child / "__init__.py").exists()
        ]
        if not matches:
            return None
        package = matches[0]
    return package


def _names_in(package: Path) -> set[str]:
    """What a test file in the package's folder may name: its modules, subpackages, itself."""
    names = {
        _bare(child.stem if child.suffix == ".py" else child.name)
        for child in package.iterdir()
        if (child.suffix == ".py" and child.stem != "__init__")
        or (child.is_dir() and (child / "__init__.py").exists())
    }
    if package != SRC:
        names.add(_bare(package.name))
    return names


def _rel(path: Path) -> str:
    return str(path.relative_to(TESTS.parent))


MIRRORED = [p for p in _test_files() if _mirrored(p)]


def test_the_special_folders_and_cross_cutting_files_exist() -> None:
    """The lists above name what is there (a renamed folder or file must update them)."""
    assert {p.name for p in TESTS.iterdir() if p.is_dir()} >= SPECIAL
    assert {p.name for p in TESTS.glob("test_*.py")} >= CROSS_CUTTING


@pytest.mark.parametrize("path", MIRRORED, ids=[_rel(p) for p in MIRRORED])
def test_each_test_file_names_a_module_of_its_folders_package(path: Path) -> None:
    """tests/<package>/test_<module>[_<aspect>].py, or a listed cross-cutting file."""
    folders = path.relative_to(TESTS).parts[:-1]
    if not folders and path.name in CROSS_CUTTING:
        return
    package = _package_of(folders)
    assert package is not None, (
        f"{_rel(path)}: tests/{'/'.join(folders)} mirrors no package of src/wa_perfkit"
    )
    subject = path.stem.removeprefix("test_")
    names = _names_in(package)
    assert any(subject == name or subject.startswith(name + "_") for name in names), (
        f"{_rel(path)} names no module of {package.relative_to(SRC.parent)}: "
        f"call it test_<one of {sorted(names)}>[_<aspect>].py, or move it"
    )


def test_every_folder_of_python_files_is_a_package() -> None:
    """An ``__init__.py`` beside every ``.py`` (rootdir-style imports are not used)."""
    folders = {
        path.parent for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts
    }
    missing = sorted(_rel(f) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"add an __init__.py to: {missing}"


def test_processes_of_the_code_under_test_start_in_tests_many_only() -> None:
    """Multi-process scenarios are kept apart (slow, and they need real servers)."""
    outside = [
        _rel(path) for path in _test_files()
        if path.relative_to(TESTS).parts[0] != "many"
        and STARTS_PROCESSES.search(path.read_text(encoding="utf-8"))
    ]
    assert not outside, f"move these multi-process tests to tests/many: {outside}"
