"""
A complete WhatsApp Cloud API webhook receiver on FastAPI.

* ``GET /webhook``: Meta's verification handshake (echoes ``hub.challenge``);
* ``POST /webhook``: signature checked (401), size bounded (413), payload parsed
  (400), each message and status processed once even when Meta redelivers or
  two instances receive the same delivery, with the account behind each
  ``phone_number_id`` read through the cache.

Run it (``WA_APP_SECRET`` may list several secrets, comma-separated, during a rotation)::

    WA_APP_SECRET=... WA_VERIFY_TOKEN=... WA_PERFKIT_REDIS_URL=redis://127.0.0.1:6379/0 \\
        python examples/whatsapp_fastapi.py

Without ``WA_PERFKIT_REDIS_URL`` an in-process memory cache is used: fine for
one instance, but deduplication across instances needs the shared Redis.

(No ``from __future__ import annotations``: FastAPI must evaluate the
``Annotated[..., Depends(webhook.delivery)]`` hints, whose ``webhook`` is local.)
"""

import logging
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from whatsapp_accounts import AccountStore, async_account_lookup, customer_key, demo_accounts

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.fastapi.webhook import WhatsAppWebhook
from wa_perfkit.whatsapp import InboundMessage, WebhookDelivery, adedupe, aforget

log = logging.getLogger("whatsapp_webhook")


def create_app(
    *, app_secret: str | list[str], verify_token: str, cache: Cache, store: AccountStore
) -> FastAPI:
    """
    Build the receiver.

    Args:
        app_secret: the Meta app secret (a list during a rotation).
        verify_token: the token typed into the Meta dashboard.
        cache: the cache shared by every instance (Redis in production).
        store: where accounts live.

    Returns:
        The FastAPI application; received messages are appended to ``app.state.inbox``.
    """
    webhook = WhatsAppWebhook(app_secret=app_secret, verify_token=verify_token)
    get_account = async_account_lookup(cache, store)
    app = FastAPI(title="WhatsApp webhook")
    app.state.inbox = []
    app.add_api_route("/webhook", webhook.handshake, methods=["GET"], include_in_schema=False)

    async def handle(message: InboundMessage) -> None:
        account = await get_account(message.phone_number_id or "")
        if account is None or not account["active"]:
            log.warning("message for unknown or inactive number %s", message.phone_number_id)
            return
        # Real code enqueues here: Meta wants its 200 within seconds.
        app.state.inbox.append(
            {
                "account": account["id"],
                "customer": customer_key(message),  # a username user may have no phone
                "id": message.id,
                "text": message.text,
            }
        )

    @app.post("/webhook")
    async def receive(
        delivery: Annotated[WebhookDelivery, Depends(webhook.delivery)],
    ) -> dict[str, Any]:
        new_messages = 0
        for message in delivery.messages:
            if not await adedupe(cache, message.id):
                continue  # a redelivery, already handled here or on another instance
            try:
                await handle(message)
            except Exception:
                await aforget(cache, message.id)  # let Meta's retry process it again
                raise
            new_messages += 1
        new_statuses = [s for s in delivery.statuses if await adedupe(cache, s.dedupe_key)]
        return {"messages": new_messages, "statuses": len(new_statuses)}

    return app


def from_env() -> FastAPI:
    """
    Build the receiver from ``WA_APP_SECRET``, ``WA_VERIFY_TOKEN`` and ``WA_PERFKIT_REDIS_URL``.

    Returns:
        The FastAPI application, on Redis when ``WA_PERFKIT_REDIS_URL`` is set.
    """
    redis_url = os.environ.get("WA_PERFKIT_REDIS_URL")
    backend = RedisBackend(redis_url) if redis_url else MemoryBackend(maxsize=100_000)
    return create_app(
        app_secret=os.environ["WA_APP_SECRET"].split(","),
        verify_token=os.environ["WA_VERIFY_TOKEN"],
        cache=Cache(backend, namespace="whatsapp"),
        store=AccountStore(demo_accounts()),
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(from_env(), host="127.0.0.1", port=8000)
