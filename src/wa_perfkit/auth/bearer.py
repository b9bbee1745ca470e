"""
Extract a bearer token from an ``Authorization`` header value (RFC 6750 §2.1).

Framework-agnostic so the FastAPI and Flask adapters refuse exactly the same
inputs. Only the syntax is checked here; the verifier checks the token.
"""

from __future__ import annotations

from wa_perfkit.errors import InvalidToken

__all__ = ["WWW_AUTHENTICATE", "WWW_AUTHENTICATE_FORBIDDEN", "bearer_token"]

#: The challenge sent with every 401 (RFC 6750 §3).
WWW_AUTHENTICATE = 'Bearer error="invalid_token"'
#: The challenge sent with a 403 for a missing role (RFC 6750 §3.1).
WWW_AUTHENTICATE_FORBIDDEN = 'Bearer error="insufficient_scope"'

_SCHEME = "bearer"


def bearer_token(authorization: str | None, cookie: str | None = None) -> str:
    """
    Return the token of ``Authorization: Bearer <token>``, else the cookie's value.

    Args:
        authorization: the header value, or None when absent.
        cookie: the value of the configured token cookie, if any.

    Returns:
        The token (non-empty, without surrounding whitespace).

    Raises:
        InvalidToken: no token, another scheme, or an empty or spaced token.
    """
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != _SCHEME:
            raise InvalidToken("not a bearer authorization")
        token = token.strip()
        if not token or " " in token:
            raise InvalidToken("empty or malformed bearer token")
        return token
    if cookie:
        return cookie.strip()
    raise InvalidToken("no bearer token")
