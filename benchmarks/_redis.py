"""
Redis for ``benchmarks/run.py``: a throwaway server, command counting, contenders.

Everything runs against a ``redis-server`` started here on a free loopback
port with persistence off, and killed in a ``finally``; the shared server on
6379 is never touched (so nothing here ever needs FLUSHALL).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import redis
from _peers import TTL, fastapi_cache_init, peer
from redis import asyncio as aioredis

from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def throwaway_redis() -> Iterator[tuple[str, str]]:
    """
    Start ``redis-server`` on a free loopback port; yield (url, version); always kill it.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH (Debian: apt install redis-server)")
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="wa-perfkit-bench-redis-")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir, "--maxclients", "2000"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {port} did not start") from None
                time.sleep(0.05)
        version = str(client.info("server")["redis_version"])
        client.close()
        yield url, version
    finally:
        process.kill()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def command_counts(control: redis.Redis) -> Counter[str]:
    """
    Return calls per command from ``INFO commandstats`` (the INFO itself left out).
    """
    stats = control.info("commandstats")
    counts: Counter[str] = Counter()
    for name, fields in stats.items():
        command = name.removeprefix("cmdstat_")
        if command != "info":
            counts[command] = int(fields["calls"])
    return counts


def per_hit(before: Counter[str], after: Counter[str], hits: int) -> tuple[float, str]:
    """
    Return (commands per hit, ``"get 1.00, ttl 1.00"``) from two `command_counts`.
    """
    delta = {cmd: after[cmd] - before.get(cmd, 0) for cmd in after}
    delta = {cmd: n for cmd, n in delta.items() if n > 0}
    detail = ", ".join(f"{cmd} {n / hits:.2f}" for cmd, n in sorted(delta.items()))
    return sum(delta.values()) / hits, detail or "none"


def redis_sync(url: str, row: dict[str, Any]) -> tuple[dict[str, Callable[[str], Any]], list[Any]]:
    """
    Sync Redis contenders, warmed; returns them and the objects to close.
    """
    client = redis.Redis.from_url(url)
    client.set("bench-raw:row", json.dumps(row).encode())

    def raw(row_id: str) -> Any:
        return json.loads(client.get("bench-raw:row"))  # type: ignore[arg-type]

    # What wa_perfkit's RedisBackend uses: a blocking pool (waits instead of failing).
    blocking = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url))

    def raw_blocking(row_id: str) -> Any:
        return json.loads(blocking.get("bench-raw:row"))  # type: ignore[arg-type]

    backend = RedisBackend(url)
    cache = Cache(backend, namespace="bench")

    @ttl_repository(ttl=TTL, cache=cache)
    def ours(row_id: str) -> Any:
        return row

    found: dict[str, Callable[[str], Any]] = {
        "raw redis-py GET + json.loads": raw,
        "raw, on a BlockingConnectionPool": raw_blocking,
        "wa_perfkit ttl_repository": ours,
    }
    dogpile = peer("dogpile.cache")
    if dogpile is not None:
        region = dogpile.make_region().configure(
            "dogpile.cache.redis", expiration_time=TTL,
            arguments={"url": url, "redis_expiration_time": TTL * 2},
        )

        @region.cache_on_arguments()
        def dogpile_redis(row_id: str) -> Any:
            return row

        found["dogpile.cache redis"] = dogpile_redis
    for func in found.values():
        func("row-1")
    return found, [client, blocking, backend]


async def redis_async(
    url: str, row: dict[str, Any]
) -> tuple[dict[str, Callable[[str], Awaitable[Any]]], list[Any]]:
    """
    Async Redis contenders (built in the running loop), warmed; and the objects to close.
    """
    client = aioredis.from_url(url)
    await client.set("bench-raw:row", json.dumps(row).encode())

    async def raw(row_id: str) -> Any:
        return json.loads(await client.get("bench-raw:row"))  # type: ignore[arg-type]

    blocking = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(url))

    async def raw_blocking(row_id: str) -> Any:
        return json.loads(await blocking.get("bench-raw:row"))  # type: ignore[arg-type]

    backend = RedisBackend(url)
    cache = Cache(backend, namespace="bench")

    @ttl_repository(ttl=TTL, cache=cache)
    async def ours(row_id: str) -> Any:
        return row

    found: dict[str, Callable[[str], Awaitable[Any]]] = {
        "raw redis.asyncio GET + json.loads": raw,
        "raw, on a BlockingConnectionPool": raw_blocking,
        "wa_perfkit ttl_repository": ours,
    }
    closers: list[Any] = [client, blocking, backend]
    cashews = peer("cashews")
    if cashews is not None:
        cashews_cache = cashews.Cache()
        cashews_cache.setup(url)

        @cashews_cache(ttl=TTL)
        async def cashews_redis(row_id: str) -> Any:
            return row

        found["cashews redis"] = cashews_redis
        closers.append(cashews_cache)
    aiocache = peer("aiocache")
    if aiocache is not None:
        host, port = url.removeprefix("redis://").split("/")[0].split(":")

        @aiocache.cached(ttl=TTL, cache=aiocache.Cache.REDIS, endpoint=host, port=int(port))
        async def aiocache_redis(row_id: str) -> Any:
            return row

        found["aiocache RedisCache"] = aiocache_redis
    fastapi_cache = fastapi_cache_init("redis", url)
    if fastapi_cache is not None:

        @fastapi_cache.decorator.cache(expire=TTL)
        async def fastapi_redis(row_id: str) -> dict[str, Any]:
            return row

        found["fastapi-cache2 RedisBackend"] = fastapi_redis
    for func in found.values():
        await func("row-1")
    return found, closers


def close_sync(objects: list[Any]) -> None:
    """
    Close sync clients and backends, ignoring what has no ``close``.
    """
    for obj in objects:
        with contextlib.suppress(Exception):
            obj.close()


async def close_async(objects: list[Any]) -> None:
    """
    Close asyncio clients, backends and cashews caches.
    """
    for obj in objects:
        with contextlib.suppress(Exception):
            closer = getattr(obj, "aclose", None) or getattr(obj, "close", None)
            if closer is not None:
                result = closer()
                if hasattr(result, "__await__"):
                    await result
