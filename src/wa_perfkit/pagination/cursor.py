"""
Opaque, tamper-evident pagination cursors.

A cursor is the position of one row in a keyset order, handed to a client
and handed back. It is URL-safe base64 (no padding) of:

```text
version (1 byte) | HMAC-SHA256 (32 bytes) | compact JSON payload
```

The MAC covers the version byte and the payload under a server key, and is
checked with `hmac.compare_digest` before the payload is parsed, so a client
can neither forge a position nor feed our JSON parser anything we did not
write. The algorithm is fixed by the version byte we chose, never read from
the cursor. Cursors are signed, not encrypted: do not put secrets in a sort
key.

The JSON is UTF-8 (``ensure_ascii=False``): a Cyrillic letter costs two
bytes, not the six of ``\\u041a``, so text sort keys stay short.

Decoding checks the length first (a 1 MB cursor is rejected before any
base64 or HMAC work), then the alphabet, then the MAC, then the shape; every
failure is `InvalidCursor` with a short reason safe to return to clients.
The `wa_perfkit.pagination.Paginator` derives its length limit from its
keyset, so that it accepts every cursor it issues.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from wa_perfkit.errors import ConfigurationError, InvalidCursor
from wa_perfkit.secret import Secret

__all__ = ["DEFAULT_MAX_CURSOR_LENGTH", "Cursor", "CursorCodec", "Direction", "KeyValue"]

#: Longest cursor a bare `CursorCodec` accepts, in characters; a cursor over a
#: timestamp and a UUID is about 200.
DEFAULT_MAX_CURSOR_LENGTH: Final = 512
_VERSION: Final = b"\x01"
_MAC_SIZE: Final = hashlib.sha256().digest_size
_ALPHABET: Final = re.compile(r"[A-Za-z0-9_-]+")

Direction = Literal["next", "prev"]
# "N": read forwards from the position, the row at the position included.
_DIRECTIONS: Final[dict[str, tuple[Direction, bool]]] = {
    "n": ("next", False),
    "p": ("prev", False),
    "N": ("next", True),
}
#: Types a sort key or id may have.
KeyValue = datetime | date | int | str | uuid.UUID


@dataclass(frozen=True)
class Cursor:
    """
    A decoded cursor: where a page starts, and in which direction it goes.

    Attributes:
        keyset: name of the keyset the cursor belongs to.
        direction: ``"next"`` reads the rows after the position, ``"prev"``
            the rows before it.
        sort_value: the sort column's value at the position.
        id_value: the tie-breaking id at the position.
        inclusive: the page includes the row at the position (only for
            ``"next"``: issued when a previous page found no rows before it).
    """

    keyset: str
    direction: Direction
    sort_value: KeyValue
    id_value: KeyValue
    inclusive: bool = False


class CursorCodec:
    """
    Encode and verify cursors under one secret key.

    Args:
        secret: the HMAC key (at least 16 bytes); rotate it and old cursors
            become `InvalidCursor`.
        max_length: longest cursor accepted, in characters.

    Raises:
        ConfigurationError: if the key is shorter than 16 bytes.
    """

    def __init__(
        self, secret: Secret | str | bytes, *, max_length: int = DEFAULT_MAX_CURSOR_LENGTH
    ) -> None:
        self._secret = secret if isinstance(secret, Secret) else Secret(secret)
        if len(self._secret.get_secret_value()) < 16:
            raise ConfigurationError("a cursor key must be at least 16 bytes")
        self.max_length = max_length

    def __repr__(self) -> str:
        return f"CursorCodec({self._secret!r}, max_length={self.max_length})"

    def encode(self, cursor: Cursor) -> str:
        """
        Sign and encode a cursor.

        Args:
            cursor: the position to encode.

        Returns:
            The opaque URL-safe token.
        """
        direction = "N" if cursor.inclusive and cursor.direction == "next" else cursor.direction[0]
        payload = json.dumps(
            {
                "k": cursor.keyset,
                "d": direction,
                "s": _tag(cursor.sort_value),
                "i": _tag(cursor.id_value),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8", "surrogatepass")
        blob = _VERSION + self._mac(payload) + payload
        return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")

    def decode(self, token: str) -> Cursor:
        """
        Verify and decode a token produced by `encode`.

        Args:
            token: the cursor as received from a client.

        Returns:
            The decoded cursor.

        Raises:
            InvalidCursor: the token is too long, not base64, truncated,
                tampered with, signed by another key or malformed.
        """
        blob = self._unwrap(token)
        mac, payload = blob[1 : 1 + _MAC_SIZE], blob[1 + _MAC_SIZE :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("cursor signature mismatch")
        return _parse(payload)

    def _unwrap(self, token: object) -> bytes:
        if not isinstance(token, str):
            raise InvalidCursor("cursor must be a string")
        if len(token) > self.max_length:
            raise InvalidCursor("cursor too long")
        if not token.isascii() or not _ALPHABET.fullmatch(token):
            raise InvalidCursor("cursor is not URL-safe base64")
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursor("cursor is not URL-safe base64") from exc
        if len(blob) <= 1 + _MAC_SIZE or blob[:1] != _VERSION:
            raise InvalidCursor("cursor truncated or of an unknown version")
        return blob

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret.get_secret_value(), _VERSION + payload, "sha256").digest()


def _tag(value: KeyValue) -> list[Any]:
    # bool is an int: refuse it rather than round-trip True as 1.
    if isinstance(value, bool):
        raise TypeError("a keyset value cannot be a bool")
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, str):
        return ["s", value]
    raise TypeError(f"unsupported keyset value type {type(value).__name__}")


def _parse(payload: bytes) -> Cursor:
    # The MAC matched, so this is our own JSON; still, never let a parse error escape.
    try:
        data = json.loads(payload.decode("utf-8", "surrogatepass"))
        direction, inclusive = _DIRECTIONS[data["d"]]
        keyset = data["k"]
        if not isinstance(keyset, str):
            raise TypeError("keyset")
        return Cursor(keyset, direction, _untag(data["s"]), _untag(data["i"]), inclusive)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InvalidCursor("malformed cursor") from exc


def _untag(tagged: Any) -> KeyValue:
    kind, value = tagged
    if kind == "t" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "d" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "u" and isinstance(value, str):
        return uuid.UUID(value)
    if kind == "i" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "s" and isinstance(value, str):
        return value
    raise TypeError(f"bad keyset value tag {kind!r}")
