"""
Verify Meta's ``X-Hub-Signature-256`` header on a WhatsApp webhook delivery.

Meta signs the raw request body with the app secret (HMAC-SHA256) and sends
``sha256=<64 hex digits>``. The check runs on the bytes exactly as received:
parsing and re-serialising JSON changes them, so the body must be read raw.

Decisions, in the order checks run (cheap refusals first, the HMAC last):

* body larger than ``max_body_bytes`` -> `PayloadTooLarge` (HTTP 413) before
  any hashing, so a huge body costs no CPU;
* header missing or blank -> ``InvalidSignature("missing-header")``;
* no ``sha256=`` prefix -> ``"bad-prefix"`` (the prefix is matched exactly,
  as Meta sends it);
* not 64 characters after the prefix -> ``"bad-length"``;
* any non-hex character -> ``"not-hex"``;
* no secret produces the digest -> ``"mismatch"``.

Uppercase hex is accepted: hex is case-insensitive, so ``ABCD`` and ``abcd``
name the same bytes. The digest is decoded to its 32 raw bytes and compared
with `hmac.compare_digest`, which makes case irrelevant and the comparison
constant-time. Several secrets may be given during a rotation; every one is
tried (no early exit) and any match passes.

An empty body is hashed like any other: it passes only with a valid signature
of the empty string (Meta never sends one, but refusing it would be a second
rule to document for no security gain).
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Iterable, Sequence
from typing import Final

from wa_perfkit.errors import ConfigurationError, InvalidSignature, PayloadTooLarge
from wa_perfkit.secret import Secret

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "AppSecret",
    "check_body_size",
    "normalize_secrets",
    "sign_body",
    "verify_webhook_signature",
]

#: The header Meta puts the signature in.
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"

#: Default body limit: real deliveries are a few kilobytes; 3 MiB leaves ample headroom.
DEFAULT_MAX_BODY_BYTES: Final = 3 * 1024 * 1024

#: One app secret, or several during a rotation (`Secret` keeps them out of reprs and logs).
AppSecret = str | bytes | Secret | Sequence[str | bytes | Secret]

_PREFIX: Final = "sha256="
_HEX_LENGTH: Final = hashlib.sha256().digest_size * 2
_HEX_DIGITS: Final = frozenset(string.hexdigits)


def verify_webhook_signature(
    body: bytes,
    header: str | None,
    app_secret: AppSecret,
    *,
    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """
    Check that ``header`` is Meta's HMAC-SHA256 signature of ``body``.

    Args:
        body: the raw request body, byte for byte as received.
        header: the ``X-Hub-Signature-256`` header value, or None when absent.
        app_secret: the app secret, or a sequence of secrets accepted during a rotation.
        max_body_bytes: refuse larger bodies before hashing; None disables the limit.

    Raises:
        PayloadTooLarge: the body exceeds ``max_body_bytes``.
        InvalidSignature: the header is missing or malformed, or matches no secret;
            ``reason`` says which.
        ConfigurationError: no secret, or an empty one, was given.
    """
    secrets = normalize_secrets(app_secret)
    check_body_size(len(body), max_body_bytes)
    expected = _parse_header(header)
    if not _matches_any(body, expected, secrets):
        raise InvalidSignature("mismatch")


def sign_body(body: bytes, app_secret: str | bytes | Secret) -> str:
    """
    Return the ``X-Hub-Signature-256`` value Meta would send for ``body``.

    Useful in tests and for replaying captured deliveries.

    Args:
        body: the raw request body.
        app_secret: the app secret.

    Returns:
        ``"sha256="`` followed by 64 lowercase hex digits.
    """
    (secret,) = normalize_secrets(app_secret)
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_body_size(size: int, max_body_bytes: int | None) -> None:
    """
    Refuse a body of ``size`` bytes when it exceeds ``max_body_bytes``.

    Args:
        size: the body length, or the announced ``Content-Length``.
        max_body_bytes: the limit; None disables it.

    Raises:
        PayloadTooLarge: ``size`` is over the limit.
    """
    if max_body_bytes is not None and size > max_body_bytes:
        raise PayloadTooLarge(size=size, limit=max_body_bytes)


def normalize_secrets(app_secret: AppSecret) -> tuple[bytes, ...]:
    """
    Turn one secret or a rotation list into a non-empty tuple of byte strings.

    Args:
        app_secret: a secret (``str`` is UTF-8 encoded, `Secret` unwrapped) or a sequence.

    Returns:
        The secrets as bytes, in the order given.

    Raises:
        ConfigurationError: the sequence is empty, or a secret is empty, not
            str/bytes/`Secret`, or text that is not UTF-8.
    """
    if isinstance(app_secret, str | bytes | Secret):
        items = [app_secret]
    elif isinstance(app_secret, Iterable):
        items = list(app_secret)
    else:
        raise ConfigurationError(
            f"app_secret must be a secret or a list of them, not {type(app_secret).__name__}"
        )
    secrets = tuple(_as_bytes(s) for s in items)
    if not secrets or not all(secrets):
        raise ConfigurationError("app_secret must be one or more non-empty secrets")
    return secrets


def _as_bytes(secret: str | bytes | Secret) -> bytes:
    if isinstance(secret, Secret):
        return secret.get_secret_value()
    if isinstance(secret, bytes):
        return secret
    if isinstance(secret, str):
        try:
            return secret.encode()
        except UnicodeEncodeError:
            raise ConfigurationError("an app secret must be valid text (UTF-8)") from None
    # bytes(5) would be five zero bytes: a guessable key, not a configuration.
    raise ConfigurationError(f"an app secret is str, bytes or Secret, not {type(secret).__name__}")


def _parse_header(header: str | None) -> bytes:
    """
    Return the 32 digest bytes a well-formed header carries.
    """
    value = (header or "").strip()
    if not value:
        raise InvalidSignature("missing-header")
    if not value.startswith(_PREFIX):
        raise InvalidSignature("bad-prefix")
    digits = value[len(_PREFIX) :]
    if len(digits) != _HEX_LENGTH:
        raise InvalidSignature("bad-length")
    # bytes.fromhex would also accept spaces between bytes: check the alphabet first.
    if not _HEX_DIGITS.issuperset(digits):
        raise InvalidSignature("not-hex")
    return bytes.fromhex(digits)


def _matches_any(body: bytes, expected: bytes, secrets: tuple[bytes, ...]) -> bool:
    """
    Compare against every secret without stopping at the first match.
    """
    results = [
        hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).digest(), expected)
        for secret in secrets
    ]
    return any(results)
