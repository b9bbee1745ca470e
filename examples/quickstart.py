"""
Quickstart: one real miss, then real hits, with their measured timings.

    python examples/quickstart.py                     # in-process memory backend
    python examples/quickstart.py --redis redis://127.0.0.1:6379/0

The "database" is a function that sleeps 80 ms, the order of a remote
Supabase round trip; every figure printed is measured in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from wa_perfkit import Cache, MemoryBackend, ttl_repository


def build_cache(redis_url: str | None) -> Cache:
    """Memory by default; Redis when a URL is given (needs the ``redis`` extra)."""
    if redis_url is None:
        return Cache(MemoryBackend(maxsize=10_000), namespace="quickstart")
    from wa_perfkit import RedisBackend

    # A fresh version per run, so the first call is a real miss even on a shared Redis.
    return Cache(RedisBackend(redis_url), namespace="quickstart", version=uuid.uuid4().hex[:8])


async def main(redis_url: str | None, hits: int) -> dict[str, Any]:
    """Run one miss and ``hits`` hits; return the measured timings."""
    cache = build_cache(redis_url)

    @ttl_repository(ttl=60, cache=cache)
    async def get_conversation(conversation_id: str) -> dict[str, Any]:
        await asyncio.sleep(0.080)  # stands in for the database round trip
        return {"id": conversation_id, "contact": "+33 6 12 34 56 78", "unread": 3}

    started = time.perf_counter()
    first = await get_conversation("c1")
    miss_ms = (time.perf_counter() - started) * 1000

    timings = []
    for _ in range(hits):
        started = time.perf_counter()
        again = await get_conversation("c1")
        timings.append((time.perf_counter() - started) * 1e6)
    assert again == first
    timings.sort()
    stats = get_conversation.stats()
    await cache.aclear()  # leave nothing behind in a shared Redis
    await cache.aclose()
    return {
        "backend": type(cache.backend).__name__,
        "miss_ms": miss_ms,
        "hit_p50_us": timings[len(timings) // 2],
        "hit_p95_us": timings[int(len(timings) * 0.95)],
        "hits": stats.hits,
        "loads": stats.loads,
    }


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--redis", metavar="URL", help="use Redis at URL instead of memory")
    parser.add_argument("--hits", type=int, default=1000, help="number of hits to time")
    args = parser.parse_args(argv)
    result = asyncio.run(main(args.redis, max(1, min(args.hits, 100_000))))
    print(f"backend     {result['backend']}")
    print(f"miss        {result['miss_ms']:9.2f} ms   (the loader ran: {result['loads']} load)")
    print(f"hit p50     {result['hit_p50_us']:9.2f} µs")
    print(f"hit p95     {result['hit_p95_us']:9.2f} µs   ({result['hits']} hits, no loader call)")
    print(f"speed-up    {result['miss_ms'] * 1000 / result['hit_p50_us']:9.0f}×  (miss / hit p50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
