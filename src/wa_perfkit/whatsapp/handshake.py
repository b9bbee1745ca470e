"""
The ``hub.challenge`` verification handshake Meta runs when a webhook URL is registered.

Meta sends ``GET <url>?hub.mode=subscribe&hub.verify_token=<token>&hub.challenge=<n>``
and expects the challenge echoed back, as plain text, with status 200. Anything
else is refused with `HandshakeRefused` (HTTP 403, as in Meta's own sample code).

The verify token is compared with `hmac.compare_digest` on UTF-8 bytes, so the
time taken does not reveal how many leading characters matched. The challenge
is echoed only if it is 1-256 characters of ``[A-Za-z0-9._-]`` (Meta sends a
decimal integer): an endpoint that reflects arbitrary text is a reflected-XSS
gadget even as ``text/plain`` on lenient clients.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Final

from wa_perfkit.errors import ConfigurationError, HandshakeRefused

__all__ = ["verify_handshake"]

_CHALLENGE: Final = re.compile(r"[A-Za-z0-9._-]{1,256}")


def verify_handshake(params: Mapping[str, str], verify_token: str | bytes) -> str:
    """
    Check a verification request's query parameters and return the challenge to echo.

    Args:
        params: the query parameters (Starlette ``request.query_params``, Flask
            ``request.args`` or a plain dict).
        verify_token: the token configured in the Meta app dashboard.

    Returns:
        The ``hub.challenge`` value, to be sent back as the ``text/plain`` body.

    Raises:
        HandshakeRefused: a parameter is missing or wrong; ``reason`` is one of
            ``"bad-mode"``, ``"missing-token"``, ``"token-mismatch"``, ``"bad-challenge"``.
        ConfigurationError: ``verify_token`` is empty.
    """
    expected = verify_token.encode() if isinstance(verify_token, str) else verify_token
    if not expected:
        raise ConfigurationError("verify_token must not be empty")
    if params.get("hub.mode") != "subscribe":
        raise HandshakeRefused("bad-mode")
    token = params.get("hub.verify_token")
    if not token:
        raise HandshakeRefused("missing-token")
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), expected):
        raise HandshakeRefused("token-mismatch")
    return _checked_challenge(params.get("hub.challenge"))


def _checked_challenge(challenge: str | None) -> str:
    """
    Return the challenge if it is safe to reflect.
    """
    if challenge is None or not _CHALLENGE.fullmatch(challenge):
        raise HandshakeRefused("bad-challenge")
    return challenge
