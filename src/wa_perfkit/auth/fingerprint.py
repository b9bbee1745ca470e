"""
Cache keys for tokens: an HMAC-SHA256 of the whole token under a server key.

Why an HMAC and not ``sha256(token)``: a plain hash is a stable public
function of the token, so anyone who reads the cache (a shared Redis, a
backup, a ``MONITOR`` session) can test a token they hold against it, and the
hash itself is as good as the token for a lookup. Under a server key the
fingerprint is useless without the key, and every instance configured with
the same key computes the same fingerprint, so they share entries.

The whole token is fingerprinted (header, payload and signature): two tokens
that differ in any byte, including a re-signed payload, never share an entry.

The same server key also authenticates what `CachedUser` stores (entries,
revocation markers, generations) and names per-user keys. Each use gets its
own key derived from the server key (`Fingerprinter.derive`), so a value made
for one purpose is never valid for another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol

from wa_perfkit.errors import ConfigurationError
from wa_perfkit.secret import Secret

__all__ = ["MIN_KEY_BYTES", "Fingerprinter"]

#: The shortest server key accepted, in bytes (as for cursor keys).
MIN_KEY_BYTES = 16


class Fingerprinter:
    """
    Turns tokens into fixed-length, keyed, non-reversible cache key parts.

    Args:
        server_key: the HMAC key (at least `MIN_KEY_BYTES`; 32 random bytes are
            best: ``secrets.token_hex(32)``); instances that share a cache must
            share it. None draws a random key for this process only.

    Raises:
        ConfigurationError: the key is shorter than `MIN_KEY_BYTES`, or not str,
            bytes or `Secret` (a short key lets whoever can write to the shared
            cache guess it, then forge entries).
    """

    __slots__ = ("_base", "shared")

    def __init__(self, server_key: str | bytes | Secret | None = None) -> None:
        #: False when the key was drawn at random (entries only make sense in-process).
        self.shared = server_key is not None
        key = _server_key(server_key) if server_key is not None else Secret(secrets.token_bytes(32))
        self._base = _prepared(key.get_secret_value())

    def __repr__(self) -> str:
        return f"Fingerprinter(server_key=Secret('**********'), shared={self.shared})"

    def derive(self, purpose: str) -> Fingerprinter:
        """
        Return a fingerprinter under a key derived from this one for ``purpose``.

        Args:
            purpose: a fixed label (``"entry"``, ``"user-id"``...); different labels
                give unrelated keys.

        Returns:
            A new `Fingerprinter`, as shared as this one.
        """
        child = Fingerprinter.__new__(Fingerprinter)
        child.shared = self.shared
        child._base = _prepared(self.mac(purpose.encode()))
        return child

    def mac(self, data: bytes) -> bytes:
        """
        Return the raw HMAC-SHA256 of ``data`` (32 bytes).

        Args:
            data: the bytes to authenticate.

        Returns:
            The 32-byte tag.
        """
        mac = self._base.copy()
        mac.update(data)
        return mac.digest()

    def check(self, data: bytes, tag: object) -> bool:
        """
        Return True if ``tag`` is the hex HMAC of ``data`` (constant-time comparison).

        Args:
            data: the bytes that were authenticated.
            tag: what was stored beside them; anything but a 64-character ASCII
                string is simply False.

        Returns:
            Whether the tag is genuine.
        """
        if type(tag) is not str or len(tag) != 64 or not tag.isascii():
            return False
        return hmac.compare_digest(self.mac(data).hex(), tag)

    def __call__(self, token: str) -> str:
        """
        Return the hex HMAC-SHA256 of ``token``.

        Args:
            token: the raw token (any string; lone surrogates are kept, not refused).

        Returns:
            64 hex characters.
        """
        mac = self._base.copy()
        mac.update(token.encode("utf-8", "surrogatepass"))
        return mac.hexdigest()


def _server_key(value: str | bytes | Secret) -> Secret:
    try:
        key = Secret(value)
    except (TypeError, ValueError) as exc:  # wrong type, empty, or text that is not UTF-8
        raise ConfigurationError(f"server_key: {exc}") from None
    if len(key.get_secret_value()) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"server_key must be at least {MIN_KEY_BYTES} bytes "
            "(32 random bytes are best: secrets.token_hex(32))"
        )
    return key


class _Mac(Protocol):
    # What `hmac.HMAC` and the OpenSSL object inside it both offer.
    def copy(self) -> _Mac: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def _prepared(key: bytes) -> _Mac:
    # Keyed once: each MAC copies the prepared state instead of rehashing the key. The
    # OpenSSL object inside `hmac.HMAC` (every supported Python has one) copies,
    # updates and digests in C, about 1 µs less per token than its Python wrapper;
    # the wrapper is kept where it is missing (same interface, same result).
    prepared = hmac.new(key, digestmod=hashlib.sha256)
    inner: _Mac | None = getattr(prepared, "_hmac", None)
    return inner or prepared
