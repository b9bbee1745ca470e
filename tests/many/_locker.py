"""
One process of the lock test: N concurrent callers on one cold key with lock=True.

Usage: python -m tests.many._locker URL NAMESPACE MODE CALLERS START LOAD_SECONDS LOCK_TTL
MODE is "async" (tasks) or "sync" (threads). Every loader run INCRs NAMESPACE:runs and
prints "loading". Prints "done <distinct results>" at the end.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import redis

from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository


def main() -> None:
    url, namespace, mode = sys.argv[1:4]
    callers, start = int(sys.argv[4]), float(sys.argv[5])
    load_seconds, lock_ttl = float(sys.argv[6]), float(sys.argv[7])
    cluster = url.endswith("#cluster")
    url = url.removesuffix("#cluster")
    counter = (redis.RedisCluster if cluster else redis.Redis).from_url(url)
    cache = Cache(RedisBackend(url, cluster=cluster), namespace=namespace)

    def loaded() -> dict[str, str]:
        counter.incr(f"{namespace}:runs")
        print(f"loading {time.monotonic()}", flush=True)
        return {"v": "loaded"}

    if mode == "async":

        @ttl_repository(ttl=60, cache=cache, lock=True, lock_ttl=lock_ttl)
        async def fetch(key: str) -> dict[str, str]:
            await asyncio.sleep(load_seconds)
            return loaded()

        async def run() -> list[object]:
            await asyncio.sleep(max(0.0, start - time.time()))
            results = await asyncio.gather(*(fetch("cold") for _ in range(callers)))
            await cache.aclose()
            return list(results)

        results = asyncio.run(run())
    else:

        @ttl_repository(ttl=60, cache=cache, lock=True, lock_ttl=lock_ttl)
        def fetch(key: str) -> dict[str, str]:  # type: ignore[misc]  # same qualname as the async one, on purpose
            time.sleep(load_seconds)
            return loaded()

        results = []

        def call() -> None:
            time.sleep(max(0.0, start - time.time()))
            results.append(fetch("cold"))

        threads = [threading.Thread(target=call) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    distinct = {str(r) for r in results}
    print(f"stats {cache.stats()}", file=sys.stderr, flush=True)
    print(f"done {len(results)} {len(distinct)}", flush=True)
    cache.close()
    counter.close()


if __name__ == "__main__":
    main()
