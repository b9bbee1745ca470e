"""
Tests of `wa_perfkit.whatsapp.payload` against Meta's documented delivery shapes.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.whatsapp._samples import (
    PHONE_NUMBER_ID,
    WABA_ID,
    delivery,
    document_message,
    encode,
    image_message,
    reaction_message,
    status,
    text_message,
)
from wa_perfkit.errors import InvalidPayload
from wa_perfkit.whatsapp import Media, Reaction, StatusError, parse_delivery, parse_webhook


class TestShapes:
    def test_text_message(self) -> None:
        """A text message yields its id, sender, body and business number."""
        parsed = parse_webhook(encode(delivery([text_message("wamid.A", "Hi there")])))
        assert parsed.object_type == "whatsapp_business_account"
        (msg,) = parsed.messages
        assert (msg.id, msg.type, msg.text, msg.sender) == (
            "wamid.A",
            "text",
            "Hi there",
            "16505551234",
        )
        assert msg.phone_number_id == PHONE_NUMBER_ID
        assert msg.timestamp == "1749416383"
        assert parsed.entries[0].id == WABA_ID
        assert parsed.entries[0].changes[0].contacts[0].name == "Kerry Fisher"

    def test_image_message(self) -> None:
        """An image message yields a Media with id, mime type, hash and caption."""
        (msg,) = parse_webhook(encode(delivery([image_message("wamid.I")]))).messages
        assert msg.media == Media(
            id="1003383421387256",
            mime_type="image/jpeg",
            sha256="SHA256_OF_THE_IMAGE",
            caption="Our new office",
        )
        assert msg.text is None

    def test_document_message(self) -> None:
        """A document message keeps its filename."""
        (msg,) = parse_webhook(encode(delivery([document_message("wamid.D")]))).messages
        assert msg.media is not None
        assert msg.media.filename == "invoice.pdf"

    def test_reaction_message(self) -> None:
        """A reaction yields the reacted-to message id and the emoji."""
        (msg,) = parse_webhook(
            encode(delivery([reaction_message("wamid.R", "wamid.OUT")]))
        ).messages
        assert msg.reaction == Reaction(message_id="wamid.OUT", emoji="\U0001f44d")

    def test_removed_reaction(self) -> None:
        """A removed reaction (no emoji) still parses."""
        raw = reaction_message("wamid.R", "wamid.OUT")
        del raw["reaction"]["emoji"]
        (msg,) = parse_webhook(encode(delivery([raw]))).messages
        assert msg.reaction == Reaction(message_id="wamid.OUT")

    @pytest.mark.parametrize("state", ["sent", "delivered", "read", "failed"])
    def test_status_updates(self, state: str) -> None:
        """Every documented status parses, with the conversation id and business number."""
        parsed = parse_webhook(encode(delivery(statuses=[status("wamid.OUT", state)])))
        (update,) = parsed.statuses
        assert (update.id, update.status, update.recipient_id) == (
            "wamid.OUT",
            state,
            "16505551234",
        )
        assert update.conversation_id == "CONVERSATION_ID"
        assert update.phone_number_id == PHONE_NUMBER_ID
        assert update.dedupe_key == f"wamid.OUT:{state}"
        assert parsed.messages == ()

    def test_failed_status_errors(self) -> None:
        """A failed status carries Meta's error code, title and details."""
        (update,) = parse_webhook(encode(delivery(statuses=[status("wamid.F", "failed")]))).statuses
        assert update.errors == (
            StatusError(
                code=131050,
                title="Unable to deliver the message.",
                message="Unable to deliver the message.",
                details="The user stopped marketing messages.",
            ),
        )

    def test_several_messages_in_one_entry(self) -> None:
        """Several messages of one change come out in order."""
        items = [text_message("wamid.1"), image_message("wamid.2"), text_message("wamid.3")]
        assert parse_webhook(encode(delivery(items))).message_ids == (
            "wamid.1",
            "wamid.2",
            "wamid.3",
        )

    def test_several_entries_changes_messages_and_statuses(self) -> None:
        """Ids are collected across entries and changes, each tagged with its number."""
        first = delivery([text_message("wamid.1"), text_message("wamid.2")], phone_number_id="111")
        second = delivery(
            [text_message("wamid.3")],
            statuses=[status("wamid.OUT", "sent"), status("wamid.OUT", "delivered")],
            phone_number_id="222",
        )
        first["entry"][0]["changes"].append(second["entry"][0]["changes"][0])
        first["entry"].append(
            delivery(statuses=[status("wamid.X", "read")], phone_number_id="333")["entry"][0]
        )
        parsed = parse_webhook(encode(first))
        assert parsed.message_ids == ("wamid.1", "wamid.2", "wamid.3")
        assert parsed.status_ids == ("wamid.OUT", "wamid.OUT", "wamid.X")
        assert [s.dedupe_key for s in parsed.statuses] == [
            "wamid.OUT:sent",
            "wamid.OUT:delivered",
            "wamid.X:read",
        ]
        assert parsed.phone_number_ids == ("111", "222", "333")
        assert [m.phone_number_id for m in parsed.messages] == ["111", "111", "222"]

    def test_unknown_fields_are_ignored(self) -> None:
        """Fields Meta may add anywhere are ignored, and stay reachable through ``raw``."""
        doc = delivery([text_message("wamid.A")], statuses=[status("wamid.S", "read")])
        doc["brand_new"] = {"x": 1}
        doc["entry"][0]["future"] = [1, 2]
        change = doc["entry"][0]["changes"][0]
        change["value"]["novel_list"] = [{"a": None}]
        change["value"]["messages"][0]["referral"] = {"source_url": "https://example.com"}
        change["value"]["messages"][0]["text"]["preview_url"] = True
        change["value"]["statuses"][0]["biz_opaque_callback_data"] = "abc"
        parsed = parse_webhook(encode(doc))
        assert parsed.message_ids == ("wamid.A",)
        assert parsed.messages[0].raw["referral"] == {"source_url": "https://example.com"}
        assert parsed.statuses[0].raw["biz_opaque_callback_data"] == "abc"

    def test_other_fields_parse_as_empty_changes(self) -> None:
        """A non-message change (account_update...) parses with no messages or statuses."""
        doc = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": WABA_ID,
                    "time": 1,
                    "changes": [{"field": "account_update", "value": {"event": "X"}}],
                }
            ],
        }
        parsed = parse_webhook(json.dumps(doc))
        assert parsed.entries[0].changes[0].field == "account_update"
        assert parsed.messages == () and parsed.statuses == ()

    def test_unmodelled_message_type_keeps_raw(self) -> None:
        """A type without a typed view (location) parses; its data is in ``raw``."""
        raw = {
            "from": "1",
            "id": "wamid.L",
            "timestamp": "1",
            "type": "location",
            "location": {"latitude": 1.5},
        }
        (msg,) = parse_webhook(encode(delivery([raw]))).messages
        assert msg.type == "location" and msg.raw["location"] == {"latitude": 1.5}

    def test_reply_context(self) -> None:
        """A reply carries the id of the message it answers."""
        raw = text_message("wamid.A") | {"context": {"from": "1555", "id": "wamid.PREV"}}
        (msg,) = parse_webhook(encode(delivery([raw]))).messages
        assert msg.context_id == "wamid.PREV"

    def test_numeric_timestamp_is_tolerated(self) -> None:
        """A numeric timestamp (some relays) is kept as its decimal string."""
        raw = text_message("wamid.A") | {"timestamp": 1749416383}
        (msg,) = parse_webhook(encode(delivery([raw]))).messages
        assert msg.timestamp == "1749416383"

    def test_parse_delivery_accepts_decoded_json(self) -> None:
        """Already-decoded JSON (Flask get_json) parses the same as bytes."""
        doc = delivery([text_message("wamid.A")])
        assert parse_delivery(doc) == parse_webhook(encode(doc))


