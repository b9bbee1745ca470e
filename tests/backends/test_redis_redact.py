"""
Redis passwords never reach a repr or a log line, wherever the URL carries them.
"""

from __future__ import annotations

import logging

import pytest

from tests.services import free_port
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.secret import redact_url

SECRET = "hunter2-Zq9"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@127.0.0.1:6379/0",
        f"redis://app:{SECRET}@127.0.0.1:6379/0",
        f"redis://127.0.0.1:6379/0?password={SECRET}",
        f"redis://127.0.0.1:6379/0?socket_timeout=1&password={SECRET}&db=2",
        f"rediss://app@127.0.0.1:6379/0?PASSWORD={SECRET}",
        f"redis://app:{SECRET}@127.0.0.1:6379/0?password={SECRET}",
        f"redis://127.0.0.1:6379/0?password={SECRET}%26more",
        f"unix:///tmp/redis.sock?password={SECRET}",
    ],
)
def test_no_password_in_the_shown_url(url: str) -> None:
    """User-info passwords and ``password=`` query parameters are both masked."""
    shown = redact_url(url)
    assert SECRET not in shown
    assert "***" in shown
    try:
        backend = RedisBackend(url)
    except ConfigurationError as exc:  # redis-py has no upper-case PASSWORD option
        assert SECRET not in str(exc) and "***" in str(exc)
    else:
        assert SECRET not in repr(backend)


def test_other_query_parameters_are_kept() -> None:
    """Only the password is masked: the rest of the URL still says where it points."""
    shown = redact_url(f"redis://127.0.0.1:6379/0?socket_timeout=1&password={SECRET}&db=2")
    assert "socket_timeout=1" in shown and "db=2" in shown
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_no_password_in_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """A dead server's failures and breaker logs name the URL without its password."""
    url = f"redis://127.0.0.1:{free_port()}/0?password={SECRET}"
    backend = RedisBackend(url, connect_timeout=0.2)
    cache = Cache(backend, namespace="redact")
    with caplog.at_level(logging.DEBUG, logger="wa_perfkit"):
        for _ in range(5):
            cache.get("k")
    assert caplog.records
    assert SECRET not in caplog.text
    backend.close()
