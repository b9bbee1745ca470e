"""
RedisBackend against real servers: round trips per hit, faults, pool limits.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import redis

from tests.services import SERVER_KINDS, RedisServer
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository

ROW = {"id": "c1", "account_id": "a1", "contact": "+33612345678", "unread": 3, "tags": ["vip"]}


def commandstats(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT (INFO/CONFIG themselves excluded)."""
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return {k: v for k, v in calls.items() if k not in {"info", "config|resetstat", "config"}}


# Each test on a throwaway redis-server, then on a throwaway valkey-server.
on_each_server = pytest.mark.parametrize("redis_server", SERVER_KINDS, indirect=True)


@on_each_server
class TestRoundTrips:
    def test_one_command_per_sync_hit(self, redis_server: RedisServer) -> None:
        """100 sync hits of a decorated function cost exactly 100 GETs and nothing else."""
        backend = RedisBackend(redis_server.url)
        cache = Cache(backend, namespace="rt")

        @ttl_repository(ttl=60, cache=cache)
        def get_conversation(cid: str) -> dict[str, object]:
            return dict(ROW, id=cid)

        get_conversation("c1")  # miss + store, connection set-up
        admin = redis.Redis.from_url(redis_server.url)
        admin.config_resetstat()
        for _ in range(100):
            assert get_conversation("c1")["id"] == "c1"
        assert commandstats(admin) == {"get": 100}
        admin.close()
        backend.close()

    async def test_one_command_per_async_hit(self, redis_server: RedisServer) -> None:
        """100 asyncio hits cost exactly 100 GETs."""
        backend = RedisBackend(redis_server.url)
        cache = Cache(backend, namespace="rt")

        @ttl_repository(ttl=60, cache=cache)
        async def get_conversation(cid: str) -> dict[str, object]:
            return dict(ROW, id=cid)

        await get_conversation("c1")
        admin = redis.Redis.from_url(redis_server.url)
        admin.config_resetstat()
        for _ in range(100):
            assert (await get_conversation("c1"))["id"] == "c1"
        assert commandstats(admin) == {"get": 100}
        admin.close()
        await backend.aclose()

    async def test_500_tasks_no_connection_errors(self, redis_server: RedisServer) -> None:
        """500 concurrent hits share a bounded pool: nobody sees "Too many connections"."""
        backend = RedisBackend(redis_server.url, max_connections=20)
        cache = Cache(backend, namespace="pool")
        await cache.aset("k", ROW, 60)
        results = await asyncio.gather(*(cache.aget("k") for _ in range(500)))
        assert all(r == ROW for r in results)
        assert cache.stats().backend_errors == 0
        await backend.aclose()


    async def test_concurrent_reads_of_one_key_share_one_get(
        self, redis_server: RedisServer
    ) -> None:
        """500 tasks reading one cold key send one GET and run the loader once."""
        backend = RedisBackend(redis_server.url)
        cache = Cache(backend, namespace="herd")
        runs = 0

        @ttl_repository(ttl=60, cache=cache)
        async def load(cid: str) -> dict[str, object]:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.05)
            return dict(ROW, id=cid)

        await cache.aget("warm-up")  # connection set-up outside the count
        admin = redis.Redis.from_url(redis_server.url)
        admin.config_resetstat()
        results = await asyncio.gather(*(load("c1") for _ in range(500)))
        assert runs == 1 and all(r["id"] == "c1" for r in results)
        stats = commandstats(admin)
        assert stats["get"] <= 3, stats  # the herd's read, plus at most a re-check
        admin.close()
        await backend.aclose()


class TestFaults:
    @on_each_server
    def test_dead_server_is_a_miss(self, redis_server: RedisServer) -> None:
        """With the server killed, reads are misses and the loader answers; nothing raises."""
        backend = RedisBackend(redis_server.url)
        cache = Cache(backend, namespace="dead")
        calls = 0

        @ttl_repository(ttl=60, cache=cache)
        def load(cid: str) -> str:
            nonlocal calls
            calls += 1
            return cid

        assert load("c") == "c"
        redis_server.kill()
        for _ in range(10):
            assert load("c") == "c"
        assert calls == 11
        assert cache.stats().backend_errors >= 1
        assert cache.get("c") is MISS and cache.set("c", 1, 10) is False
        assert cache.delete("c") is False
        backend.close()

    def test_not_json_for_raw_clients(self, server_url: str, namespace: str) -> None:
        """Stored entries are a readable JSON envelope, not pickle."""
        cache = Cache(RedisBackend(server_url), namespace=namespace)
        cache.set("k", ROW, 10)
        raw = redis.Redis.from_url(server_url).get(cache.full_key("k"))
        assert raw is not None and raw.startswith(b"W1p")
        assert json.loads(raw[3:]) == ROW


class TestSecrets:
    def test_password_never_in_repr_or_breaker_name(self) -> None:
        """A Redis URL's password is masked wherever the backend names itself."""
        backend = RedisBackend("redis://app:s3cret@127.0.0.1:6379/0")
        assert "s3cret" not in repr(backend) and "s3cret" not in backend.breaker.name
        assert "app:***@127.0.0.1:6379" in repr(backend)
