"""
Authentication: verified, HMAC-keyed, ``exp``-bounded user cache.

`JWTVerifier` checks tokens; `CachedUser` turns a token into a user through a
`wa_perfkit.cache.Cache`. The FastAPI and Flask adapters, each with its own
``cached_user``, are imported from ``wa_perfkit.fastapi`` and ``wa_perfkit.flask``.
"""

from typing import Any

from wa_perfkit.auth.bearer import bearer_token
from wa_perfkit.auth.fingerprint import Fingerprinter
from wa_perfkit.auth.jwks import JWKSCache, KeySetUnavailable
from wa_perfkit.auth.user_cache import CachedUser
from wa_perfkit.auth.verifier import JWTVerifier

__all__ = [
    "CachedUser",
    "JWTVerifier",
    "JWKSCache",
    "KeySetUnavailable",
    "Fingerprinter",
    "bearer_token",
]


def __getattr__(name: str) -> Any:
    # ``cached_user`` is framework-specific: fail at the import with the right path,
    # not later with "'module' object is not callable". ImportError, not AttributeError,
    # so that ``from wa_perfkit.auth import cached_user`` shows this message.
    if name == "cached_user":
        raise ImportError(
            "cached_user depends on your web framework: "
            "from wa_perfkit.fastapi import cached_user (or from wa_perfkit.flask)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
