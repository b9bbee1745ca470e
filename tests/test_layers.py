"""
The package's layers, as the package docstring draws them, kept by an `ast` walk over src/.

Each module belongs to one layer; it may import its own layer and the layers below,
never one above, and no two modules import each other, not even under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "wa_perfkit"

#: Lowest first. A module's layer is that of its longest matching prefix.
LAYERS: tuple[tuple[str, ...], ...] = (
    # errors and logging: import nothing of ours but each other
    ("errors", "_log", "_version", "secret", "_extras"),
    # pure decisions, no I/O
    ("keys", "policy", "serialization", "metrics", "observe"),
    # backends: the contract, its powers, the stores
    ("backends",),
    # the engine: how a miss is served (single-flight, lock, read-through)
    ("_engine",),
    # what users hold
    ("cache", "repository", "auth", "config", "testing"),
    # the domain toolkits built on them
    ("whatsapp", "pagination", "sql"),
    # the edges: frameworks, command line, demo, the public root
    ("integrations", "fastapi", "flask", "cli", "demo", ""),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def layer_of(module: str) -> int:
    """The layer index of a ``wa_perfkit...`` module name."""
    relative = module.removeprefix(PACKAGE).removeprefix(".")
    best, best_len = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = relative == prefix or relative.startswith(prefix + ".") or prefix == ""
            if matches and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str) -> set[str]:
    """Every wa_perfkit module ``module`` imports, anywhere in it (TYPE_CHECKING included)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.add(candidate if candidate in MODULES else source)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer() -> None:
    """A new top-level module must be placed in a layer (edit LAYERS and the docstring)."""
    assert all(layer_of(module) >= 0 for module in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_its_layer_and_below(module: str) -> None:
    """A module never imports a higher layer."""
    upward = sorted(
        imported for imported in GRAPH[module] if layer_of(imported) > layer_of(module)
    )
    assert upward == [], f"{module} (layer {layer_of(module)}) imports higher layers: {upward}"


def test_no_import_cycle() -> None:
    """No module reaches itself through imports (TYPE_CHECKING imports count)."""
    # Package __init__ files re-export their children: an edge parent -> child is expected,
    # so a child importing its own package's __init__ is what would close a cycle.
    visiting: set[str] = set()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        visiting.add(module)
        for imported in sorted(GRAPH[module]):
            if imported in visiting:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in done:
                visit(imported, [*path, imported])
        visiting.discard(module)
        done.add(module)

    for module in sorted(MODULES):
        if module not in done:
            visit(module, [module])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles[:10])


def test_the_package_docstring_draws_the_layers() -> None:
    """The root docstring names every layer, so the rule is read where users look first."""
    import wa_perfkit

    doc = wa_perfkit.__doc__ or ""
    for prefixes in LAYERS[:-1]:
        assert any(prefix in doc for prefix in prefixes), prefixes
