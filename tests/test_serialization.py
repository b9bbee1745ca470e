"""
Faithful round trips and corrupt entries, on memory and on real Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import logging
import pickle
import sys
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import pydantic
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.services import unavailable
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError, SerializationError
from wa_perfkit.repository import ttl_repository
from wa_perfkit.serialization import (
    MAX_DEPTH,
    JsonSerializer,
    dataclass_codec,
    pydantic_codec,
)


@dataclasses.dataclass(frozen=True)
class Contact:
    id: uuid.UUID
    name: str
    created_at: dt.datetime


class Account(pydantic.BaseModel):
    id: int
    phone_number_id: str
    balance: Decimal
    tags: list[str]


# Fixtures here are per-test namespaces, fine to share across hypothesis examples.
FIXTURES_OK = [HealthCheck.function_scoped_fixture]

SERIALIZER = JsonSerializer(codecs=[dataclass_codec(Contact), pydantic_codec(Account)])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=64)
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes()
    | st.datetimes(timezones=st.timezones())
    | st.builds(
        Contact, st.uuids(), st.text(max_size=20), st.datetimes(timezones=st.just(dt.timezone.utc))
    )
    | st.builds(
        Account,
        id=st.integers(0, 2**40),
        phone_number_id=st.text(max_size=20),
        balance=st.decimals(allow_nan=False, allow_infinity=False, places=2),
        tags=st.lists(st.text(max_size=5), max_size=3),
    )
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    | st.tuples(inner, inner)
    | st.dictionaries(st.integers(), inner, max_size=3),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


class TestRoundTrip:
    @settings(max_examples=150, deadline=None)
    @given(value=values)
    def test_serializer_round_trip(self, value: Any) -> None:
        """Every supported value comes back equal and of the same type."""
        assert same(SERIALIZER.loads(SERIALIZER.dumps(value)), value)

    @settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES_OK)
    @given(value=values)
    def test_hit_equals_miss_on_redis(self, redis_url: str, namespace: str, value: Any) -> None:
        """Through ttl_repository on real Redis, the hit returns what the miss returned."""
        backend = RedisBackend(redis_url)
        cache = Cache(backend, namespace=namespace, serializer=SERIALIZER)
        produced = []

        @ttl_repository(ttl=30, cache=cache, cache_none=True)
        def load(key: str) -> Any:
            produced.append(value)
            return value

        key = uuid.uuid4().hex
        miss, hit = load(key), load(key)
        backend.close()
        assert len(produced) == 1
        assert same(miss, value) and same(hit, value)

    @settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES_OK)
    @given(value=values)
    def test_hit_equals_miss_on_memory(self, namespace: str, value: Any) -> None:
        """On memory (objects, and copies through the serializer) the hit is the miss's value."""
        for backend in (MemoryBackend(), MemoryBackend(copy=True)):
            cache = Cache(backend, namespace=namespace, serializer=SERIALIZER)

            @ttl_repository(ttl=30, cache=cache, cache_none=True)
            def load(key: str) -> Any:
                return value

            assert same(load("k"), value) and same(load("k"), value)

    def test_naive_and_aware_datetimes_stay_apart(self) -> None:
        """A naive datetime stays naive; an aware one keeps its offset."""
        naive = dt.datetime(2026, 11, 28, 12, 0)
        aware = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        out = SERIALIZER.loads(SERIALIZER.dumps([naive, aware]))
        assert out[0].tzinfo is None
        assert out[1].utcoffset() == dt.timedelta(hours=2)

    def test_plain_json_needs_no_hook(self) -> None:
        """Plain JSON values use the un-tagged envelope (the fast decode)."""
        assert SERIALIZER.dumps({"a": [1, "x"]}).startswith(b"W1p")
        assert SERIALIZER.dumps({"a": uuid.uuid4()}).startswith(b"W1t")

    def test_user_dict_that_looks_like_a_tag(self) -> None:
        """A user dict with our tag key is escaped, not mistaken for a tagged value."""
        value = {"__wpk__": "uuid", "v": "not-a-uuid"}
        assert SERIALIZER.loads(SERIALIZER.dumps(value)) == value

    def test_unsupported_type_is_refused(self) -> None:
        """An unknown type raises SerializationError on encode."""
        with pytest.raises(SerializationError) as info:
            SERIALIZER.dumps(object())
        assert info.value.reason == "unsupported-type"

    def test_nesting_limit_does_not_depend_on_the_recursion_limit(self) -> None:
        """200 levels round-trip, 201 are refused, whatever the recursion limit in force."""
        assert SERIALIZER.loads(SERIALIZER.dumps(_deep(MAX_DEPTH - 1))) == _deep(MAX_DEPTH - 1)
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(50_000)
        try:
            for depth in (MAX_DEPTH, 5000):
                with pytest.raises(SerializationError) as info:
                    SERIALIZER.dumps(_deep(depth))
                assert info.value.reason == "too-deep"
        finally:
            sys.setrecursionlimit(limit)

    def test_codec_for_non_dataclass_is_refused(self) -> None:
        """dataclass_codec rejects classes that are not dataclasses."""
        with pytest.raises(ConfigurationError):
            dataclass_codec(int)


