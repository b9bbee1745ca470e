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
    """

    wa_id: str
    name: str | None = None


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
        sender: the user's WhatsApp id (Meta's ``from``).
        timestamp: Unix seconds, as the string Meta sends.
        phone_number_id: the business number it was sent to.
        text: the body of a ``text`` message.
        media: the attachment of an image/video/audio/document/sticker message.
        reaction: the reaction of a ``reaction`` message.
        context_id: the id of the message this one replies to, if any.
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
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


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
        recipient_id: the user the message was sent to.
        phone_number_id: the business number that sent it.
        conversation_id: Meta's conversation id, when given.
        errors: the failure reasons of a ``failed`` status.
        raw: the status object exactly as received.
    """

    id: str
    status: str
    timestamp: str | None = None
    recipient_id: str | None = None
    phone_number_id: str | None = None
    conversation_id: str | None = None
    errors: tuple[StatusError, ...] = ()
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

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
    """

    object_type: str
    entries: tuple[Entry, ...] = ()

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
