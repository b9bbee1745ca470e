"""
WhatsApp Cloud API webhook helpers, free of any web framework.

* `verify_webhook_signature` — ``X-Hub-Signature-256`` (HMAC-SHA256, constant time);
* `verify_handshake` — the ``hub.challenge`` GET Meta sends when the URL is registered;
* `parse_webhook` — the JSON body as typed, immutable dataclasses;
* `dedupe` / `adedupe` — "first time?" exactly once per message id, across instances;
* `WebhookReceiver` — all of the above configured once, for the web adapters.

The FastAPI and Flask adapters live in ``wa_perfkit.integrations.fastapi.webhook``
and ``wa_perfkit.integrations.flask.webhook``.
"""

from wa_perfkit.whatsapp.dedupe import (
    DEFAULT_DEDUPE_TTL,
    adedupe,
    aforget,
    dedupe,
    dedupe_key,
    forget,
)
from wa_perfkit.whatsapp.handshake import verify_handshake
from wa_perfkit.whatsapp.models import (
    Change,
    Contact,
    Entry,
    InboundMessage,
    Media,
    MessageEcho,
    Metadata,
    Reaction,
    StatusError,
    StatusUpdate,
    UnparsedItem,
    WebhookDelivery,
)
from wa_perfkit.whatsapp.payload import parse_delivery, parse_webhook
from wa_perfkit.whatsapp.receiver import BodyBuffer, WebhookReceiver
from wa_perfkit.whatsapp.signature import (
    DEFAULT_MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    AppSecret,
    sign_body,
    verify_webhook_signature,
)

__all__ = [
    "BodyBuffer",
    "WebhookReceiver",
    # signature
    "DEFAULT_MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "AppSecret",
    "sign_body",
    "verify_webhook_signature",
    # dedupe
    "DEFAULT_DEDUPE_TTL",
    "adedupe",
    "aforget",
    "dedupe",
    "dedupe_key",
    "forget",
    # handshake
    "verify_handshake",
    # payload
    "parse_delivery",
    "parse_webhook",
    "Change",
    "Contact",
    "Entry",
    "InboundMessage",
    "Media",
    "MessageEcho",
    "Metadata",
    "Reaction",
    "StatusError",
    "StatusUpdate",
    "UnparsedItem",
    "WebhookDelivery",
]
