"""
The same `Cache` calls on every backend give the same answers.

A state machine applies one generated sequence of calls (set, add, get,
get_many, delete, delete_many, get_or_load, invalidate_tags, clear; sync
or async) to a cache on each backend in lockstep — memory, memory with
copies, Redis, Valkey and tiered — and to a plain dict. Every answer must equal the
dict's and be of its type, on every backend: a user who moves from memory to
Redis must not see a different cache. Keys and tags are drawn from text that
tends to break keys (lone surrogates, ``#``, ``:``, very long text); values
from what the default serializer promises to return unchanged.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from tests.services import delete_namespace
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache

TTL = 300.0
KEYS = st.sampled_from(["a", "b", "#a", "a:b", "\ud800", "é", "k" * 400, "*", "[x]"])
TAGS = st.sampled_from(["t", "#t", "\udfff", "u" * 300, "t:1"])
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3),
    lambda inner: st.lists(inner, max_size=3)
    | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
RUNS = settings(max_examples=25, stateful_step_count=30, deadline=None)


def _same(value: Any, expected: Any) -> bool:
    # Equal AND of the same type, all the way down (1 == 1.0 == True is not enough).
    if type(value) is not type(expected):
        return False
    if isinstance(expected, (list, tuple)):
        return len(value) == len(expected) and all(map(_same, value, expected))
    if isinstance(expected, dict):
        return value.keys() == expected.keys() and all(_same(value[k], expected[k]) for k in value)
    if isinstance(expected, float) and expected != expected:
        return value != value
    if isinstance(expected, Decimal):
        return str(value) == str(expected)
    return bool(value == expected)


def machine(redis_url: str, valkey_url: str) -> type[RuleBasedStateMachine]:
    """The lockstep machine: memory, copy, Redis, Valkey and tiered against one dict."""

    class BackendsAgree(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.namespace = f"d{uuid.uuid4().hex[:12]}"
            tiered = TieredBackend(MemoryBackend(1000), RedisBackend(redis_url))
            assert tiered.wait_ready()
            self.backends = [
                MemoryBackend(1000),
                MemoryBackend(1000, copy=True),
                RedisBackend(redis_url),
                RedisBackend(valkey_url),
                tiered,
            ]
            # One namespace each: Redis and tiered share the server, not their entries.
            self.caches = [
                Cache(b, namespace=f"{self.namespace}{i}") for i, b in enumerate(self.backends)
            ]
            self.held: dict[str, Any] = {}  # the model: what every cache holds
            self.tags_of: dict[str, set[str]] = {}  # key -> the tags of its latest store
            self.ever: dict[str, set[str]] = {}  # tag -> keys ever stored with it

        def each(self, call: str, *args: Any, is_async: bool = False, **kwargs: Any) -> list[Any]:
            results = []
            for cache in self.caches:
                if is_async:
                    method = getattr(cache, "a" + call)
                    results.append(self.loop.run_until_complete(method(*args, **kwargs)))
                else:
                    results.append(getattr(cache, call)(*args, **kwargs))
            return results

        def agree(self, results: list[Any], expected: Any) -> None:
            for cache, result in zip(self.caches, results, strict=True):
                assert _same(result, expected), (type(cache.backend).__name__, result, expected)

        @rule(key=KEYS, value=VALUES, tags=st.lists(TAGS, max_size=2), is_async=st.booleans())
        def set(self, key: str, value: Any, tags: list[str], is_async: bool) -> None:
            self.agree(self.each("set", key, value, TTL, tags=tags, is_async=is_async), True)
            self.held[key] = value
            self.tags_of[key] = set(tags)
            for tag in tags:
                self.ever.setdefault(tag, set()).add(key)

        @rule(key=KEYS, value=VALUES, is_async=st.booleans())
        def add(self, key: str, value: Any, is_async: bool) -> None:
            results = self.each("add", key, value, TTL, is_async=is_async)
            self.agree(results, key not in self.held)
            if key not in self.held:
                self.held[key], self.tags_of[key] = value, set()

        @rule(key=KEYS, is_async=st.booleans())
        def get(self, key: str, is_async: bool) -> None:
            self.agree(self.each("get", key, is_async=is_async), self.held.get(key, MISS))

        @rule(keys=st.lists(KEYS, max_size=4), is_async=st.booleans())
        def get_many(self, keys: list[str], is_async: bool) -> None:
            expected = [self.held.get(key, MISS) for key in keys]
            self.agree(self.each("get_many", keys, is_async=is_async), expected)

        @rule(key=KEYS, value=VALUES, is_async=st.booleans())
        def get_or_load(self, key: str, value: Any, is_async: bool) -> None:
            if is_async:

                async def load() -> Any:
                    return value

                results = self.each("get_or_load", key, load, TTL, is_async=True)
            else:
                results = self.each("get_or_load", key, lambda: value, TTL)
            expected = self.held.get(key, value)
            self.agree(results, expected)
            if value is not None and key not in self.held:  # None is not cached by default
                self.held[key], self.tags_of[key] = value, set()

        @rule(key=KEYS, is_async=st.booleans())
        def delete(self, key: str, is_async: bool) -> None:
            self.agree(self.each("delete", key, is_async=is_async), key in self.held)
            self.held.pop(key, None)

        @rule(keys=st.lists(KEYS, max_size=3, unique=True), is_async=st.booleans())
        def delete_many(self, keys: list[str], is_async: bool) -> None:
            expected = sum(key in self.held for key in keys)
            self.agree(self.each("delete_many", keys, is_async=is_async), expected)
            for key in keys:
                self.held.pop(key, None)

        @rule(tags=st.lists(TAGS, min_size=1, max_size=2, unique=True), is_async=st.booleans())
        def invalidate_tags(self, tags: list[str], is_async: bool) -> None:
            # Entries whose latest store carried a tag must go. An entry stored with it
            # earlier and overwritten without it may go too: Redis's index keeps the key
            # until the tag is invalidated, memory's forgets it with the old entry.
            must = {key for key in self.held if self.tags_of[key] & set(tags)}
            may = {key for tag in tags for key in self.ever.pop(tag, set()) if key in self.held}
            may -= must
            for cache, removed in zip(
                self.caches, self.each("invalidate_tags", *tags, is_async=is_async), strict=True
            ):
                assert len(must) <= removed <= len(must) + len(may), (cache, removed, must, may)
            for key in must | may:
                self.each("delete", key)  # the same state everywhere from here
                self.held.pop(key, None)
        @rule(is_async=st.booleans())
        def clear(self, is_async: bool) -> None:
            self.agree(self.each("clear", is_async=is_async), len(self.held))
            self.held.clear()
            self.ever.clear()

        def teardown(self) -> None:
            for backend in self.backends:
                backend.close()
                self.loop.run_until_complete(backend.aclose())
            self.loop.close()
            for cache in self.caches:
                for url in (redis_url, valkey_url):
                    delete_namespace(url, cache.prefix)

    return BackendsAgree


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_every_backend_gives_the_same_answers(redis_url: str, valkey_url: str) -> None:
    """Memory, copy, Redis, Valkey and tiered answer every call as the dict does."""
    run_state_machine_as_test(machine(redis_url, valkey_url), settings=RUNS)
