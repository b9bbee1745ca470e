"""
Logging on ``wa_perfkit``: hit/miss at DEBUG with a key digest; backend errors at WARNING,
rate-limited.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

import pytest

from tests.integrations._observed_apps import SECRET_VALUE, TOKEN, new_cache
from wa_perfkit import Cache, MemoryBackend, ttl_repository
from wa_perfkit.errors import BackendError


class FailingBackend(MemoryBackend):
    """A byte backend whose every read and write fails."""

    def __init__(self) -> None:
        super().__init__(copy=True)
        self.failures = 0

    def get(self, key: str) -> Any:
        self.failures += 1
        raise BackendError("FailingBackend", "get", "connection refused")

    def set(self, key: str, data: Any, ttl: float) -> None:
        self.failures += 1
        raise BackendError("FailingBackend", "set", "connection refused")

    def lease(self, key: str, ttl: float) -> tuple[Any, Any]:
        self.failures += 1
        raise BackendError("FailingBackend", "lease", "connection refused")


def _text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


class TestDebugLog:
    def test_hits_and_misses_are_logged_with_a_digest_never_a_token_or_value(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A token-keyed lookup logs 'miss' then 'hit' with the name and a 12-char digest."""
        cache = new_cache()

        @ttl_repository(ttl=60, cache=cache, name="get_user")
        def get_user(token: str) -> dict[str, str]:
            return {"value": SECRET_VALUE}

        with caplog.at_level(logging.DEBUG, logger="wa_perfkit"):
            get_user(TOKEN)
            get_user(TOKEN)
        lines = [r.getMessage() for r in caplog.records if r.name == "wa_perfkit"]
        assert [line.split()[2] for line in lines] == ["miss", "hit"]
        for line in lines:
            pattern = r"wa_perfkit get_user (hit|miss) key=[0-9a-f]{12} load_ms=\S+"
            assert re.fullmatch(pattern, line)
        for secret in (TOKEN, TOKEN[:20], TOKEN[-20:], SECRET_VALUE, cache.prefix):
            assert secret not in _text(caplog)

    async def test_async_hits_and_misses_are_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """The async path logs the same way."""
        cache = new_cache()

        @ttl_repository(ttl=60, cache=cache, name="aget_user")
        async def aget_user(token: str) -> str:
            return SECRET_VALUE

        with caplog.at_level(logging.DEBUG, logger="wa_perfkit"):
            await aget_user(TOKEN)
            await aget_user(TOKEN)
        assert [r.getMessage().split()[2] for r in caplog.records] == ["miss", "hit"]
        assert TOKEN not in _text(caplog) and SECRET_VALUE not in _text(caplog)

    def test_hits_are_silent_above_debug(self, caplog: pytest.LogCaptureFixture) -> None:
        """At INFO nothing is logged for hits and misses."""
        cache = new_cache()

        @ttl_repository(ttl=60, cache=cache, name="quiet")
        def quiet(x: int) -> int:
            return x

        with caplog.at_level(logging.INFO, logger="wa_perfkit"):
            quiet(1)
            quiet(1)
        assert caplog.records == []

    @pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
    async def test_a_level_change_between_hits_is_followed(
        self, caplog: pytest.LogCaptureFixture, is_async: bool
    ) -> None:
        """Hits logged at DEBUG after hits at INFO, and silent again after going back."""
        cache = new_cache()

        @ttl_repository(ttl=60, cache=cache, name="toggled")
        def toggled(x: int) -> int:
            return x

        @ttl_repository(ttl=60, cache=cache, name="atoggled")
        async def atoggled(x: int) -> int:
            return x

        async def hit() -> None:
            if is_async:
                await atoggled(1)
            else:
                toggled(1)

        with caplog.at_level(logging.INFO, logger="wa_perfkit"):
            await hit()
            await hit()  # a hit at INFO: logging now holds "DEBUG is off" for the logger
        with caplog.at_level(logging.DEBUG, logger="wa_perfkit"):
            await hit()
        with caplog.at_level(logging.INFO, logger="wa_perfkit"):
            await hit()
        assert [r.getMessage().split()[2] for r in caplog.records] == ["hit"]


class TestBackendWarnings:
    def test_backend_errors_warn_once_per_interval_and_are_all_counted(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """100 calls on a dead backend: every failure counted, one WARNING per operation kind."""
        backend = FailingBackend()
        cache = Cache(backend, namespace="failing")

        @ttl_repository(ttl=60, cache=cache, name="get_user")
        def get_user(token: str) -> str:
            return SECRET_VALUE

        with caplog.at_level(logging.DEBUG, logger="wa_perfkit"):
            for _ in range(100):
                assert get_user(TOKEN) == SECRET_VALUE
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert sorted(r.getMessage().split(" backend ")[1].split()[0] for r in warnings) == [
            "get", "lease"
        ]
        assert cache.stats().backend_errors == backend.failures >= 200
        assert cache.stats().misses == 100
        for secret in (TOKEN, SECRET_VALUE):
            assert secret not in _text(caplog)

    def test_a_dead_redis_warns_a_few_times_without_the_token(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """50 calls against a closed loopback port: a handful of WARNINGs, none with the token."""
        from wa_perfkit.backends.redis import RedisBackend

        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        backend = RedisBackend(f"redis://127.0.0.1:{port}/0", connect_timeout=0.2)
        cache = Cache(backend, namespace="dead")

        @ttl_repository(ttl=60, cache=cache, name="get_user")
        def get_user(token: str) -> str:
            return SECRET_VALUE

        try:
            with caplog.at_level(logging.DEBUG, logger="wa_perfkit"):
                for _ in range(50):
                    assert get_user(TOKEN) == SECRET_VALUE
        finally:
            backend.close()
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert 1 <= len(warnings) <= 4
        assert cache.stats().backend_errors >= 100  # each read and write failed or was refused
        assert cache.stats().breaker_state == "open"
        for secret in (TOKEN, TOKEN[:20], SECRET_VALUE):
            assert secret not in _text(caplog)
