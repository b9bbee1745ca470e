"""
Flask helpers for a WhatsApp webhook: a verifying view decorator and the handshake view.

::

    webhook = WhatsAppWebhook(app_secret=..., verify_token=...)
    app.add_url_rule("/webhook", "whatsapp_handshake", webhook.handshake, methods=["GET"])

    @app.post("/webhook")
    @webhook.verified
    def receive(delivery: WebhookDelivery) -> tuple[str, int]:
        ...

The body is read once with ``request.get_data(cache=True)``, so the view may
still call ``request.get_json()``. A bad signature answers 401, an oversized
body 413 (refused from ``Content-Length`` before reading), a malformed
payload 400, a refused handshake 403 — as ``abort()`` HTTP errors, never a 500.
Refusal reasons are logged at WARNING (never the body, the secret or the token).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, NoReturn, ParamSpec, TypeVar

from flask import Response, abort, request

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

__all__ = ["WhatsAppWebhook", "abort_for"]

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
        self.receiver.check_content_length(request.headers.get("Content-Length"))
        return request.get_data(cache=True)


def abort_for(exc: WebhookError) -> NoReturn:
    """
    Abort the request with the status a webhook error maps to, logging its reason.

    Args:
        exc: the error raised by the receiver.

    Raises:
        werkzeug.exceptions.HTTPException: 401, 413, 400 or 403 with a secret-free description.
    """
    status, detail = _status_of(exc)
    logger.warning("wa_perfkit: webhook request refused (%d): %s", status, detail)
    abort(status, description=detail)


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
