"""
Authentication: verified, HMAC-keyed, ``exp``-bounded user cache (DESIGN §4).

`JWTVerifier` checks tokens; `CachedUser` turns a token into a user through a
`wa_perfkit.cache.Cache`. The FastAPI and Flask adapters live in
``wa_perfkit.integrations.fastapi.auth`` and ``wa_perfkit.integrations.flask.auth``.
"""

from wa_perfkit.auth.bearer import bearer_token
from wa_perfkit.auth.cached_user import CachedUser
from wa_perfkit.auth.fingerprint import Fingerprinter
from wa_perfkit.auth.jwks import JWKSCache, KeySetUnavailable
from wa_perfkit.auth.verifier import JWTVerifier

__all__ = [
    "CachedUser",
    "JWTVerifier",
    "JWKSCache",
    "KeySetUnavailable",
    "Fingerprinter",
    "bearer_token",
]