CORRUPT = {
    "garbage": b"\x00\xff\xfe garbage",
    "truncated": SERIALIZER.dumps({"a": [1, 2, 3]})[:-3],
    "foreign-json": b'{"value": 1}',
    "pickle": pickle.dumps({"a": 1}),
    "unknown-tag": b'W1t{"__wpk__":"evil","v":1}',
    "bad-uuid": b'W1t{"__wpk__":"uuid","v":"zz"}',
    "empty": b"",
}


class TestCorruptEntries:
    @pytest.mark.parametrize("payload", list(CORRUPT.values()), ids=list(CORRUPT))
    def test_corrupt_entry_is_a_miss(
        self, redis_url: str, redis_client: redis.Redis, namespace: str, payload: bytes
    ) -> None:
        """A tampered Redis entry is a miss: the loader runs and the entry is replaced."""
        backend = RedisBackend(redis_url)
        cache = Cache(backend, namespace=namespace)
        calls: list[str] = []

        @ttl_repository(ttl=30, cache=cache)
        def load(key: str) -> dict[str, str]:
            calls.append(key)
            return {"key": key}

        full_key = load.cache_key("c1")
        redis_client.set(full_key, payload)
        assert load("c1") == {"key": "c1"}
        assert calls == ["c1"]
        assert redis_client.get(full_key) == SERIALIZER.dumps({"key": "c1"})
        assert load("c1") == {"key": "c1"} and calls == ["c1"]
        assert cache.stats().decode_errors == 1
        backend.close()

    def test_pickle_is_never_unpickled(
        self, redis_url: str, redis_client: redis.Redis, namespace: str
    ) -> None:
        """A pickle payload whose unpickling would run code is never unpickled."""

        class Boom:
            def __reduce__(self) -> Any:
                return (pytest.fail, ("unpickled!",))

        cache = Cache(RedisBackend(redis_url), namespace=namespace)
        redis_client.set(cache.full_key("k"), pickle.dumps(Boom()))
        assert cache.get("k") is MISS
        cache.close()


class TestDriverTypes:
    def test_uuid_subclass_comes_back_as_uuid(self) -> None:
        """A driver's UUID subclass (asyncpg's) is cached, and returns an equal uuid.UUID."""

        class DriverUUID(uuid.UUID):
            pass

        value = DriverUUID(int=7)
        out = SERIALIZER.loads(SERIALIZER.dumps({"id": value}))
        assert out == {"id": uuid.UUID(int=7)} and type(out["id"]) is uuid.UUID

    async def test_asyncpg_rows_are_cacheable(self) -> None:
        """A real asyncpg UUID round-trips through the serializer."""
        asyncpg = pytest.importorskip("asyncpg")
        try:
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=2)
        except (OSError, asyncpg.PostgresError) as exc:
            unavailable(f"no PostgreSQL on 127.0.0.1:5432 ({exc}); install postgresql")
        try:
            row = await conn.fetchrow("SELECT gen_random_uuid() AS id, now() AS at")
        finally:
            await conn.close()
        assert row is not None
        data = dict(row)
        assert type(data["id"]) is not uuid.UUID  # asyncpg's own subclass
        assert SERIALIZER.loads(SERIALIZER.dumps(data)) == data


# -- one value policy on every backend ------------------------------------------

BACKENDS = ["memory", "memory-copy", "redis", "tiered"]


