"""
Import an optional dependency, or say which extra installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from wa_perfkit.errors import MissingExtra

__all__ = ["require", "require_all"]


def require(module: str, extra: str) -> ModuleType:
    """
    Import ``module``; if it is missing, raise `MissingExtra` naming ``extra``.

    Only the missing optional dependency itself is translated: an ImportError
    raised inside an installed package propagates unchanged.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.partition(".")[0]
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise
        raise MissingExtra(extra, top) from exc


def require_all(extra: str, *modules: str) -> None:
    """
    Check that every one of ``modules`` imports, as `require` does.
    """
    for module in modules:
        require(module, extra)
