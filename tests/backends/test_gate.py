"""
Gate (the asyncio Redis client's command limit): FIFO hand-over, timeouts and cancellation
never leak or lose a slot.
"""

from __future__ import annotations

import asyncio

import pytest

from wa_perfkit.backends._gate import Gate
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache


async def _enter(gate: Gate, timeout: float = 5.0) -> None:
    if gate.free:
        gate.free -= 1
    else:
        await gate.wait(timeout)


class TestGate:
    async def test_free_slots_are_taken_without_waiting(self) -> None:
        gate = Gate(2)
        await _enter(gate)
        await _enter(gate)
        assert gate.free == 0
        gate.leave()
        gate.leave()
        assert gate.free == 2

    async def test_a_freed_slot_goes_to_the_first_in_line(self) -> None:
        """Waiters are served in arrival order; a freed slot skips `free` while one waits."""
        gate = Gate(1)
        await _enter(gate)
        order: list[int] = []

        async def waiter(i: int) -> None:
            await _enter(gate)
            order.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
        await asyncio.sleep(0)  # all three are in line
        for _ in range(3):
            gate.leave()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert gate.free == 0
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2]
        gate.leave()
        assert gate.free == 1

    async def test_timeout_leaves_the_line(self) -> None:
        gate = Gate(1)
        await _enter(gate)
        with pytest.raises(asyncio.TimeoutError):
            await gate.wait(0.001)
        gate.leave()
        assert gate.free == 1  # nobody left behind in the line

    async def test_cancelled_waiter_leaves_the_line(self) -> None:
        gate = Gate(1)
        await _enter(gate)
        task = asyncio.create_task(_enter(gate))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.leave()
        assert gate.free == 1

    async def test_slot_handed_to_a_cancelled_waiter_is_passed_on(self) -> None:
        """Handed a slot, then cancelled before it ran: the next in line gets the slot."""
        gate = Gate(1)
        await _enter(gate)
        first = asyncio.create_task(_enter(gate))
        second = asyncio.create_task(_enter(gate))
        await asyncio.sleep(0)
        gate.leave()  # the slot goes to `first`...
        first.cancel()  # ...which is cancelled before it resumes
        await asyncio.gather(first, return_exceptions=True)
        if not first.cancelled():  # it kept the slot after all (wait_for may keep a result)
            gate.leave()
        await asyncio.wait_for(second, 5)
        gate.leave()
        assert gate.free == 1


async def test_backend_commands_beyond_the_pool_wait_their_turn(
    redis_url: str, namespace: str
) -> None:
    """More concurrent commands than connections: all are served, and every slot comes back."""
    backend = RedisBackend(redis_url, max_connections=3)
    cache = Cache(backend, namespace=namespace)
    await cache.aset("k", {"v": 1}, 60)
    results = await asyncio.gather(*(backend.aget(cache.full_key("k")) for _ in range(50)))
    assert all(r is not None for r in results)
    assert backend._async_gate is not None and backend._async_gate.free == 3
    await backend.aclose()
