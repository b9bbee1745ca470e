"""
Faithful round trips and corrupt entries, on memory and on real Redis.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import uuid
from decimal import Decimal
from typing import Any

import pydantic
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.services import unavailable
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError, SerializationError
from wa_perfkit.repository import ttl_repository
from wa_perfkit.serialization import JsonSerializer, dataclass_codec, pydantic_codec


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
