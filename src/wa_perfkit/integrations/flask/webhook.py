"""
Flask helpers for a WhatsApp webhook: a verifying view decorator and the handshake view.

```python
webhook = WhatsAppWebhook(app_secret=..., verify_token=...)
app.add_url_rule("/webhook", "whatsapp_handshake", webhook.handshake, methods=["GET"])

@app.post("/webhook")
@webhook.verified
def receive(delivery: WebhookDelivery) -> tuple[str, int]:
    ...
```

The body is read once, in chunks, and kept on the request, so the view may
still call ``request.get_data()`` or ``request.get_json()``. The body limit
holds with or without ``Content-Length``: an announced size over it is
refused before reading, and a chunked body stops being read one chunk past
it. A bad signature answers 401, an oversized body 413, a malformed payload
or ``Content-Length`` 400, a refused handshake 403 — as JSON
``{"detail": ...}`` (the same table, bodies and headers as the FastAPI
adapter and the auth refusals), never an HTML error page and never a 500.
Refusal reasons are logged at WARNING (never the body, the secret or the token).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, NoReturn, ParamSpec, TypeVar

from flask import Response, abort, request

from wa_perfkit.errors import WebhookError
from wa_perfkit.integrations._http_errors import JSON, error_response
from wa_perfkit.secret import Secret
from wa_perfkit.whatsapp.models import WebhookDelivery
from wa_perfkit.whatsapp.receiver import WebhookReceiver
from wa_perfkit.whatsapp.signature import DEFAULT_MAX_BODY_BYTES, SIGNATURE_HEADER, AppSecret

__all__ = ["WhatsAppWebhook", "abort_for"]

# Bytes read from the WSGI input at a time: the most a chunked body is read past the limit.
_CHUNK = 64 * 1024

P = ParamSpec("P")
R = TypeVar("R")


class WhatsAppWebhook:
    """
    A Flask view decorator and handshake view for one WhatsApp webhook URL.

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

    def verified(self, view: Callable[Concatenate[WebhookDelivery, P], R]) -> Callable[P, R]:
        """
        Decorate a view so it runs only for a verified delivery, passed as first argument.

        Args:
            view: the view; it receives the `WebhookDelivery` then the URL arguments.

        Returns:
            The view Flask should route to.
        """

        @functools.wraps(view)
        def verified_view(*args: P.args, **kwargs: P.kwargs) -> R:
            return view(self.delivery(), *args, **kwargs)

        return verified_view

    def verified_body(self) -> bytes:
        """
        Return the current request's raw body once its signature is checked.

        Returns:
            The raw body bytes (also cached for ``request.get_json()``).

        Raises:
            werkzeug.exceptions.HTTPException: 401 bad signature, 413 too large,
                400 bad ``Content-Length``.
        """
        try:
            return self._verified_body()
        except WebhookError as exc:
            abort_for(exc)

    def delivery(self) -> WebhookDelivery:
        """
        Return the current request's verified, parsed delivery.

        Returns:
            The parsed delivery.

        Raises:
            werkzeug.exceptions.HTTPException: 401, 413 or 400 as for `verified_body`;
                400 malformed payload.
        """
        try:
            return self.receiver.receive(self._read_body(), request.headers.get(SIGNATURE_HEADER))
        except WebhookError as exc:
            abort_for(exc)

    def handshake(self) -> Response:
        """
        View for Meta's verification GET: echo ``hub.challenge`` or answer 403.

        Returns:
            The challenge as ``text/plain``.

        Raises:
            werkzeug.exceptions.Forbidden: the handshake is refused.
        """
        try:
            challenge = self.receiver.handshake(request.args)
        except WebhookError as exc:
            abort_for(exc)
        return Response(challenge, status=200, mimetype="text/plain")

    def _verified_body(self) -> bytes:
        body = self._read_body()
        self.receiver.verify(body, request.headers.get(SIGNATURE_HEADER))
        return body

    def _read_body(self) -> bytes:
        cached: bytes | None = getattr(request, "_cached_data", None)
        if cached is not None:  # already read by get_data(): reuse it
            return cached
        self.receiver.check_content_length(request.headers.get("Content-Length"))
        buffer = self.receiver.body_buffer()
        stream = request.stream
        while chunk := stream.read(_CHUNK):  # until EOF, or until feed() refuses
            buffer.feed(chunk)  # raises past the limit: the rest is never read
        # Werkzeug's own cache of get_data(), so the view can read the body again.
        request._cached_data = body = buffer.body
        return body


def abort_for(exc: WebhookError) -> NoReturn:
    """
    Abort the request with the status a webhook error maps to, logging its reason.

    Args:
        exc: the error raised by the receiver.

    Raises:
        werkzeug.exceptions.HTTPException: 401, 413, 400 or 403 with a JSON body
            ``{"detail": ...}``.
    """
    abort(error_json(exc))


def error_json(exc: WebhookError) -> Response:
    """
    Build the JSON response of a refusal, from the table shared with FastAPI.

    Args:
        exc: the refusal.

    Returns:
        The response: status, ``{"detail": ...}`` body and headers.
    """
    answer = error_response(exc)
    return Response(answer.body, answer.status, answer.headers, content_type=JSON)
