"""
Check a Redis URL and client options when a `RedisBackend` is built.

redis-py parses a URL's options only when it makes the first connection, so
a typo (``?socket_timout=1``), a bad value (``?socket_timeout=abc``) or a port
out of range would otherwise surface as ``TypeError``/``ValueError`` from the
first cache call of the first request, in production. Checked here, it is a
`ConfigurationError` at start-up. Nothing here opens a connection.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.connection import ConnectionPool

from wa_perfkit.errors import ConfigurationError
from wa_perfkit.policy import ttl_seconds
from wa_perfkit.secret import redact_url

__all__ = ["check_options", "check_url"]

_TIMEOUTS = ("socket_timeout", "socket_connect_timeout")


def check_url(url: str) -> None:
    """
    Refuse a URL whose first connection would fail for a reason of its own text.

    Raises:
        ConfigurationError: not a string, a bad port, a bad or unknown option.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"a Redis URL is a string, not {type(url).__name__}")
    shown = redact_url(url)
    try:
        urlsplit(url).port  # noqa: B018 (parsing it is the check)
        pool = ConnectionPool.from_url(url)
        connection = pool.make_connection()  # validates every option; connects nothing
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad Redis URL {shown!r}: {_reason(exc)}") from None
    for name in _TIMEOUTS:
        _check_seconds(getattr(connection, name, None), f"{name} in {shown!r}")


def check_options(**options: Any) -> None:
    """
    Refuse client options no connection could use; named as `RedisBackend` names them.

    Raises:
        ConfigurationError: a timeout is not a positive finite number, or
            ``max_connections`` is not a positive int.
    """
    size = options.pop("max_connections")
    if type(size) is not int or size < 1:
        raise ConfigurationError(f"max_connections must be a positive int, not {size!r}")
    for name, value in options.items():
        _check_seconds(value, name)


def _check_seconds(value: Any, name: str) -> None:
    # None means "no timeout" to redis-py; anything else follows the library's TTL rule.
    if value is not None:
        ttl_seconds(value, name)


def _reason(exc: Exception) -> str:
    # redis-py's messages name the option, never the password; keep them short.
    return str(exc).replace("AbstractConnection.__init__() got an ", "")
