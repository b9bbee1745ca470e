"""
Parse a WhatsApp Cloud API webhook body into the typed objects of `models`.

The parser is strict about the envelope and lenient about each item:

* the body must be JSON (UTF-8/16/32), an object with a string ``object`` and
  a list ``entry``; anything else is an `InvalidPayload` (the integrations
  answer 400), since nothing in it can be handed over;
* inside, each entry, change, contact, message, status and echo stands alone:
  one that cannot be typed (not an object, no ``id``, a ``value`` that is not
  an object...) is set aside as an `UnparsedItem` naming its JSON path
  (``entry[0].changes[1].value.messages[2]``), and every other item is still
  parsed. Meta retries a refused delivery and then drops it, so refusing
  the whole POST for one odd item would lose every message batched with it;
* an optional field of the wrong JSON type (a number where a string is
  expected, ``text`` that is not an object...) is left out of the typed view
  (None) and reported as an `UnparsedItem` too, never silently dropped;
* a field it does not read is ignored, and a change whose ``value`` has no
  ``messages``/``statuses`` (``field`` = ``"account_update"``...) is kept with
  empty tuples and its ``raw`` value.

Pathologically nested JSON (``RecursionError`` in the decoder) and non-UTF
text are refused as `InvalidPayload`, never a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

from wa_perfkit.errors import InvalidPayload
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

__all__ = ["MEDIA_TYPES", "parse_delivery", "parse_webhook"]

#: Message types whose payload object is a media attachment.
MEDIA_TYPES: Final = frozenset({"image", "video", "audio", "document", "sticker"})

_Obj = dict[str, Any]
T = TypeVar("T")


def parse_webhook(body: bytes | str) -> WebhookDelivery:
    """
    Decode and parse a raw webhook body.

    Args:
        body: the request body (verify its signature first).

    Returns:
        The parsed delivery; items that could not be typed are in its ``unparsed``.

    Raises:
        InvalidPayload: the body is not JSON, or not an object with ``object`` and ``entry``.
    """
    try:
        data = json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; deep nesting is a RecursionError.
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {type(exc).__name__}") from None
    return parse_delivery(data)


def parse_delivery(data: object) -> WebhookDelivery:
    """
    Parse an already-decoded JSON value (for example Flask's ``request.get_json()``).

    Args:
        data: the decoded JSON document.

    Returns:
        The parsed delivery; items that could not be typed are in its ``unparsed``.

    Raises:
        InvalidPayload: ``data`` is not an object with a string ``object`` and a list ``entry``.
    """
    root = _obj(data, "$")
    if "entry" not in root:
        raise InvalidPayload("$.entry: missing")
    if not isinstance(root["entry"], list):
        raise InvalidPayload("$.entry: expected a list")
    object_type = _req_str(root, "object", "$")
    parser = _Parser()
    entries = parser.each(root, "entry", "", parser.entry)
    return WebhookDelivery(object_type, entries, tuple(parser.unparsed))


class _Parser:
    """
    One parse: the typed readers, and the items set aside so far.
    """

    def __init__(self) -> None:
        self.unparsed: list[UnparsedItem] = []

    # --- one item at a time: a failure sets the item aside -------------------------

    def each(
        self, obj: _Obj, key: str, path: str, parse: Callable[[object, str], T]
    ) -> tuple[T, ...]:
        items = obj.get(key)
        where = f"{path}.{key}" if path else key
        if items is None:
            return ()
        if not isinstance(items, list):
            self.unparsed.append(UnparsedItem(where, f"{where}: expected a list", items))
            return ()
        parsed = []
        for i, item in enumerate(items):
            item_path = f"{where}[{i}]"
            try:
                parsed.append(parse(item, item_path))
            except InvalidPayload as exc:
                self.unparsed.append(UnparsedItem(item_path, str(exc), item))
        return tuple(parsed)

    def opt_str(self, obj: _Obj, key: str, path: str) -> str | None:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        self._drop(value, f"{path}.{key}", "expected a string")
        return None

    def opt_obj(self, obj: _Obj, key: str, path: str) -> _Obj | None:
        value = obj.get(key)
        if value is None or isinstance(value, dict):
            return value
        self._drop(value, f"{path}.{key}", "expected an object")
        return None

    def opt_int(self, obj: _Obj, key: str, path: str) -> int | None:
        value = obj.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self._drop(value, f"{path}.{key}", "expected an integer")
        return None

    def timestamp(self, obj: _Obj, path: str) -> str | None:
        # Meta sends Unix seconds as a string; some relays and test tools send a number.
        value = obj.get("timestamp")
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.opt_str(obj, "timestamp", path)

    def _drop(self, value: object, path: str, reason: str, field: str = "") -> None:
        where = f"{path}.{field}" if field else path
        self.unparsed.append(UnparsedItem(path, f"{where}: {reason}", value))

    # --- the shapes ---------------------------------------------------------------

    def entry(self, data: object, path: str) -> Entry:
        obj = _obj(data, path)
        entry_id = _req_str(obj, "id", path)
        return Entry(id=entry_id, changes=self.each(obj, "changes", path, self.change))

    def change(self, data: object, path: str) -> Change:
        obj = _obj(data, path)
        vpath = f"{path}.value"
        value = _obj(obj.get("value", {}), vpath)
        field = self.opt_str(obj, "field", path) or ""
        metadata = self.metadata(value, vpath)
        number = metadata.phone_number_id if metadata else None
        contacts = self.each(value, "contacts", vpath, self.contact)

        def message(item: object, item_path: str) -> InboundMessage:
            return self.message(item, item_path, number, contacts)

        def status(item: object, item_path: str) -> StatusUpdate:
            return self.status(item, item_path, number, field)

        def echo(item: object, item_path: str) -> MessageEcho:
            return self.echo(item, item_path, number)

        return Change(
            field=field,
            metadata=metadata,
            contacts=contacts,
            messages=self.each(value, "messages", vpath, message),
            statuses=self.each(value, "statuses", vpath, status),
            echoes=self.each(value, "message_echoes", vpath, echo),
            raw=value,
        )

    def metadata(self, value: _Obj, vpath: str) -> Metadata | None:
        obj = self.opt_obj(value, "metadata", vpath)
        if obj is None:
            return None
        path = f"{vpath}.metadata"
        number = obj.get("phone_number_id")
        if not isinstance(number, str) or not number:
            self._drop(obj, path, "expected a non-empty string", "phone_number_id")
            return None
        return Metadata(number, self.opt_str(obj, "display_phone_number", path))

    def contact(self, data: object, path: str) -> Contact:
        obj = _obj(data, path)
        profile = self.opt_obj(obj, "profile", path) or {}
        ppath = f"{path}.profile"
        return Contact(
            wa_id=self.opt_str(obj, "wa_id", path),
            name=self.opt_str(profile, "name", ppath),
            user_id=self.opt_str(obj, "user_id", path),
            parent_user_id=self.opt_str(obj, "parent_user_id", path),
            username=self.opt_str(profile, "username", ppath),
        )

    def message(
        self, data: object, path: str, number: str | None, contacts: tuple[Contact, ...]
    ) -> InboundMessage:
        obj = _obj(data, path)
        message_id, kind = _req_str(obj, "id", path), _req_str(obj, "type", path)
        text = self.opt_obj(obj, "text", path)
        context = self.opt_obj(obj, "context", path)
        sender = self.opt_str(obj, "from", path)
        sender_user_id = self.opt_str(obj, "from_user_id", path)
        return InboundMessage(
            id=message_id,
            type=kind,
            sender=sender,
            timestamp=self.timestamp(obj, path),
            phone_number_id=number,
            text=self.opt_str(text, "body", f"{path}.text") if text else None,
            media=self.media(obj, kind, path),
            reaction=self.reaction(obj, path),
            context_id=self.opt_str(context, "id", f"{path}.context") if context else None,
            sender_user_id=sender_user_id,
            contact=_contact_of(contacts, sender, sender_user_id),
            raw=obj,
        )

    def media(self, message: _Obj, kind: str, path: str) -> Media | None:
        obj = self.opt_obj(message, kind, path) if kind in MEDIA_TYPES else None
        if obj is None:
            return None
        mpath = f"{path}.{kind}"
        media_id = obj.get("id")
        if not isinstance(media_id, str) or not media_id:
            self._drop(obj, mpath, "expected a non-empty string", "id")
            return None
        return Media(
            id=media_id,
            mime_type=self.opt_str(obj, "mime_type", mpath),
            sha256=self.opt_str(obj, "sha256", mpath),
            caption=self.opt_str(obj, "caption", mpath),
            filename=self.opt_str(obj, "filename", mpath),
        )

    def reaction(self, message: _Obj, path: str) -> Reaction | None:
        obj = self.opt_obj(message, "reaction", path)
        if obj is None:
            return None
        rpath = f"{path}.reaction"
        target = obj.get("message_id")
        if not isinstance(target, str) or not target:
            self._drop(obj, rpath, "expected a non-empty string", "message_id")
            return None
        return Reaction(message_id=target, emoji=self.opt_str(obj, "emoji", rpath))

    def status(self, data: object, path: str, number: str | None, field: str) -> StatusUpdate:
        obj = _obj(data, path)
        status_id, state = _req_str(obj, "id", path), _req_str(obj, "status", path)
        conversation = self.opt_obj(obj, "conversation", path)
        cpath = f"{path}.conversation"
        return StatusUpdate(
            id=status_id,
            status=state,
            timestamp=self.timestamp(obj, path),
            recipient_id=self.opt_str(obj, "recipient_id", path),
            phone_number_id=number,
            conversation_id=self.opt_str(conversation, "id", cpath) if conversation else None,
            errors=self.each(obj, "errors", path, self.status_error),
            recipient_user_id=self.opt_str(obj, "recipient_user_id", path),
            type=self.opt_str(obj, "type", path),
            field=field,
            raw=obj,
        )

    def status_error(self, data: object, path: str) -> StatusError:
        obj = _obj(data, path)
        error_data = self.opt_obj(obj, "error_data", path)
        epath = f"{path}.error_data"
        return StatusError(
            code=self.opt_int(obj, "code", path),
            title=self.opt_str(obj, "title", path),
            message=self.opt_str(obj, "message", path),
            details=self.opt_str(error_data, "details", epath) if error_data else None,
        )

    def echo(self, data: object, path: str, number: str | None) -> MessageEcho:
        obj = _obj(data, path)
        echo_id, kind = _req_str(obj, "id", path), _req_str(obj, "type", path)
        text = self.opt_obj(obj, "text", path)
        return MessageEcho(
            id=echo_id,
            type=kind,
            recipient=self.opt_str(obj, "to", path),
            recipient_user_id=self.opt_str(obj, "to_user_id", path),
            timestamp=self.timestamp(obj, path),
            phone_number_id=number,
            text=self.opt_str(text, "body", f"{path}.text") if text else None,
            raw=obj,
        )


def _contact_of(
    contacts: tuple[Contact, ...], sender: str | None, sender_user_id: str | None
) -> Contact | None:
    for contact in contacts:
        if (sender and contact.wa_id == sender) or (
            sender_user_id and contact.user_id == sender_user_id
        ):
            return contact
    # Meta sends one contact per sender; a lone contact is the sender's.
    alone = len(contacts) == 1 and sender is None and sender_user_id is None
    return contacts[0] if alone else None


# --- strict readers: a failure sets the enclosing item aside -----------------------


def _obj(data: object, path: str) -> _Obj:
    if not isinstance(data, dict):
        raise InvalidPayload(f"{path or '$'}: expected an object")
    return data


def _req_str(obj: _Obj, key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"{path}.{key}: expected a non-empty string")
    return value
