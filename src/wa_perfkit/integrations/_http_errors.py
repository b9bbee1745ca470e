"""
Every refusal of the web integrations as one framework-free table: status, body, headers.

The FastAPI and Flask adapters (auth and webhook alike) turn a library error
into an HTTP answer through `error_response` and nothing else, so both
frameworks answer the same status, the same JSON body ``{"detail": ...}`` and
the same headers for the same error:

```text
InvalidToken      401  WWW-Authenticate: Bearer error="invalid_token"
Forbidden         403  WWW-Authenticate: Bearer error="insufficient_scope"
other AuthError   503  Retry-After: 1         (user store or JWKS unavailable)
InvalidSignature  401                         (webhook)
PayloadTooLarge   413
HandshakeRefused  403
InvalidPayload    400  (also a malformed Content-Length)
```

Details are short and secret-free: never a token, a body, a secret or a key.
Webhook refusals are logged at WARNING (a misconfigured app secret shows up
in the logs), token refusals at DEBUG (any client can send a bad token).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Final

from wa_perfkit._log import logger
from wa_perfkit.auth.bearer import WWW_AUTHENTICATE, WWW_AUTHENTICATE_FORBIDDEN
from wa_perfkit.errors import (
    AuthError,
    Forbidden,
    HandshakeRefused,
    InvalidPayload,
    InvalidSignature,
    InvalidToken,
    PayloadTooLarge,
    WebhookError,
)

__all__ = ["JSON", "ErrorResponse", "error_response"]

#: The media type of every error body.
JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """
    The HTTP answer to one refusal.

    Attributes:
        status: the status code.
        detail: a short, secret-free reason (the ``detail`` of the JSON body).
        headers: extra response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        """
        The JSON body, ``{"detail": "..."}``, as FastAPI's ``HTTPException`` renders it.
        """
        return json.dumps({"detail": self.detail}).encode()


def error_response(exc: AuthError | WebhookError) -> ErrorResponse:
    """
    Map a refusal to its HTTP answer, and log it (webhook: WARNING, token: DEBUG).

    Args:
        exc: an auth or webhook error.

    Returns:
        The status, detail and headers to answer with.
    """
    answer, level = _answer(exc)
    if logger.isEnabledFor(level):
        logger.log(level, "wa_perfkit: request refused (%d): %s", answer.status, answer.detail)
    return answer


def _answer(exc: AuthError | WebhookError) -> tuple[ErrorResponse, int]:
    if isinstance(exc, InvalidToken):
        challenge = {"WWW-Authenticate": WWW_AUTHENTICATE}
        return ErrorResponse(401, "invalid or expired token", challenge), logging.DEBUG
    if isinstance(exc, Forbidden):
        challenge = {"WWW-Authenticate": WWW_AUTHENTICATE_FORBIDDEN}
        return ErrorResponse(403, "missing required role", challenge), logging.DEBUG
    if isinstance(exc, AuthError):
        retry = {"Retry-After": "1"}
        return ErrorResponse(503, "user store unavailable, retry later", retry), logging.WARNING
    return _webhook_answer(exc), logging.WARNING


def _webhook_answer(exc: WebhookError) -> ErrorResponse:
    if isinstance(exc, InvalidSignature):
        return ErrorResponse(401, f"invalid webhook signature: {exc.reason}")
    if isinstance(exc, PayloadTooLarge):
        return ErrorResponse(413, str(exc))
    if isinstance(exc, HandshakeRefused):
        return ErrorResponse(403, f"verification refused: {exc.reason}")
    if isinstance(exc, InvalidPayload):
        return ErrorResponse(400, f"invalid webhook payload: {exc}")
    return ErrorResponse(400, "invalid webhook request")
