"""
The contenders of ``benchmarks/run.py``: ours and each peer, built the way
their docs show, each a decorated one-string-argument function.

Every builder returns ``{name: callable}`` and leaves out a peer that is not
installed (the ``dev`` extra does not include them; ``bench`` does), noting
why in `SKIPPED`. Peers are imported lazily so that a missing or broken one
costs only its own row.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import threading
from collections.abc import Callable
from typing import Any

import cachetools

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository

TTL = 3600
#: peer name -> why it is missing from the tables.
SKIPPED: dict[str, str] = {}


def peer(module: str) -> Any:
    """
    Import a peer module, or return None and note why in `SKIPPED`.
    """
    try:
        return importlib.import_module(module)
    except Exception as exc:  # a broken peer (ImportError or worse) costs its row only
        SKIPPED[module] = f"{type(exc).__name__}: {exc}"
        return None


def ours_memory(
    value: Any, *, maxsize: int = 10_000
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """
    Return (sync, async) `ttl_repository` functions on one `MemoryBackend`.
    """
    cache = Cache(MemoryBackend(maxsize=maxsize), namespace="bench")

    @ttl_repository(ttl=TTL, cache=cache)
    def get_row(row_id: str) -> Any:
        return value

    @ttl_repository(ttl=TTL, cache=cache)
    async def aget_row(row_id: str) -> Any:
        return value

    return get_row, aget_row


def memory_sync(value: Any) -> dict[str, Callable[[str], Any]]:
    """
    Sync contenders for the memory hit: plain call, lru_cache, cachetools, ours, dogpile.
    """

    def plain(row_id: str) -> Any:
        return value

    @functools.lru_cache(maxsize=10_000)
    def lru(row_id: str) -> Any:
        return value

    @cachetools.cached(cachetools.TTLCache(maxsize=10_000, ttl=TTL), lock=threading.Lock())
    def cachetools_ttl(row_id: str) -> Any:
        return value

    ours, _ = ours_memory(value)
    found: dict[str, Callable[[str], Any]] = {
        "plain call (no cache)": plain,
        "functools.lru_cache": lru,
        "cachetools.cached(TTLCache, lock)": cachetools_ttl,
        "wa_perfkit ttl_repository": ours,
    }
    dogpile = peer("dogpile.cache")
    if dogpile is not None:
        region = dogpile.make_region().configure("dogpile.cache.memory", expiration_time=TTL)

        @region.cache_on_arguments()
        def dogpile_memory(row_id: str) -> Any:
            return value

        found["dogpile.cache memory"] = dogpile_memory
    return found


def memory_async(value: Any) -> dict[str, Callable[[str], Any]]:
    """
    Async contenders for the memory hit (build inside the loop that will run them).
    """

    async def plain(row_id: str) -> Any:
        return value

    _, ours = ours_memory(value)
    found: dict[str, Callable[[str], Any]] = {"plain async call (no cache)": plain}
    async_lru = peer("async_lru")
    if async_lru is not None:

        @async_lru.alru_cache(maxsize=10_000, ttl=TTL)
        async def alru(row_id: str) -> Any:
            return value

        found["async-lru alru_cache(ttl)"] = alru
    found["wa_perfkit ttl_repository"] = ours
    cashews = peer("cashews")
    if cashews is not None:
        cache = cashews.Cache()
        cache.setup("mem://")

        @cache(ttl=TTL)
        async def cashews_mem(row_id: str) -> Any:
            return value

        found["cashews mem://"] = cashews_mem
    aiocache = peer("aiocache")
    if aiocache is not None:

        @aiocache.cached(ttl=TTL)
        async def aiocache_mem(row_id: str) -> Any:
            return value

        found["aiocache @cached memory"] = aiocache_mem
    fastapi_cache = fastapi_cache_init("memory")
    if fastapi_cache is not None:

        @fastapi_cache.decorator.cache(expire=TTL)
        async def fastapi_mem(row_id: str) -> dict[str, Any]:
            return value  # type: ignore[no-any-return]

        found["fastapi-cache2 InMemoryBackend"] = fastapi_mem
    return found


def fastapi_cache_init(kind: str, url: str | None = None) -> Any:
    """
    Point fastapi-cache2's global `FastAPICache` at a memory or Redis backend.

    fastapi-cache2 keeps one backend per process, so the memory and the Redis
    runs re-initialise it. Called outside a request its ``@cache`` still
    caches (the request is None, which it treats as cacheable).
    """
    module = peer("fastapi_cache")
    if module is None or peer("fastapi_cache.decorator") is None:
        return None
    if kind == "memory":
        backend = importlib.import_module("fastapi_cache.backends.inmemory").InMemoryBackend()
    else:
        from redis import asyncio as aioredis

        backend = importlib.import_module("fastapi_cache.backends.redis").RedisBackend(
            aioredis.from_url(url)
        )
    module.FastAPICache.reset()
    module.FastAPICache.init(backend, prefix=f"bench-{kind}")
    return module


# -- stampede contenders: make(body) -> decorated function of one string ---------


def stampede_ours_async(cache: Cache) -> Any:
    def make(body: Any) -> Any:
        @ttl_repository(ttl=TTL, cache=cache)
        async def load(row_id: str) -> Any:
            return await body()

        return load

    return make


def stampede_ours_sync(cache: Cache) -> Any:
    def make(body: Any) -> Any:
        @ttl_repository(ttl=TTL, cache=cache)
        def load(row_id: str) -> Any:
            return body()

        return load

    return make


def stampede_aiocache(**options: Any) -> Any:
    aiocache = peer("aiocache")
    if aiocache is None:
        return None

    def make(body: Any) -> Any:
        @aiocache.cached(ttl=TTL, **options)
        async def load(row_id: str) -> Any:
            return await body()

        return load

    return make


def stampede_floor_async(body: Any) -> Any:
    """The least any dedupe can do: one shared task per key, no cache, no key building."""
    tasks: dict[str, Any] = {}

    async def load(row_id: str) -> Any:
        task = tasks.get(row_id)
        if task is None:
            task = tasks[row_id] = asyncio.ensure_future(body())
        return await task

    return load


def stampede_cachetools(body: Any) -> Any:
    @cachetools.cached(cachetools.TTLCache(maxsize=100, ttl=TTL), lock=threading.Lock())
    def load(row_id: str) -> Any:
        return body()

    return load


def stampede_dogpile(backend: str, **arguments: Any) -> Any:
    dogpile = peer("dogpile.cache")
    if dogpile is None:
        return None

    def make(body: Any) -> Any:
        region = dogpile.make_region().configure(
            backend, expiration_time=TTL, arguments=arguments
        )

        @region.cache_on_arguments()
        def load(row_id: str) -> Any:
            return body()

        return load

    return make
