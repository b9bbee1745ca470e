"""
Instance B of the invalidation test: reads one key in a loop, prints each change with its time.

Usage: python -m tests.many._reader URL NAMESPACE KEY
"""

from __future__ import annotations

import sys
import time

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache


def main() -> None:
    url, namespace, key = sys.argv[1:4]
    backend = TieredBackend(MemoryBackend(), RedisBackend(url), l1_ttl=60)
    cache = Cache(backend, namespace=namespace)
    backend.wait_ready()
    print("ready", flush=True)
    last: object = object()
    try:
        while True:
            value = cache.get(key, None)
            if value != last:
                print(f"{value} {time.monotonic()} {backend.stats()['l2_reads']}", flush=True)
                last = value
            time.sleep(0.0002)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        cache.close()


if __name__ == "__main__":
    main()
