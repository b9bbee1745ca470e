"""
Webhook bodies shaped like the examples in Meta's WhatsApp Cloud API documentation.
"""

from __future__ import annotations

import json
from typing import Any

from wa_perfkit.whatsapp import sign_body

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"


def metadata(phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """
    Return the ``value.metadata`` object of a change.
    """
    return {"display_phone_number": "15550783881", "phone_number_id": phone_number_id}


def text_message(message_id: str, body: str = "Hello") -> dict[str, Any]:
    """
    Return an inbound text message.
    """
    return {
        "from": "16505551234",
        "id": message_id,
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": body},
    }


def image_message(message_id: str) -> dict[str, Any]:
    """
    Return an inbound image message with a caption.
    """
    return {
        "from": "16505551234",
        "id": message_id,
        "timestamp": "1749416383",
        "type": "image",
        "image": {
            "caption": "Our new office",
            "mime_type": "image/jpeg",
            "sha256": "SHA256_OF_THE_IMAGE",
            "id": "1003383421387256",
        },
    }


def document_message(message_id: str) -> dict[str, Any]:
    """
    Return an inbound document message.
    """
    return {
        "from": "16505551234",
        "id": message_id,
        "timestamp": "1749416383",
        "type": "document",
        "document": {
            "filename": "invoice.pdf",
            "mime_type": "application/pdf",
            "sha256": "SHA256_OF_THE_PDF",
            "id": "2003383421387256",
        },
    }


def reaction_message(message_id: str, reacted_to: str, emoji: str = "\U0001f44d") -> dict[str, Any]:
    """
    Return an inbound reaction to a business message.
    """
    return {
        "from": "16505551234",
        "id": message_id,
        "timestamp": "1749416383",
        "type": "reaction",
        "reaction": {"message_id": reacted_to, "emoji": emoji},
    }


def status(message_id: str, state: str) -> dict[str, Any]:
    """
    Return a status update; ``failed`` ones carry Meta's error object.
    """
    item: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": "1750263773",
        "recipient_id": "16505551234",
        "conversation": {"id": "CONVERSATION_ID", "origin": {"type": "utility"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"},
    }
    if state == "failed":
        item["errors"] = [
            {
                "code": 131050,
                "title": "Unable to deliver the message.",
                "message": "Unable to deliver the message.",
                "error_data": {"details": "The user stopped marketing messages."},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return item


def delivery(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """
    Wrap messages and statuses in one entry with one ``messages`` change.
    """
    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": metadata(phone_number_id)}
    if messages is not None:
        value["contacts"] = [{"profile": {"name": "Kerry Fisher"}, "wa_id": "16505551234"}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def encode(document: Any) -> bytes:
    """
    Serialise a delivery the way Meta does (compact UTF-8 JSON).
    """
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """
    Return the headers of a correctly signed POST of ``body``.
    """
    return {"X-Hub-Signature-256": sign_body(body, secret), "Content-Type": "application/json"}
