"""
Tests that users with a WhatsApp username, and unknown or malformed items, never lose a delivery.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.whatsapp._samples import delivery, encode, status, text_message
from wa_perfkit.errors import InvalidPayload
from wa_perfkit.whatsapp import Contact, parse_webhook


def username_delivery() -> dict[str, Any]:
    """
    A delivery from a user who adopted a username: no ``wa_id``, ``from`` or ``recipient_id``.
    """
    doc = delivery([text_message("wamid.U1"), text_message("wamid.P1")])
    value = doc["entry"][0]["changes"][0]["value"]
    value["contacts"] = [
        {
            "profile": {"name": "Ana", "username": "@ana"},
            "user_id": "US.13491208655302741918",
            "parent_user_id": "US.ENT.11815799212886844830",
        },
        {"profile": {"name": "Kerry Fisher"}, "wa_id": "16505551234"},
    ]
    first = value["messages"][0]
    del first["from"]
    first["from_user_id"] = "US.13491208655302741918"
    value["statuses"] = [status("wamid.OUT", "read")]
    del value["statuses"][0]["recipient_id"]
    value["statuses"][0]["recipient_user_id"] = "US.13491208655302741918"
    return doc


class TestUsernameUsers:
    def test_contact_without_wa_id(self) -> None:
        """A contact with a business-scoped id and a username, and no phone, is typed."""
        contacts = parse_webhook(encode(username_delivery())).entries[0].changes[0].contacts
        assert contacts[0] == Contact(
            wa_id=None,
            name="Ana",
            user_id="US.13491208655302741918",
            parent_user_id="US.ENT.11815799212886844830",
            username="@ana",
        )
        assert contacts[1].wa_id == "16505551234" and contacts[1].user_id is None

    def test_message_without_from(self) -> None:
        """A message from a username user carries ``sender_user_id``; its batch-mate is kept."""
        parsed = parse_webhook(encode(username_delivery()))
        first, second = parsed.messages
        assert (first.id, first.sender, first.sender_user_id) == (
            "wamid.U1",
            None,
            "US.13491208655302741918",
        )
        assert first.contact is not None and first.contact.username == "@ana"
        assert (second.id, second.sender) == ("wamid.P1", "16505551234")
        assert second.contact is not None and second.contact.wa_id == "16505551234"
        assert parsed.unparsed == ()

    def test_status_without_recipient_id(self) -> None:
        """A status for a username user carries ``recipient_user_id``."""
        (update,) = parse_webhook(encode(username_delivery())).statuses
        assert update.recipient_id is None
        assert update.recipient_user_id == "US.13491208655302741918"
        assert update.dedupe_key == "wamid.OUT:read"


def _value(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["entry"][0]["changes"][0]["value"]  # type: ignore[no-any-return]


class TestPartialDeliveries:
    def test_malformed_message_keeps_the_others(self) -> None:
        """A message without an id is set aside with its path; the rest are handed over."""
        doc = delivery([text_message("wamid.1"), text_message("wamid.2"), text_message("wamid.3")])
        del _value(doc)["messages"][1]["id"]
        parsed = parse_webhook(encode(doc))
        assert parsed.message_ids == ("wamid.1", "wamid.3")
        (item,) = parsed.unparsed
        assert item.path == "entry[0].changes[0].value.messages[1]"
        assert "id" in item.reason and item.raw["type"] == "text"

    def test_wrong_optional_field_keeps_the_message(self) -> None:
        """A wrong-typed optional field is dropped (and reported); the message stays typed."""
        doc = delivery([text_message("wamid.1")])
        _value(doc)["messages"][0]["text"] = "not an object"
        parsed = parse_webhook(encode(doc))
        (message,) = parsed.messages
        assert (message.id, message.text) == ("wamid.1", None)
        assert [u.path for u in parsed.unparsed] == ["entry[0].changes[0].value.messages[0].text"]

    def test_new_message_type_is_typed_with_raw(self) -> None:
        """A message type the library does not know reaches the handler with its raw object."""
        doc = delivery([{"from": "1", "id": "wamid.N", "type": "hologram", "hologram": {"x": 1}}])
        (message,) = parse_webhook(encode(doc)).messages
        assert message.type == "hologram" and message.raw["hologram"] == {"x": 1}

    def test_new_field_reaches_the_handler(self) -> None:
        """A change with a field the library does not know is kept, raw value included."""
        doc = delivery([text_message("wamid.1")])
        doc["entry"][0]["changes"].append({"field": "brand_new_field", "value": {"k": [1, 2]}})
        parsed = parse_webhook(encode(doc))
        assert [c.field for c in parsed.changes] == ["messages", "brand_new_field"]
        assert parsed.changes[1].raw == {"k": [1, 2]}
        assert parsed.message_ids == ("wamid.1",)

    def test_call_status_is_told_apart(self) -> None:
        """A call status (``field`` = ``calls``, ``type`` = ``call``) is flagged as such."""
        doc = delivery(statuses=[status("wamid.S", "read")])
        call = {"id": "wacid.1", "type": "call", "status": "RINGING", "recipient_id": "1"}
        doc["entry"][0]["changes"].append(
            {"field": "calls", "value": {"metadata": _value(doc)["metadata"], "statuses": [call]}}
        )
        message_status, call_status = parse_webhook(encode(doc)).statuses
        assert not message_status.is_call and message_status.field == "messages"
        assert call_status.is_call and call_status.type == "call"

    def test_malformed_entry_and_change_keep_the_others(self) -> None:
        """A broken entry or change is set aside; the well-formed ones are parsed."""
        doc = delivery([text_message("wamid.1")])
        doc["entry"].append({"changes": []})  # no id
        doc["entry"][0]["changes"].append({"field": "messages", "value": []})
        parsed = parse_webhook(encode(doc))
        assert parsed.message_ids == ("wamid.1",)
        assert sorted(u.path for u in parsed.unparsed) == [
            "entry[0].changes[1]",
            "entry[1]",
        ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=150, database=None, deadline=None)
@given(
    value=json_values,
    where=st.sampled_from(["entry", "change", "value", "message", "status", "text", "contact"]),
)
def test_one_bad_item_never_loses_the_others(value: object, where: str) -> None:
    """Any JSON value added as an item leaves the well-formed message and status delivered."""
    doc: Any = delivery([text_message("wamid.A")], statuses=[status("wamid.S", "read")])
    value_obj = doc["entry"][0]["changes"][0]["value"]
    targets = {
        "entry": lambda: doc["entry"].append(value),
        "change": lambda: doc["entry"][0]["changes"].append(value),
        "value": lambda: doc["entry"][0]["changes"].append({"field": "x", "value": value}),
        "message": lambda: value_obj["messages"].append(value),
        "status": lambda: value_obj["statuses"].append(value),
        "text": lambda: value_obj["messages"][0].update(text=value),
        "contact": lambda: value_obj["contacts"].append(value),
    }
    targets[where]()
    parsed = parse_webhook(encode(doc))
    assert parsed.message_ids[0] == "wamid.A"
    assert parsed.status_ids[0] == "wamid.S"


@pytest.mark.parametrize("root", [b"[]", b'{"entry": []}', b'{"object": "x", "entry": {}}'])
def test_a_body_that_is_no_delivery_is_refused(root: bytes) -> None:
    """Without the envelope (an object with ``object`` and an ``entry`` list) nothing is parsed."""
    with pytest.raises(InvalidPayload):
        parse_webhook(root)
