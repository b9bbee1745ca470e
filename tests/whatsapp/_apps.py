"""
The same WhatsApp receiver on FastAPI and on Flask, driven through one synchronous client.

Each app hands every new message, status and echo (deduplicated on the given
cache) back in its JSON answer, so a test can compare exactly what a handler
received with what the payload held.

No ``from __future__ import annotations``: FastAPI must evaluate the
``Annotated[..., Depends(webhook.delivery)]`` hint, and ``webhook`` is a local.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from tests.whatsapp._samples import APP_SECRET, VERIFY_TOKEN
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.fastapi.webhook import WhatsAppWebhook as FastAPIWebhook
from wa_perfkit.integrations.flask.webhook import WhatsAppWebhook as FlaskWebhook
from wa_perfkit.whatsapp import WebhookDelivery, adedupe, dedupe

#: ``post(body, headers) -> (status, json body or None)``
Post = Callable[[bytes, dict[str, str]], tuple[int, Any]]
FRAMEWORKS = ("fastapi", "flask")


def handed_over(delivery: WebhookDelivery, new: Callable[[str], bool]) -> dict[str, Any]:
    """
    What a handler received: each item whose dedupe key ``new`` reports as new.
    """
    return {
        "messages": [
            [m.id, m.type, m.sender, m.sender_user_id] for m in delivery.messages if new(m.id)
        ],
        "statuses": [
            [s.id, s.status, s.recipient_id, s.recipient_user_id, s.is_call]
            for s in delivery.statuses
            if new(s.dedupe_key)
        ],
        "echoes": [e.id for e in delivery.echoes if new(f"echo:{e.id}")],
        "fields": [c.field for c in delivery.changes],
        "unparsed": [u.path for u in delivery.unparsed],
    }


def fastapi_app(cache: Cache, **options: Any) -> FastAPI:
    """
    A FastAPI receiver deduplicating with ``adedupe``.
    """
    webhook = FastAPIWebhook(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, **options)
    app = FastAPI()

    @app.post("/webhook")
    async def receive(
        delivery: Annotated[WebhookDelivery, Depends(webhook.delivery)],
    ) -> dict[str, Any]:
        seen = {key: await adedupe(cache, key) for key in _keys(delivery)}
        return handed_over(delivery, lambda key: seen.pop(key, False))

    return app


def flask_app(cache: Cache, **options: Any) -> Flask:
    """
    A Flask receiver deduplicating with ``dedupe``.
    """
    webhook = FlaskWebhook(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, **options)
    app = Flask(__name__)

    @app.post("/webhook")
    @webhook.verified
    def receive(delivery: WebhookDelivery) -> dict[str, Any]:
        seen = {key: dedupe(cache, key) for key in _keys(delivery)}
        return handed_over(delivery, lambda key: seen.pop(key, False))

    return app


def _keys(delivery: WebhookDelivery) -> list[str]:
    # In delivery order; a key repeated within one delivery is new only the first time.
    keys = [m.id for m in delivery.messages] + [s.dedupe_key for s in delivery.statuses]
    return list(dict.fromkeys(keys + [f"echo:{e.id}" for e in delivery.echoes]))


def client_for(framework: str, cache: Cache, **options: Any) -> Post:
    """
    Return a ``post`` function for the receiver on ``framework``.
    """
    if framework == "fastapi":
        client = TestClient(fastapi_app(cache, **options))

        def post_fastapi(body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            response = client.post("/webhook", content=body, headers=headers)
            return response.status_code, _json(response.headers, response.content)

        return post_fastapi
    flask_client = flask_app(cache, **options).test_client()

    def post_flask(body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = flask_client.post("/webhook", data=body, headers=headers)
        return response.status_code, _json(response.headers, response.get_data())

    return post_flask


def _json(headers: Any, content: bytes) -> Any:
    import json

    if "json" not in headers.get("content-type", ""):
        return None
    return json.loads(content)
