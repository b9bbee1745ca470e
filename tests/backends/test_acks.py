"""
The wait for confirmed invalidations, decided without I/O (a fake clock, no Redis).
"""

from __future__ import annotations

import pytest

from wa_perfkit.backends import _acks
from wa_perfkit.backends._acks import Confirmations


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_acks.time, "monotonic", fake)
    return fake


def test_blocks_are_bounded_and_rounded_to_the_millisecond(clock: Clock) -> None:
    assert Confirmations(1, 10.0, float("inf")).next_block() == _acks._MAX_BLOCK
    assert Confirmations(1, 10.0, 0.05).next_block() == 0.025  # half the read timeout
    assert Confirmations(1, 0.0123456, float("inf")).next_block() == 0.012
    assert Confirmations(1, 10.0, 0.001).next_block() == _acks._MIN_BLOCK  # never 0 ms


def test_stops_when_every_confirmation_came(clock: Clock) -> None:
    waits = Confirmations(2, 10.0, float("inf"))
    waits.got(True)
    waits.got(False)  # a BLPOP that timed out counts nothing
    assert waits.next_block() is not None
    waits.got(True)
    assert waits.received == 2
    assert waits.next_block() is None
    assert Confirmations(0, 10.0, float("inf")).next_block() is None


def test_stops_when_the_time_is_up(clock: Clock) -> None:
    waits = Confirmations(1, 1.0, float("inf"))
    clock.now += 1.0 - _acks._MIN_BLOCK / 2  # less than the shortest block is left
    assert waits.next_block() is None
    assert waits.received == 0
