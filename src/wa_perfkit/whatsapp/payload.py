"""
Parse a WhatsApp Cloud API webhook body into the typed objects of `models`.

The parser is strict about the shape it relies on and lenient about the rest:

* the body must be JSON (UTF-8/16/32), an object with a string ``object`` and
  a list ``entry``; every ``entry``, ``change``, ``message`` and ``status`` must
  be an object; ids and message types must be non-empty strings;
* a field it reads that holds the wrong JSON type (a number where a string is
  expected, ``text`` that is not an object...) is an error, never silently dropped;
* a field it does not read is ignored, and a change whose ``value`` has no
  ``messages``/``statuses`` (``field`` = ``"account_update"``...) is kept with
  empty tuples.

Every failure is an `InvalidPayload` whose message names the JSON path
(``entry[0].changes[1].value.messages[2].id``), never a ``KeyError`` or
``TypeError``: the integrations turn it into HTTP 400. Pathologically nested
JSON (``RecursionError`` in the decoder) and non-UTF text are refused the same way.
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
    Metadata,
    Reaction,
    StatusError,
    StatusUpdate,
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
        The parsed delivery.

    Raises:
        InvalidPayload: the body is not JSON or not shaped like a WhatsApp delivery.
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
        The parsed delivery.

    Raises:
        InvalidPayload: ``data`` is not shaped like a WhatsApp delivery.
    """
    root = _obj(data, "$")
    entries = _required_list(root, "entry", "$")
    return WebhookDelivery(
        object_type=_req_str(root, "object", "$"),
        entries=tuple(_entry(e, f"entry[{i}]") for i, e in enumerate(entries)),
    )


def _entry(data: object, path: str) -> Entry:
    obj = _obj(data, path)
    changes = _list(obj, "changes", path)
    return Entry(
        id=_req_str(obj, "id", path),
        changes=tuple(_change(c, f"{path}.changes[{i}]") for i, c in enumerate(changes)),
    )


def _change(data: object, path: str) -> Change:
    obj = _obj(data, path)
    value = _obj(obj.get("value", {}), f"{path}.value")
    vpath = f"{path}.value"
    metadata = _metadata(value.get("metadata"), f"{vpath}.metadata")
    number = metadata.phone_number_id if metadata else None
    return Change(
        field=_opt_str(obj, "field", path) or "",
        metadata=metadata,
        contacts=_each(value, "contacts", vpath, _contact),
        messages=_each(value, "messages", vpath, lambda d, p: _message(d, p, number)),
        statuses=_each(value, "statuses", vpath, lambda d, p: _status(d, p, number)),
        raw=value,
    )


def _metadata(data: object, path: str) -> Metadata | None:
    if data is None:
        return None
    obj = _obj(data, path)
    return Metadata(
        phone_number_id=_req_str(obj, "phone_number_id", path),
        display_phone_number=_opt_str(obj, "display_phone_number", path),
    )


def _contact(data: object, path: str) -> Contact:
    obj = _obj(data, path)
    profile = _opt_obj(obj, "profile", path)
    name = _opt_str(profile, "name", f"{path}.profile") if profile else None
    return Contact(wa_id=_req_str(obj, "wa_id", path), name=name)


def _message(data: object, path: str, phone_number_id: str | None) -> InboundMessage:
    obj = _obj(data, path)
    kind = _req_str(obj, "type", path)
    text = _opt_obj(obj, "text", path)
    context = _opt_obj(obj, "context", path)
    return InboundMessage(
        id=_req_str(obj, "id", path),
        type=kind,
        sender=_opt_str(obj, "from", path),
        timestamp=_timestamp(obj, path),
        phone_number_id=phone_number_id,
        text=_opt_str(text, "body", f"{path}.text") if text else None,
        media=_media(obj, kind, path),
        reaction=_reaction(obj, path),
        context_id=_opt_str(context, "id", f"{path}.context") if context else None,
        raw=obj,
    )


def _media(message: _Obj, kind: str, path: str) -> Media | None:
    obj = _opt_obj(message, kind, path) if kind in MEDIA_TYPES else None
    if obj is None:
        return None
    mpath = f"{path}.{kind}"
    return Media(
        id=_req_str(obj, "id", mpath),
        mime_type=_opt_str(obj, "mime_type", mpath),
        sha256=_opt_str(obj, "sha256", mpath),
        caption=_opt_str(obj, "caption", mpath),
        filename=_opt_str(obj, "filename", mpath),
    )


def _reaction(message: _Obj, path: str) -> Reaction | None:
    obj = _opt_obj(message, "reaction", path)
    if obj is None:
        return None
    rpath = f"{path}.reaction"
    return Reaction(
        message_id=_req_str(obj, "message_id", rpath), emoji=_opt_str(obj, "emoji", rpath)
    )


def _status(data: object, path: str, phone_number_id: str | None) -> StatusUpdate:
    obj = _obj(data, path)
    conversation = _opt_obj(obj, "conversation", path)
    cpath = f"{path}.conversation"
    return StatusUpdate(
        id=_req_str(obj, "id", path),
        status=_req_str(obj, "status", path),
        timestamp=_timestamp(obj, path),
        recipient_id=_opt_str(obj, "recipient_id", path),
        phone_number_id=phone_number_id,
        conversation_id=_opt_str(conversation, "id", cpath) if conversation else None,
        errors=_each(obj, "errors", path, _status_error),
        raw=obj,
    )


def _status_error(data: object, path: str) -> StatusError:
    obj = _obj(data, path)
    error_data = _opt_obj(obj, "error_data", path)
    details = _opt_str(error_data, "details", f"{path}.error_data") if error_data else None
    return StatusError(
        code=_opt_int(obj, "code", path),
        title=_opt_str(obj, "title", path),
        message=_opt_str(obj, "message", path),
        details=details,
    )


# --- typed readers: each names the JSON path it refuses ------------------------------


def _each(obj: _Obj, key: str, path: str, parse: Callable[[object, str], T]) -> tuple[T, ...]:
    return tuple(parse(item, f"{path}.{key}[{i}]") for i, item in enumerate(_list(obj, key, path)))


def _obj(data: object, path: str) -> _Obj:
    if not isinstance(data, dict):
        raise InvalidPayload(f"{path}: expected an object")
    return data


def _opt_obj(obj: _Obj, key: str, path: str) -> _Obj | None:
    value = obj.get(key)
    return None if value is None else _obj(value, f"{path}.{key}")


def _list(obj: _Obj, key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{path}.{key}: expected a list")
    return value


def _required_list(obj: _Obj, key: str, path: str) -> list[Any]:
    if key not in obj:
        raise InvalidPayload(f"{path}.{key}: missing")
    return _list(obj, key, path)


def _req_str(obj: _Obj, key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"{path}.{key}: expected a non-empty string")
    return value


def _opt_str(obj: _Obj, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidPayload(f"{path}.{key}: expected a string")


def _opt_int(obj: _Obj, key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise InvalidPayload(f"{path}.{key}: expected an integer")


def _timestamp(obj: _Obj, path: str) -> str | None:
    # Meta sends Unix seconds as a string; some relays and test tools send a number.
    value = obj.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _opt_str(obj, "timestamp", path)
