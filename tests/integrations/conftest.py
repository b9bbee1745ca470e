"""
Fixtures of the integration tests: the auth ones come from tests/auth/conftest.py.

Re-exported (not redefined) so the FastAPI and Flask auth tests
(``fastapi/test_auth.py``, ``flask/test_auth.py``) get the same keys, JWKS
server, verifier, user store and user caches as the core suite in tests/auth.
"""

from __future__ import annotations

from tests.auth.conftest import (
    fixture_acurrent,
    fixture_current,
    fixture_jwks,
    fixture_keys,
    fixture_kind,
    fixture_ucache,
    fixture_users,
    fixture_verifier,
)

__all__ = [
    "fixture_acurrent",
    "fixture_current",
    "fixture_jwks",
    "fixture_keys",
    "fixture_kind",
    "fixture_ucache",
    "fixture_users",
    "fixture_verifier",
]
