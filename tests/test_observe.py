"""
The `observe` hooks the exporters use: listeners, request traces, the Server-Timing header.
"""

from __future__ import annotations

import pytest

from wa_perfkit.observe import (
    CacheEvent,
    RequestTrace,
    add_listener,
    note,
    server_timing,
    start_trace,
    stop_trace,
)


class TestObserve:
    def test_a_failing_listener_never_reaches_the_caller(self) -> None:
        """A listener that raises is swallowed; the others still run."""
        seen: list[CacheEvent] = []

        def bad(event: CacheEvent) -> None:
            raise RuntimeError("listener bug")

        removers = [add_listener(bad), add_listener(seen.append)]
        try:
            note("fn", "miss", "k", 0.002)
            note("fn", "hit", "k")
        finally:
            for remove in removers:
                remove()
                remove()
        assert seen == [CacheEvent("fn", "miss", 0.002)]

    def test_the_trace_collects_outcomes_in_order(self) -> None:
        """Within a trace every noted outcome is kept in order, and closing it ends that."""
        trace, token = start_trace()
        note("a", "miss", "k", 0.010)
        note("b", "hit", "k")
        stop_trace(token)
        note("c", "miss", "k", 1.0)
        assert [e.outcome for e in trace.events] == ["miss", "hit"]
        assert trace.load_seconds == pytest.approx(0.010)

    def test_server_timing_format(self) -> None:
        """Outcomes in order, loader time only when a loader ran, long traces summarised."""
        trace = RequestTrace([CacheEvent("x", "stale"), CacheEvent("y", "error", 0.0123)])
        assert server_timing(trace, 0.02) == "app;dur=20.0"  # no details unless asked
        assert server_timing(trace, 0.02, details=True) == (
            'cache;desc="stale", cache;desc="error", db;dur=12.3, app;dur=20.0'
        )
        many = RequestTrace([CacheEvent("x", "hit")] * 20, details=True)
        value = server_timing(many, 0.001, loader_name="sql")
        assert value.count('cache;desc="hit"') == 16
        assert value.endswith('cache;desc="+4 more", app;dur=1.0')
