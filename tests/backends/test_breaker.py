"""
CircuitBreaker: it opens, probes and closes; an abandoned probe frees its slot; open costs no I/O.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests.conftest import FakeClock
from tests.services import RedisServer
from wa_perfkit.backends.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.errors import BackendError, BackendUnavailable


class TestCircuitBreaker:
    def test_opens_probes_and_closes(
        self, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """N failures open it; after reset_timeout one probe is let through; success closes it."""
        breaker = CircuitBreaker("r", failure_threshold=3, reset_timeout=1.0, timer=clock)
        caplog.set_level(logging.INFO, logger="wa_perfkit")
        for _ in range(3):
            assert breaker.allow()
            breaker.failure()
        assert breaker.state == OPEN and breaker.opened_count == 1
        assert not breaker.allow()
        clock.advance(1.0)
        assert breaker.allow() and breaker.state == HALF_OPEN
        assert not breaker.allow()  # one probe at a time
        breaker.failure()  # the probe failed: open again, same outage
        assert breaker.state == OPEN and breaker.opened_count == 2
        clock.advance(1.0)
        assert breaker.allow()
        breaker.success()
        assert breaker.state == CLOSED and breaker.closed_count == 1
        messages = [r.getMessage() for r in caplog.records]
        assert sum("circuit breaker open" in m for m in messages) == 1
        assert sum("circuit breaker closed" in m for m in messages) == 1

    def test_healthy_means_closed_without_a_failure_since_the_last_success(
        self, clock: FakeClock
    ) -> None:
        """`healthy` (what lets the hit path skip allow and success) follows every change."""
        breaker = CircuitBreaker("r", failure_threshold=2, reset_timeout=1.0, timer=clock)
        seen = [breaker.healthy]
        breaker.failure()  # closed, one failure counted
        seen.append(breaker.healthy)
        breaker.success()
        seen.append(breaker.healthy)
        breaker.failure()
        breaker.failure()  # open
        seen.append(breaker.healthy)
        clock.advance(1.0)
        assert breaker.allow()  # half-open
        seen.append(breaker.healthy)
        breaker.success()
        seen.append(breaker.healthy)
        assert seen == [True, False, True, False, False, True]
        assert breaker.state == CLOSED

    def test_abandoned_probe_frees_the_slot(self, clock: FakeClock) -> None:
        """A probe cancelled mid-call leaves no verdict; the next caller may probe."""
        breaker = CircuitBreaker("r", failure_threshold=1, reset_timeout=1.0, timer=clock)
        breaker.failure()
        clock.advance(1.0)
        assert breaker.allow()
        breaker.abandon()
        assert breaker.allow()

    async def test_cancelled_async_probe_does_not_wedge_the_breaker(
        self, redis_server: RedisServer
    ) -> None:
        """A task cancelled while probing a hung Redis lets a later probe close the breaker."""
        backend = RedisBackend(redis_server.url)
        breaker = backend.breaker
        breaker.reset_timeout = 0.05
        try:
            await backend.aset("k", b"v", 10)
            redis_server.pause()
            for _ in range(3):
                with pytest.raises(BackendError):
                    await backend.aget("k")
            assert breaker.state == OPEN
            await asyncio.sleep(0.06)
            probe = asyncio.create_task(backend.aget("k"))
            await asyncio.sleep(0.05)
            probe.cancel()
            with pytest.raises(asyncio.CancelledError):
                await probe
            redis_server.resume()
            await asyncio.sleep(0.06)
            deadline = time.monotonic() + 3
            while breaker.state != CLOSED and time.monotonic() < deadline:
                try:
                    await backend.aget("k")
                except BackendError:
                    await asyncio.sleep(0.05)
            assert breaker.state == CLOSED
        finally:
            redis_server.resume()
            await backend.aclose()

    def test_open_breaker_costs_no_io(self, redis_server: RedisServer) -> None:
        """While open, a call fails fast with BackendUnavailable: no socket is touched."""
        backend = RedisBackend(redis_server.url)
        backend.breaker.reset_timeout = 600  # stays open for the whole test
        try:
            redis_server.kill()
            for _ in range(3):
                with pytest.raises(BackendError):
                    backend.get("k")
            # Redis is back, yet the open breaker still refuses: the call never reached it.
            redis_server.start()
            with pytest.raises(BackendUnavailable):
                backend.get("k")
        finally:
            backend.close()
