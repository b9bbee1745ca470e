"""
`WebhookReceiver`: the framework-free core both web adapters drive.

It holds the app secret(s), the verify token and the body limit, and turns
request parts (headers, query parameters, raw body) into a verified
`WebhookDelivery`, a challenge to echo, or a typed error. The FastAPI and
Flask adapters only read the request and map errors to status codes:

```text
InvalidSignature -> 401    PayloadTooLarge -> 413
InvalidPayload   -> 400    HandshakeRefused -> 403
```

The body limit holds whether or not the client announces a size: a
``Content-Length`` over the limit is refused before reading, and a body
without one (``Transfer-Encoding: chunked``) is read through a `BodyBuffer`
that refuses it as soon as the bytes received pass the limit, so at most
one transport chunk more than the limit is ever read.

Secrets are held as `Secret`, so neither the receiver's repr nor a
traceback showing it reveals them.
"""

from __future__ import annotations

from collections.abc import Mapping

from wa_perfkit._log import logger
from wa_perfkit.errors import ConfigurationError, InvalidPayload
from wa_perfkit.secret import Secret
from wa_perfkit.whatsapp.handshake import verify_handshake
from wa_perfkit.whatsapp.models import WebhookDelivery
from wa_perfkit.whatsapp.payload import parse_webhook
from wa_perfkit.whatsapp.signature import (
    DEFAULT_MAX_BODY_BYTES,
    AppSecret,
    check_body_size,
    normalize_secrets,
    verify_webhook_signature,
)

__all__ = ["BodyBuffer", "WebhookReceiver"]

# A Content-Length longer than this is malformed, not large: int() of 5,000
# digits raises (3.11+) or costs quadratic time, and no body has 10**20 bytes.
_MAX_LENGTH_DIGITS = 19


class BodyBuffer:
    """
    Collect a request body chunk by chunk, refusing it once it passes the limit.

    Args:
        max_body_bytes: the limit; None disables it.
    """

    def __init__(self, max_body_bytes: int | None) -> None:
        self._limit = max_body_bytes
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        """
        Add the next chunk of the body.

        Args:
            chunk: bytes as received from the server.

        Raises:
            PayloadTooLarge: the bytes received so far pass the limit.
        """
        self._size += len(chunk)
        check_body_size(self._size, self._limit)
        self._parts.append(chunk)

    @property
    def body(self) -> bytes:
        """
        The body received so far.
        """
        return b"".join(self._parts)


class WebhookReceiver:
    """
    Verify and parse WhatsApp webhook requests, independent of any web framework.

    Args:
        app_secret: the Meta app secret, or several during a rotation.
        verify_token: the token typed into the Meta dashboard for the handshake.
        max_body_bytes: refuse larger bodies (413) before reading or hashing them;
            None disables the limit.

    Raises:
        ConfigurationError: a secret or the verify token is empty, or
            ``max_body_bytes`` is not a positive int (or None).
    """

    def __init__(
        self,
        *,
        app_secret: AppSecret,
        verify_token: str | bytes | Secret,
        max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._secrets = tuple(Secret(s) for s in normalize_secrets(app_secret))
        try:
            self._verify_token = Secret(verify_token)
        except ValueError:
            raise ConfigurationError("verify_token must not be empty") from None
        if max_body_bytes is not None and (type(max_body_bytes) is not int or max_body_bytes < 1):
            raise ConfigurationError(
                f"max_body_bytes must be a positive int or None, not {max_body_bytes!r}"
            )
        self.max_body_bytes = max_body_bytes

    def __repr__(self) -> str:
        limit = self.max_body_bytes
        return f"WebhookReceiver(secrets={len(self._secrets)}, max_body_bytes={limit})"

    def check_content_length(self, header: str | None) -> None:
        """
        Refuse an announced body size over the limit, before reading the body.

        Args:
            header: the ``Content-Length`` header, or None when absent (chunked).

        Raises:
            PayloadTooLarge: the announced size is over the limit.
            InvalidPayload: the header is not a non-negative integer.
        """
        if header is None:
            return
        value = header.strip()
        # str.isdigit() also accepts "²" and other non-ASCII digits that int() refuses.
        if not (value.isascii() and value.isdigit()) or len(value) > _MAX_LENGTH_DIGITS:
            raise InvalidPayload("Content-Length is not a non-negative integer")
        check_body_size(int(value), self.max_body_bytes)

    def body_buffer(self) -> BodyBuffer:
        """
        Return a buffer that collects a body under this receiver's limit.

        Returns:
            A new `BodyBuffer`.
        """
        return BodyBuffer(self.max_body_bytes)

    def verify(self, body: bytes, signature: str | None) -> None:
        """
        Check the ``X-Hub-Signature-256`` header against the raw body.

        Args:
            body: the raw request body.
            signature: the header value, or None when absent.

        Raises:
            PayloadTooLarge: the body is over the limit.
            InvalidSignature: the header is missing, malformed or wrong.
        """
        verify_webhook_signature(body, signature, self._secrets, max_body_bytes=self.max_body_bytes)

    def receive(self, body: bytes, signature: str | None) -> WebhookDelivery:
        """
        Verify the signature, then parse the body.

        Args:
            body: the raw request body.
            signature: the ``X-Hub-Signature-256`` header, or None when absent.

        Returns:
            The parsed delivery.

        Raises:
            PayloadTooLarge: the body is over the limit.
            InvalidSignature: the header is missing, malformed or wrong.
            InvalidPayload: the signed body is not a WhatsApp delivery.
        """
        self.verify(body, signature)
        delivery = parse_webhook(body)
        if delivery.unparsed:
            # Paths and reasons only: the raw items may hold customers' messages.
            paths = ", ".join(item.reason for item in delivery.unparsed[:5])
            logger.warning(
                "wa_perfkit: webhook delivery accepted with %d item(s) set aside: %s",
                len(delivery.unparsed), paths,
            )
        return delivery

    def handshake(self, params: Mapping[str, str]) -> str:
        """
        Answer Meta's verification GET.

        Args:
            params: the request's query parameters.

        Returns:
            The challenge to send back as ``text/plain`` with status 200.

        Raises:
            HandshakeRefused: wrong mode or token, or an unsafe challenge.
        """
        return verify_handshake(params, self._verify_token.get_secret_value())
