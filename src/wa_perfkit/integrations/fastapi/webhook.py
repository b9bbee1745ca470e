"""
FastAPI dependencies for a WhatsApp webhook: signature, payload and handshake.

::

    webhook = WhatsAppWebhook(app_secret=..., verify_token=...)
    app.add_api_route("/webhook", webhook.handshake, methods=["GET"])

    @app.post("/webhook")
    async def receive(delivery: WebhookDelivery = Depends(webhook.delivery)) -> dict[str, str]:
        ...

The body is read once with ``await request.body()``, which Starlette caches on
the request, so a handler may still call ``await request.json()``. A bad
signature answers 401, an oversized body 413 (refused from ``Content-Length``
before reading when announced), a malformed payload 400, a refused handshake
403: bad input never reaches a 500. Refusal reasons are logged at WARNING
(never the body, the secret or the token).
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse

from wa_perfkit._log import logger
from wa_perfkit._secret import Secret
from wa_perfkit.errors import (
    HandshakeRefused,
    InvalidPayload,
    InvalidSignature,
    PayloadTooLarge,
    WebhookError,
)
from wa_perfkit.whatsapp.models import WebhookDelivery
from wa_perfkit.whatsapp.receiver import WebhookReceiver
from wa_perfkit.whatsapp.signature import DEFAULT_MAX_BODY_BYTES, SIGNATURE_HEADER, AppSecret

__all__ = ["WhatsAppWebhook", "http_error"]


class WhatsAppWebhook:
    """
    FastAPI dependencies and the handshake endpoint for one WhatsApp webhook URL.

    Args:
        app_secret: the Meta app secret, or several during a rotation.
        verify_token: the token typed into the Meta dashboard.
        max_body_bytes: the body limit (413 above it); None disables it.

    Raises:
        ConfigurationError: a secret or the verify token is empty.
    """

    def __init__(
        self,
        *,
        app_secret: AppSecret,
        verify_token: str | bytes | Secret,
        max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.receiver = WebhookReceiver(
            app_secret=app_secret, verify_token=verify_token, max_body_bytes=max_body_bytes
        )

    def __repr__(self) -> str:
        return f"WhatsAppWebhook({self.receiver!r})"

    async def verified_body(self, request: Request) -> bytes:
        """
        Dependency: the raw body, once its signature is checked.

        Args:
            request: the incoming request (injected by FastAPI).

        Returns:
            The raw body bytes.

        Raises:
            HTTPException: 401 bad signature, 413 too large, 400 bad ``Content-Length``.
        """
        try:
            self.receiver.check_content_length(request.headers.get("content-length"))
            body = await request.body()
            self.receiver.verify(body, request.headers.get(SIGNATURE_HEADER))
        except WebhookError as exc:
            raise http_error(exc) from None
        return body

    async def delivery(self, request: Request) -> WebhookDelivery:
        """
        Dependency: the verified, parsed delivery.

        Args:
            request: the incoming request (injected by FastAPI).

        Returns:
            The parsed delivery.

        Raises:
            HTTPException: 401, 413 or 400 as for `verified_body`; 400 malformed payload.
        """
        try:
            self.receiver.check_content_length(request.headers.get("content-length"))
            body = await request.body()
            return self.receiver.receive(body, request.headers.get(SIGNATURE_HEADER))
        except WebhookError as exc:
            raise http_error(exc) from None

    async def handshake(self, request: Request) -> PlainTextResponse:
        """
        Endpoint for Meta's verification GET: echo ``hub.challenge`` or answer 403.

        Args:
            request: the incoming request (injected by FastAPI).

        Returns:
            The challenge as ``text/plain``.

        Raises:
            HTTPException: 403 when the handshake is refused.
        """
        try:
            return PlainTextResponse(self.receiver.handshake(request.query_params))
        except WebhookError as exc:
            raise http_error(exc) from None


def http_error(exc: WebhookError) -> HTTPException:
    """
    Map a webhook error to the HTTPException FastAPI answers with, and log its reason.

    Args:
        exc: the error raised by the receiver.

    Returns:
        401, 413, 400 or 403 with a short, secret-free detail.
    """
    status, detail = _status_of(exc)
    logger.warning("wa_perfkit: webhook request refused (%d): %s", status, detail)
    return HTTPException(status_code=status, detail=detail)


def _status_of(exc: WebhookError) -> tuple[int, str]:
    if isinstance(exc, InvalidSignature):
        return 401, f"invalid webhook signature: {exc.reason}"
    if isinstance(exc, PayloadTooLarge):
        return 413, str(exc)
    if isinstance(exc, HandshakeRefused):
        return 403, f"verification refused: {exc.reason}"
    if isinstance(exc, InvalidPayload):
        return 400, f"invalid webhook payload: {exc}"
    return 400, "invalid webhook request"
