"""
A state machine drives `ttl_repository` against a plain reference model.

Hypothesis generates calls under every spelling of their arguments,
invalidations (under any spelling), tag invalidations, clears, row updates
and clock steps, on every backend, sync and async, and checks each returned
value, each load count and what each invalidation reports against a dict.

On memory the clock steps expire entries (`FakeClock` is the backend's
timer); on Redis the TTL is Redis's own, far longer than a run, so a step
must expire nothing there.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.services import delete_namespace
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository
from wa_perfkit.testing import FakeClock

TTL = 60.0
NAMES = st.sampled_from(["a", "b", "a:b", "é"])
NUMBERS = st.sampled_from([1, 2])  # 1 is the default
SPELLINGS = st.sampled_from(["pos", "pos-default", "kw", "mixed", "kw-reversed"])
RUNS = settings(max_examples=25, stateful_step_count=25, deadline=None)


def _spell(spelling: str, name: str, number: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # Every way to write one call of row(name, number=1).
    if spelling == "pos":
        return ((name,), {}) if number == 1 else ((name, number), {})
    if spelling == "pos-default":
        return (name, number), {}
    if spelling == "kw":
        return (), {"name": name, "number": number}
    if spelling == "mixed":
        return (name,), {"number": number}
    return (), {"number": number, "name": name}


def machine(kind: str, is_async: bool, redis_url: str | None) -> type[RuleBasedStateMachine]:
    """The state machine for one backend kind, sync or async."""

    class CacheModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            self.namespace = f"m{uuid.uuid4().hex[:12]}"
            self.loop = asyncio.new_event_loop()
            self.backend = self._backend()
            self.cache = Cache(self.backend, namespace=self.namespace, clock=self.clock)
            self.db: dict[tuple[str, int], int | None] = {}  # row version; None: no row
            self.loads = 0
            # The model: what the cache holds, and until when.
            self.held: dict[tuple[str, int], tuple[int, float]] = {}
            self.expected_loads = 0
            self.row = self._function()

        def _backend(self) -> Any:
            if kind in ("memory", "copy"):
                return MemoryBackend(1000, copy=kind == "copy", timer=self.clock)
            assert redis_url is not None
            if kind == "redis":
                return RedisBackend(redis_url)
            backend = TieredBackend(MemoryBackend(1000), RedisBackend(redis_url))
            assert backend.wait_ready()
            return backend

        def _load(self, name: str, number: int) -> dict[str, Any] | None:
            self.loads += 1
            version = self.db.get((name, number), 0)
            return None if version is None else {"name": name, "number": number, "v": version}

        def _function(self) -> Any:
            load = self._load
            if is_async:

                @ttl_repository(ttl=TTL, cache=self.cache, tags=["name:{name}"], name="row")
                async def arow(name: str, number: int = 1) -> dict[str, Any] | None:
                    await asyncio.sleep(0)
                    return load(name, number)

                return arow

            @ttl_repository(ttl=TTL, cache=self.cache, tags=["name:{name}"], name="row")
            def row(name: str, number: int = 1) -> dict[str, Any] | None:
                return load(name, number)

            return row

        def run(self, result: Any) -> Any:
            """The value of a sync call, or of an awaitable on this machine's loop."""
            return self.loop.run_until_complete(result) if is_async else result

        def _live(self, key: tuple[str, int]) -> bool:
            held = self.held.get(key)
            expires = kind in ("memory", "copy")
            return held is not None and (not expires or held[1] > self.clock())

        # -- rules ----------------------------------------------------------------

        @rule(name=NAMES, number=NUMBERS, spelling=SPELLINGS)
        def call(self, name: str, number: int, spelling: str) -> None:
            key = (name, number)
            args, kwargs = _spell(spelling, name, number)
            got = self.run(self.row(*args, **kwargs))
            if self._live(key):
                version = self.held[key][0]
            else:
                self.expected_loads += 1
                version = self.db.get(key, 0)  # type: ignore[assignment]
                if version is not None:
                    self.held[key] = (version, self.clock() + TTL)
            expected = None if version is None else {"name": name, "number": number, "v": version}
            assert got == expected

        @rule(name=NAMES, number=NUMBERS)
        def update_row(self, name: str, number: int) -> None:
            # The database changes; the cache may serve the old row until invalidated.
            current = self.db.get((name, number), 0)
            self.db[(name, number)] = (current or 0) + 1

        @rule(name=NAMES, number=NUMBERS)
        def delete_row(self, name: str, number: int) -> None:
            self.db[(name, number)] = None

        @rule(name=NAMES, number=NUMBERS, spelling=SPELLINGS)
        def invalidate(self, name: str, number: int, spelling: str) -> None:
            args, kwargs = _spell(spelling, name, number)
            existed = self.run(self.row.invalidate(*args, **kwargs))
            assert existed == self._live((name, number))
            self.held.pop((name, number), None)

        @rule(name=NAMES)
        def invalidate_tag(self, name: str) -> None:
            tag = f"name:{name}"
            if is_async:
                removed = self.run(self.cache.ainvalidate_tags(tag))
            else:
                removed = self.cache.invalidate_tags(tag)
            assert removed == sum(self._live(key) for key in self.held if key[0] == name)
            for key in [key for key in self.held if key[0] == name]:
                del self.held[key]

        @rule()
        def clear(self) -> None:
            self.run(self.cache.aclear()) if is_async else self.cache.clear()
            self.held.clear()

        @rule(seconds=st.sampled_from([1.0, 30.0, TTL - 0.001, TTL, 90.0]))
        def tick(self, seconds: float) -> None:
            self.clock.advance(seconds)

        @invariant()
        def loads_match(self) -> None:
            assert self.loads == self.expected_loads
            assert self.row.stats().loads == self.expected_loads

        def teardown(self) -> None:
            backend = self.backend
            backend.close()
            self.loop.run_until_complete(backend.aclose())
            self.loop.close()
            if redis_url is not None:
                delete_namespace(redis_url, self.namespace + ":")

    CacheModel.__name__ = f"CacheModel_{kind}_{'async' if is_async else 'sync'}"
    return CacheModel


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", ["memory", "copy", "redis", "tiered"])
def test_repository_keeps_the_model(
    kind: str, is_async: bool, request: pytest.FixtureRequest
) -> None:
    """Values, load counts and invalidation results agree with a dict, on every backend."""
    url = None if kind in ("memory", "copy") else request.getfixturevalue("redis_url")
    run_state_machine_as_test(machine(kind, is_async, url), settings=RUNS)