@pytest.fixture(name="any_cache", params=BACKENDS)
async def fixture_any_cache(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[Cache]:
    """A cache on each backend in turn: memory, memory(copy=True), Redis, tiered."""
    for cache in _cache_on(request.param, request, namespace):
        yield cache
        await cache.aclose()


def _cache_on(
    kind: str,
    request: pytest.FixtureRequest,
    namespace: str,
    serializer: JsonSerializer = SERIALIZER,
) -> Iterator[Cache]:
    if kind.startswith("memory"):
        memory = MemoryBackend(copy=kind == "memory-copy")
        yield Cache(memory, namespace=namespace, serializer=serializer)
        return
    redis_url = request.getfixturevalue("redis_url")
    backend: RedisBackend | TieredBackend = RedisBackend(redis_url)
    if kind == "tiered":
        backend = TieredBackend(MemoryBackend(), backend)
        assert backend.wait_ready()
    yield Cache(backend, namespace=namespace, serializer=serializer)
    backend.close()


class Row(Mapping[str, Any]):
    """A driver row (like asyncpg's Record): a mapping, but not a dict."""

    def __init__(self, **data: Any) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Status(enum.Enum):
    OPEN = "open"


class Point(NamedTuple):
    x: int
    y: int


class Tags(dict):  # type: ignore[type-arg]
    pass


class Name(str):
    __slots__ = ()


class Items(list):  # type: ignore[type-arg]
    pass


class NoCodec(pydantic.BaseModel):
    id: int


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


REFUSED: dict[str, Any] = {
    "driver-row": Row(id=1),
    "pydantic-without-codec": NoCodec(id=1),
    "enum": Status.OPEN,
    "namedtuple": Point(1, 2),
    "dict-subclass": Tags(a=1),
    "str-subclass": Name("x"),
    "list-subclass": Items([1]),
    "ordereddict": OrderedDict(a=1),
    "counter": Counter("aab"),
    "bytearray": bytearray(b"ab"),
    "nested-row": {"rows": [Row(id=1)]},
    # Types the encoder knows, values it cannot write:
    "lone-surrogate": "a\ud800b",
    "huge-int": 10**5000,
    "deep-nesting": _deep(5000),
}


class TestRefusedValues:
    """A value the remote format cannot carry: returned, never stored, counted, on every backend."""

    @pytest.mark.parametrize("value", list(REFUSED.values()), ids=list(REFUSED))
    def test_refused_the_same_way_everywhere(
        self, any_cache: Cache, value: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The caller gets its own value back; each call loads again; encode_errors counts."""
        calls = []

        @ttl_repository(ttl=30, cache=any_cache)
        def load(key: str) -> Any:
            calls.append(key)
            return value

        with caplog.at_level(logging.WARNING, logger="wa_perfkit"):
            assert load("k") is value
            assert load("k") is value
        assert len(calls) == 2
        assert load.stats().encode_errors == 2
        assert any_cache.stats().encode_errors == 2
        assert any_cache.stats().backend_errors == 0
        warnings = [r.getMessage() for r in caplog.records if r.name == "wa_perfkit"]
        assert len(warnings) == 1, warnings
        assert "load" in warnings[0] and "Codec" in warnings[0] and "dict(row)" in warnings[0]

    @pytest.mark.parametrize("value", list(REFUSED.values()), ids=list(REFUSED))
    async def test_refused_the_same_way_async(self, any_cache: Cache, value: Any) -> None:
        """The async twin: returned, loaded on each call, counted, never raised."""
        calls = []

        @ttl_repository(ttl=30, cache=any_cache)
        async def load(key: str) -> Any:
            calls.append(key)
            return value

        assert await load("k") is value
        assert await load("k") is value
        assert len(calls) == 2
        assert load.stats().encode_errors == 2

    @pytest.mark.parametrize("value", list(REFUSED.values()), ids=list(REFUSED))
    async def test_cache_set_returns_false(self, any_cache: Cache, value: Any) -> None:
        """`Cache.set` and `Cache.aset` refuse with False, never an exception, and store nothing."""
        assert any_cache.set("k", value, 30) is False
        assert await any_cache.aset("k", value, 30) is False
        assert any_cache.get("k") is MISS
        assert any_cache.stats().encode_errors == 2

    def test_waiters_of_a_refused_load_get_the_value(self, any_cache: Cache) -> None:
        """Every single-flight waiter gets the refused value, not an exception."""
        gate, started = threading.Event(), threading.Event()
        value = Point(1, 2)

        @ttl_repository(ttl=30, cache=any_cache)
        def load(key: str) -> Any:
            started.set()
            gate.wait(5)
            return value

        results: list[Any] = []
        leader = threading.Thread(target=lambda: results.append(load("k")))
        leader.start()
        started.wait(5)
        follower = threading.Thread(target=lambda: results.append(load("k")))
        follower.start()  # joins the flight, or loads by itself if it comes late: same answer
        gate.set()
        leader.join(5)
        follower.join(5)
        assert results == [value, value]

    async def test_async_waiters_of_a_refused_load_get_the_value(self, any_cache: Cache) -> None:
        """Every task sharing the load of a refused value gets it; none gets an exception."""
        gate, started = asyncio.Event(), asyncio.Event()
        value = Counter("ab")
        calls = []

        @ttl_repository(ttl=30, cache=any_cache)
        async def load(key: str) -> Any:
            calls.append(key)
            started.set()
            await gate.wait()
            return value

        tasks = [asyncio.ensure_future(load("k")) for _ in range(20)]
        await started.wait()
        gate.set()  # a task that comes late loads by itself: the same answer
        assert await asyncio.gather(*tasks) == [value] * 20
        assert load.stats().encode_errors == len(calls) >= 1

    def test_warned_once_per_function(
        self, any_cache: Cache, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Two functions returning refused values each get their own warning naming them."""

        @ttl_repository(ttl=30, cache=any_cache)
        def first_rows(key: str) -> Any:
            return Row(id=1)

        @ttl_repository(ttl=30, cache=any_cache)
        def second_rows(key: str) -> Any:
            return Row(id=2)

        with caplog.at_level(logging.WARNING, logger="wa_perfkit"):
            for _ in range(3):
                first_rows("a")
                second_rows("a")
        warnings = [r.getMessage() for r in caplog.records if r.name == "wa_perfkit"]
        assert len(warnings) == 2
        assert "first_rows" in warnings[0] and "second_rows" in warnings[1]


class TestTieredDecodeErrors:
    def test_decode_errors_read_through_tiered_are_counted(
        self, redis_url: str, redis_client: redis.Redis, namespace: str
    ) -> None:
        """A corrupt L2 entry read through tiered is a miss counted in `Cache.stats`."""
        backend = TieredBackend(MemoryBackend(), RedisBackend(redis_url))
        assert backend.wait_ready()
        cache = Cache(backend, namespace=namespace)
        try:

            @ttl_repository(ttl=30, cache=cache)
            def load(key: str) -> str:
                return key

            redis_client.set(load.cache_key("c1"), b"W1p{broken")
            assert load("c1") == "c1"
            assert cache.stats().decode_errors == 1
            assert load.stats().loads == 1
        finally:
            backend.close()


class Aliased(pydantic.BaseModel):
    account_id: int = pydantic.Field(alias="accountId")
    display: str = pydantic.Field(validation_alias="displayName", serialization_alias="name")


class Holder(pydantic.BaseModel):
    anything: Any
    inner: Account | None = None


@dataclasses.dataclass
class Computed:
    a: int
    total: int = dataclasses.field(init=False, default=0)


class TestCodecs:
    @pytest.mark.parametrize("kind", BACKENDS)
    def test_aliased_pydantic_model_hits(
        self, kind: str, request: pytest.FixtureRequest, namespace: str
    ) -> None:
        """A model with aliased fields is stored once and hit after, equal and of its type."""
        serializer = JsonSerializer(codecs=[pydantic_codec(Aliased)])
        value = Aliased.model_validate({"accountId": 7, "displayName": "x"})
        assert serializer.loads(serializer.dumps(value)) == value
        for cache in _cache_on(kind, request, namespace, serializer):

            @ttl_repository(ttl=30, cache=cache)
            def load(key: str) -> Aliased:
                return value

            assert load("k") == value
            hit = load("k")
            assert hit == value and type(hit) is Aliased
            assert load.stats().loads == 1 and cache.stats().decode_errors == 0

    def test_model_nested_under_any_comes_back_a_model_or_is_refused(self) -> None:
        """A model under an `Any` field never comes back as a dict."""
        serializer = JsonSerializer(codecs=[pydantic_codec(Holder), pydantic_codec(Account)])
        inner = Account(id=1, phone_number_id="p", balance=Decimal("1.50"), tags=[])
        value = Holder(anything=inner, inner=inner)
        try:
            out = serializer.loads(serializer.dumps(value))
        except SerializationError:
            return  # refused at store time: fine
        assert out == value and type(out.anything) is Account

    def test_model_nested_under_any_without_codec_is_refused(self) -> None:
        """A model under `Any` whose class has no codec is refused, never turned into a dict."""
        serializer = JsonSerializer(codecs=[pydantic_codec(Holder)])
        value = Holder(anything=NoCodec(id=1))
        with pytest.raises(SerializationError):
            serializer.dumps(value)

    def test_typed_nested_model_needs_no_codec_of_its_own(self) -> None:
        """A nested model in a field typed with its class round-trips with the outer codec."""
        serializer = JsonSerializer(codecs=[pydantic_codec(Holder)])
        inner = Account(id=1, phone_number_id="p", balance=Decimal("1.50"), tags=["a"])
        value = Holder(anything=[1, {"a": "b"}], inner=inner)
        out = serializer.loads(serializer.dumps(value))
        assert out == value and type(out.inner) is Account

    def test_dataclass_codec_keeps_init_false_fields(self) -> None:
        """`field(init=False)` values survive the round trip."""
        serializer = JsonSerializer(codecs=[dataclass_codec(Computed)])
        value = Computed(a=1)
        value.total = 42
        out = serializer.loads(serializer.dumps(value))
        assert out == value and out.total == 42


class TestStaleShape:
    @pytest.mark.parametrize("stored", [["a", "b"], [None, 1], [True, 1], ["1", 2]])
    def test_wrong_shape_for_stale_ttl_is_a_miss(self, stored: Any) -> None:
        """An entry written without `stale_ttl` (a two-item list) is a miss once it is on."""
        cache = Cache(MemoryBackend(), namespace="stale")

        @ttl_repository(ttl=30, cache=cache, stale_ttl=30)
        def load(key: str) -> str:
            return "fresh"

        cache.backend.set(load.cache_key("k"), stored, 30)
        assert load("k") == "fresh"
        assert load("k") == "fresh"
        assert load.stats().loads == 1


# Values a user may return, supported or not, nested anywhere.
refusable = st.sampled_from(
    [
        Status.OPEN,
        Point(1, 2),
        Tags(a=1),
        Name("x"),
        Items([1]),
        OrderedDict(a=1),
        Counter("ab"),
        bytearray(b"x"),
        Row(id=1),
        NoCodec(id=1),
        "lone \ud800 surrogate",
    ]
)
any_values = st.recursive(
    scalars | refusable,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    | st.tuples(inner, inner)
    | st.frozensets(st.integers(), max_size=3),
    max_leaves=8,
)


class TestValueProperty:
    @pytest.mark.parametrize("kind", BACKENDS)
    def test_hit_is_the_miss_or_the_value_is_refused(
        self, kind: str, request: pytest.FixtureRequest, namespace: str
    ) -> None:
        """On every backend: a hit equals the miss, same type all the way down, or it is refused.

        Refused means: returned, not stored (the next call loads again), counted in
        ``encode_errors`` — exactly when the serializer cannot encode the value, so every
        backend decides alike.
        """
        caches = _cache_on(kind, request, namespace)
        cache = next(caches)

        @settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES_OK)
        @given(value=any_values)
        def check(value: Any) -> None:
            try:
                SERIALIZER.dumps(value)
                storable = True
            except SerializationError:
                storable = False
            produced = []
            key = uuid.uuid4().hex

            @ttl_repository(ttl=30, cache=cache, cache_none=True, name=f"load-{key}")
            def load(key: str) -> Any:
                produced.append(key)
                return value

            assert load(key) is value
            hit = load(key)
            if storable:
                assert len(produced) == 1
                assert same(hit, value)
            else:
                assert hit is value and len(produced) == 2
                assert load.stats().encode_errors == 2

        try:
            check()
        finally:
            next(caches, None)  # closes the backend

    @pytest.mark.parametrize("kind", BACKENDS)
    def test_async_hit_is_the_miss_or_the_value_is_refused(
        self, kind: str, request: pytest.FixtureRequest, namespace: str
    ) -> None:
        """The async twin of the property, one event loop for the whole run."""
        loop = asyncio.new_event_loop()
        caches = _cache_on(kind, request, namespace)
        cache = next(caches)

        async def check_async(value: Any, storable: bool) -> None:
            produced = []
            key = uuid.uuid4().hex

            @ttl_repository(ttl=30, cache=cache, cache_none=True, name=f"aload-{key}")
            async def load(key: str) -> Any:
                produced.append(key)
                return value

            assert await load(key) is value
            hit = await load(key)
            if storable:
                assert len(produced) == 1 and same(hit, value)
            else:
                assert hit is value and len(produced) == 2
                assert load.stats().encode_errors == 2

        @settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES_OK)
        @given(value=any_values)
        def check(value: Any) -> None:
            try:
                SERIALIZER.dumps(value)
                storable = True
            except SerializationError:
                storable = False
            loop.run_until_complete(check_async(value, storable))

        try:
            check()
        finally:
            loop.run_until_complete(cache.aclose())
            next(caches, None)  # closes the backend
            loop.close()
