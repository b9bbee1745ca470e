"""
A masking holder for keys and secrets.

Keys end up in objects that get logged, printed in tracebacks and shown by
debuggers. `Secret` keeps the value out of all of them: its ``repr`` and ``str``
are ``Secret('**********')`` whatever it holds (the same convention as
starlette's ``Secret``), and the only way to read it is the deliberately loud
`Secret.get_secret_value`.

The value is always held as ``bytes`` because every consumer in wa_perfkit
feeds it to ``hmac``; a ``str`` is encoded as UTF-8 once, at construction.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["Secret", "redact_url"]

_MASK: Final = "Secret('**********')"


class Secret:
    """
    A secret key whose representation never reveals it.

    Args:
        value: the secret, as ``str`` (encoded as UTF-8) or ``bytes``; another
            `Secret` is unwrapped.

    Raises:
        TypeError: if ``value`` is neither ``str``, ``bytes`` nor `Secret`.
        ValueError: if ``value`` is empty, or text that is not UTF-8 (a lone surrogate).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes | Secret) -> None:
        self._value = _as_bytes(value)
        if not self._value:
            raise ValueError("a secret must not be empty")

    def get_secret_value(self) -> bytes:
        """
        Return the secret itself.

        Returns:
            The secret as bytes.
        """
        return self._value

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def _as_bytes(value: str | bytes | Secret) -> bytes:
    if isinstance(value, Secret):
        return value.get_secret_value()
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:  # its message would quote a character of the secret
            raise ValueError("a secret given as str must be valid UTF-8 text") from None
    if isinstance(value, bytes):
        return value
    raise TypeError(f"a secret must be str or bytes, not {type(value).__name__}")


def redact_url(url: str) -> str:
    """
    Return ``url`` with its password replaced by ``***`` (for logs and reprs).

    Both places a driver reads a password from are masked: the user info
    (``redis://user:pw@host``) and the ``password`` query parameter
    (``redis://host/0?password=pw``).

    Args:
        url: any URL (Redis, database...).

    Returns:
        The URL with its password masked; a URL that cannot be parsed is not shown.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
        query = "&".join(_mask_password(pair) for pair in parts.query.split("&"))
        if netloc == parts.netloc and query == parts.query:
            return url  # nothing to hide: shown exactly as given
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "<unparsable URL>"


def _mask_password(pair: str) -> str:
    name, sep, _ = pair.partition("=")
    return f"{name}=***" if sep and unquote(name).strip().lower() == "password" else pair
