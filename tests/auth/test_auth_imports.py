"""
The auth package's import paths: what users type resolves, or fails at the import.
"""

from __future__ import annotations

import importlib

import pytest


class TestImports:
    def test_cached_user_from_the_core_package_fails_at_the_import(self) -> None:
        """`from wa_perfkit.auth import cached_user` is an ImportError naming the right path."""
        with pytest.raises(ImportError, match=r"from wa_perfkit\.fastapi import cached_user"):
            from wa_perfkit.auth import cached_user  # noqa: F401

    def test_no_module_shadows_the_cached_user_name(self) -> None:
        """No submodule named ``cached_user`` exists to be imported by mistake."""
        with pytest.raises(ImportError):
            importlib.import_module("wa_perfkit.auth.cached_user")

    def test_cached_user_is_the_function_on_each_framework_path(self) -> None:
        """The framework paths give a callable ``cached_user``, not a module."""
        pytest.importorskip("fastapi")
        pytest.importorskip("flask")
        from wa_perfkit.fastapi import cached_user as fastapi_cached_user
        from wa_perfkit.flask import cached_user as flask_cached_user

        assert callable(fastapi_cached_user)
        assert callable(flask_cached_user)

    def test_other_missing_names_are_attribute_errors(self) -> None:
        """Any other unknown attribute stays an AttributeError (``hasattr`` works)."""
        import wa_perfkit.auth

        assert not hasattr(wa_perfkit.auth, "no_such_name")