def _broken(mutate: Any) -> bytes:
    doc = delivery([text_message("wamid.A")], statuses=[status("wamid.S", "failed")])
    mutate(doc)
    return encode(doc)


def _value(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["entry"][0]["changes"][0]["value"]  # type: ignore[no-any-return]


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"{",
            b"not json",
            b"\xff\xfe\x00garbage",
            b"[" * 100_000 + b"]" * 100_000,
            b'"a string"',
            b"[]",
            b"null",
            b"42",
            b'{"object": "whatsapp_business_account"}',
            b'{"entry": []}',
            b'{"object": 1, "entry": []}',
            b'{"object": "x", "entry": {}}',
        ],
    )
    def test_not_a_delivery(self, body: bytes) -> None:
        """Bodies that are not JSON objects shaped like a delivery raise InvalidPayload."""
        with pytest.raises(InvalidPayload):
            parse_webhook(body)

    @pytest.mark.parametrize(
        ("mutate", "path"),
        [
            (lambda d: d["entry"][0].update(changes="x"), "entry[0].changes"),
            (lambda d: d["entry"][0].pop("id"), "entry[0].id"),
            (lambda d: d["entry"][0]["changes"][0].update(value=[]), "entry[0].changes[0].value"),
            (lambda d: _value(d).update(messages={}), "value.messages"),
            (lambda d: _value(d)["messages"][0].pop("id"), "messages[0].id"),
            (lambda d: _value(d)["messages"][0].update(id=""), "messages[0].id"),
            (lambda d: _value(d)["messages"][0].update(id=7), "messages[0].id"),
            (lambda d: _value(d)["messages"][0].pop("type"), "messages[0].type"),
            (lambda d: _value(d)["messages"][0].update(text="hi"), "messages[0].text"),
            (lambda d: _value(d)["messages"][0]["text"].update(body=1), "messages[0].text.body"),
            (lambda d: _value(d)["statuses"][0].pop("status"), "statuses[0].status"),
            (lambda d: _value(d)["statuses"][0]["errors"][0].update(code="x"), "errors[0].code"),
            (lambda d: _value(d)["metadata"].pop("phone_number_id"), "metadata.phone_number_id"),
            (lambda d: _value(d).update(contacts=[1]), "contacts[0]"),
            (lambda d: _value(d).update(contacts=[{"wa_id": 5}]), "contacts[0].wa_id"),
        ],
    )
    def test_wrong_shape_names_the_path(self, mutate: Any, path: str) -> None:
        """A field of the wrong JSON type is set aside as an UnparsedItem naming its path."""
        parsed = parse_webhook(_broken(mutate))
        assert parsed.unparsed, "nothing was set aside"
        assert any(path in item.reason for item in parsed.unparsed), [
            (item.path, item.reason) for item in parsed.unparsed
        ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, database=None, deadline=None)
@given(
    value=json_values,
    where=st.sampled_from(["root", "entry", "change", "value", "message", "status", "text"]),
)
def test_fuzzed_shapes_parse_or_raise_invalid_payload(value: object, where: str) -> None:
    """Any JSON value in any position either parses or raises InvalidPayload, nothing else."""
    doc: Any = delivery([text_message("wamid.A")], statuses=[status("wamid.S", "read")])
    change = doc["entry"][0]["changes"][0]
    targets = {
        "root": lambda: doc.update(entry=value),
        "entry": lambda: doc["entry"].append(value),
        "change": lambda: doc["entry"][0]["changes"].append(value),
        "value": lambda: change.update(value=value),
        "message": lambda: change["value"]["messages"].append(value),
        "status": lambda: change["value"]["statuses"].append(value),
        "text": lambda: change["value"]["messages"][0].update(text=value),
    }
    targets[where]()
    with contextlib.suppress(InvalidPayload):
        parse_webhook(encode(doc))
