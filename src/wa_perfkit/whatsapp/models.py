"""
Typed, immutable views of a WhatsApp Cloud API webhook delivery.

A delivery nests ``entry[] -> changes[] -> value -> messages[] / statuses[]``;
one POST may carry several entries, changes, messages and statuses at once.
`WebhookDelivery` flattens that back for the two things a receiver needs:
the inbound messages and the status updates, each tagged with the
``phone_number_id`` of the business number it concerns.

Only what receivers commonly read is typed. Everything else Meta sends
(locations, interactive replies, pricing...) stays reachable through each
object's ``raw`` mapping, and unknown fields are ignored, so a new field from
Meta never breaks parsing.

Users who adopted a WhatsApp username may arrive without a phone number:
no ``contacts[].wa_id``, ``messages[].from`` or ``statuses[].recipient_id``.
Meta then sends business-scoped user ids (``user_id``, ``from_user_id``,
``recipient_user_id``), typed here as `Contact.user_id`,
`InboundMessage.sender_user_id` and `StatusUpdate.recipient_user_id`.

One item that cannot be typed (a message without an id, a change whose
``value`` is not an object...) never costs the rest of the delivery: it is
set aside as an `UnparsedItem` in `WebhookDelivery.unparsed`, with its JSON
path, the reason and the raw JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Change",
    "Contact",
    "Entry",
    "InboundMessage",
    "Media",
    "Metadata",
    "Reaction",
    "StatusError",
    "StatusUpdate",
    "UnparsedItem",
    "WebhookDelivery",
]


@dataclass(frozen=True, slots=True)
class Metadata:
    """
    The business phone number a change concerns.
    """

    phone_number_id: str
    display_phone_number: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """
    The WhatsApp user behind inbound messages (``value.contacts[]``).

    Attributes:
        wa_id: the user's WhatsApp id (their phone number); None for a user
            with a username whose number Meta withholds.
        name: the profile name.
        user_id: the business-scoped user id (``US.1349…``), stable for one
            user within one business portfolio.
        parent_user_id: the parent business-scoped id shared by linked portfolios.
        username: the user's WhatsApp username, when they adopted one.
    """

    wa_id: str | None = None
    name: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """
    An image, video, audio, document or sticker attachment; download it by ``id``.
    """

    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Reaction:
    """
    An emoji reaction to ``message_id``; ``emoji`` is None or empty when it was removed.
    """

    message_id: str
    emoji: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """
    One message a user sent to the business (``value.messages[]``).

    Attributes:
        id: the ``wamid.…`` message id, the key for duplicate suppression.
        type: ``"text"``, ``"image"``, ``"reaction"``... as Meta names it.
        sender: the user's WhatsApp id (Meta's ``from``); None for a user
            with a username whose number Meta withholds.
        timestamp: Unix seconds, as the string Meta sends.
        phone_number_id: the business number it was sent to.
        text: the body of a ``text`` message.
        media: the attachment of an image/video/audio/document/sticker message.
        reaction: the reaction of a ``reaction`` message.
        context_id: the id of the message this one replies to, if any.
        sender_user_id: the user's business-scoped id (Meta's ``from_user_id``).
        contact: the ``contacts[]`` entry of the sender, when the change has one.
        raw: the message object exactly as received.
    """

    id: str
    type: str
    sender: str | None = None
    timestamp: str | None = None
    phone_number_id: str | None = None
    text: str | None = None
    media: Media | None = None
    reaction: Reaction | None = None
    context_id: str | None = None
    sender_user_id: str | None = None
    contact: Contact | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MessageEcho:
    """
    A message the business sent from another client (``value.message_echoes[]``).

    Meta sends these with ``field`` = ``"smb_message_echoes"`` when the
    number is also used in the WhatsApp Business app.

    Attributes:
        id: the ``wamid.…`` of the sent message.
        type: ``"text"``, ``"image"``... as Meta names it.
        recipient: the user's WhatsApp id (Meta's ``to``), when given.
        recipient_user_id: the user's business-scoped id (Meta's ``to_user_id``).
        timestamp: Unix seconds, as the string Meta sends.
        phone_number_id: the business number that sent it.
        text: the body of a ``text`` message.
        raw: the echo object exactly as received.
    """

    id: str
    type: str
    recipient: str | None = None
    recipient_user_id: str | None = None
    timestamp: str | None = None
    phone_number_id: str | None = None
    text: str | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class UnparsedItem:
    """
    A part of a delivery that could not be typed, set aside so the rest is still handed over.

    Attributes:
        path: its JSON path (``entry[0].changes[0].value.messages[2]``).
        reason: why it could not be typed (names the offending field).
        raw: the JSON value exactly as received.
    """

    path: str
    reason: str
    raw: Any = dataclasses.field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class StatusError:
    """
    Why a sent message failed (``statuses[].errors[]``).
    """

    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """
    A status change of a message the business sent (``value.statuses[]``).

    Attributes:
        id: the ``wamid.…`` of the outbound message (shared by its sent,
            delivered and read updates).
        status: ``"sent"``, ``"delivered"``, ``"read"``, ``"failed"``...
        timestamp: Unix seconds, as the string Meta sends.
        recipient_id: the user the message was sent to; None for a user with
            a username whose number Meta withholds.
        phone_number_id: the business number that sent it.
        conversation_id: Meta's conversation id, when given.
        errors: the failure reasons of a ``failed`` status.
        recipient_user_id: the user's business-scoped id.
        type: Meta's ``type`` of the status: absent for messages, ``"call"``
            for the status of a call (see `is_call`).
        field: the ``field`` of the change that carried it (``"messages"``, ``"calls"``).
        raw: the status object exactly as received.
    """

    id: str
    status: str
    timestamp: str | None = None
    recipient_id: str | None = None
    phone_number_id: str | None = None
    conversation_id: str | None = None
    errors: tuple[StatusError, ...] = ()
    recipient_user_id: str | None = None
    type: str | None = None
    field: str = "messages"
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def is_call(self) -> bool:
        """
        True for the status of a call (``RINGING``, ``ACCEPTED``...), not of a message.
        """
        return self.type == "call" or self.field == "calls"

    @property
    def dedupe_key(self) -> str:
        """
        ``"<id>:<status>"``: one message id gets one update per status.
        """
        return f"{self.id}:{self.status}"


@dataclass(frozen=True, slots=True)
class Change:
    """
    One ``entry[].changes[]`` item: a ``field`` name and what its ``value`` held.
    """

    field: str
    metadata: Metadata | None = None
    contacts: tuple[Contact, ...] = ()
    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    echoes: tuple[MessageEcho, ...] = ()
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Entry:
    """
    One ``entry[]`` item: the WhatsApp Business Account ``id`` and its changes.
    """

    id: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """
    One parsed webhook POST.

    Attributes:
        object_type: Meta's ``object`` (``"whatsapp_business_account"``).
        entries: the ``entry[]`` items, in order.
        unparsed: the items that could not be typed, in document order
            (empty for every well-formed delivery).
    """

    object_type: str
    entries: tuple[Entry, ...] = ()
    unparsed: tuple[UnparsedItem, ...] = ()

    @property
    def changes(self) -> tuple[Change, ...]:
        """
        Every change of every entry, in order: read ``field`` and ``raw`` for other webhooks.
        """
        return tuple(c for e in self.entries for c in e.changes)

    @property
    def echoes(self) -> tuple[MessageEcho, ...]:
        """
        Every message echo (messages the business sent from another client), in order.
        """
        return tuple(m for e in self.entries for c in e.changes for m in c.echoes)

    @property
    def messages(self) -> tuple[InboundMessage, ...]:
        """
        Every inbound message of every entry and change, in delivery order.
        """
        return tuple(m for e in self.entries for c in e.changes for m in c.messages)

    @property
    def statuses(self) -> tuple[StatusUpdate, ...]:
        """
        Every status update of every entry and change, in delivery order.

        Call statuses (``field`` = ``"calls"``) are included; tell them apart
        with `StatusUpdate.is_call`.
        """
        return tuple(s for e in self.entries for c in e.changes for s in c.statuses)

    @property
    def message_ids(self) -> tuple[str, ...]:
        """
        The ids of `messages`, in order (repeats kept: a delivery may repeat one).
        """
        return tuple(m.id for m in self.messages)

    @property
    def status_ids(self) -> tuple[str, ...]:
        """
        The message ids the status updates refer to; dedupe on `StatusUpdate.dedupe_key`.
        """
        return tuple(s.id for s in self.statuses)

    @property
    def phone_number_ids(self) -> tuple[str, ...]:
        """
        The distinct business phone number ids this delivery concerns, in first-seen order.
        """
        ids = (c.metadata.phone_number_id for e in self.entries for c in e.changes if c.metadata)
        return tuple(dict.fromkeys(ids))
