"""
FastAPI dependencies for a WhatsApp webhook: signature, payload and handshake.

```python
webhook = WhatsAppWebhook(app_secret=..., verify_token=...)
app.add_api_route("/webhook", webhook.handshake, methods=["GET"])

@app.post("/webhook")
async def receive(delivery: WebhookDelivery = Depends(webhook.delivery)) -> dict[str, str]:
    ...
```

The body is read once, as a stream, and kept on the request, so a handler
may still call ``await request.body()`` or ``await request.json()``. The body
limit holds with or without ``Content-Length``: an announced size over it is
refused before reading, and a chunked body stops being read one chunk past
it. A bad signature answers 401, an oversized body 413, a malformed payload
or ``Content-Length`` 400, a refused handshake 403 — all as JSON
``{"detail": ...}`` from the table shared with the Flask adapter: bad input
never reaches a 500. Refusal reasons are logged at WARNING (never the body,
the secret or the token).
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse

from wa_perfkit.errors import WebhookError
from wa_perfkit.integrations._http_errors import error_response
from wa_perfkit.secret import Secret
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
            body = await self._read_body(request)
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
            body = await self._read_body(request)
            return self.receiver.receive(body, request.headers.get(SIGNATURE_HEADER))
        except WebhookError as exc:
            raise http_error(exc) from None

    async def _read_body(self, request: Request) -> bytes:
        if hasattr(request, "_body"):  # already read (another dependency): reuse it
            return await request.body()
        self.receiver.check_content_length(request.headers.get("content-length"))
        buffer = self.receiver.body_buffer()
        async for chunk in request.stream():
            buffer.feed(chunk)  # raises past the limit: the rest is never read
        # Starlette's own cache of request.body(), so the handler can read it again.
        request._body = body = buffer.body
        return body

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
    answer = error_response(exc)
    return HTTPException(answer.status, answer.detail, answer.headers or None)
