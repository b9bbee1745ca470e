"""
Many instances: tiered vs memory vs Redis hits, Redis-down cost, invalidation latency.

Usage: python benchmarks/bench_many.py [REDIS_URL]   (default redis://127.0.0.1:6379/0)
Bounded: well under 90 s. Starts one throwaway redis-server (SIGSTOP case) if on PATH.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

from wa_perfkit.backends.breaker import CircuitBreaker
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository


def per_call(fn: Callable[[], object], n: int = 50_000, rounds: int = 5) -> float:
    """Best-of-rounds seconds per call."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n)
    return best


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def hit_costs(url: str) -> dict[str, float]:
    ns = "bench" + uuid.uuid4().hex[:8]
    backends = {
        "memory": MemoryBackend(),
        "tiered": TieredBackend(MemoryBackend(), RedisBackend(url)),
        "redis": RedisBackend(url),
    }
    out = {}
    for name, backend in backends.items():
        if isinstance(backend, TieredBackend):
            backend.wait_ready()
        cache = Cache(backend, namespace=ns + name)

        @ttl_repository(ttl=60, cache=cache)
        def get_conversation(cid: str) -> dict[str, object]:
            return {"id": cid, "messages": [1, 2, 3], "title": "hello"}

        get_conversation("c1")
        time.sleep(0.05)
        n = 2_000 if name == "redis" else 50_000
        out[name] = per_call(lambda: get_conversation("c1"), n=n)
        cache.clear() if name != "memory" else None
        cache.close()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def down_costs() -> dict[str, float]:
    """Added p99 per call with Redis dead (refused) and hung (SIGSTOP), breaker closed vs open."""
    out: dict[str, float] = {}
    binary = shutil.which("redis-server")
    for mode in ("dead", "hung"):
        proc = None
        port = free_port()
        workdir = tempfile.mkdtemp()
        if mode == "hung":
            if binary is None:
                continue
            proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--dir", workdir],
                                    stdout=subprocess.DEVNULL)
            time.sleep(0.3)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            for state in ("closed", "open"):
                threshold = 10**9 if state == "closed" else 3
                backend = RedisBackend(url, breaker=CircuitBreaker(
                    "bench", failure_threshold=threshold, reset_timeout=3600))
                cache = Cache(backend, namespace="benchdown")

                @ttl_repository(ttl=60, cache=cache)
                def load(x: int) -> int:
                    return x

                baseline = [0.0]
                if proc is not None:
                    load(0)  # connect while alive
                    proc.send_signal(signal.SIGSTOP)
                for _ in range(5):
                    load(1)  # opens the breaker when allowed to
                samples = []
                for i in range(30 if state == "closed" else 20_000):
                    started = time.perf_counter()
                    load(i)
                    samples.append(time.perf_counter() - started - baseline[0])
                out[f"{mode}/{state}"] = pct(samples, 0.99)
                if proc is not None:
                    proc.send_signal(signal.SIGCONT)
                cache.close()
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def invalidation(url: str, trials: int = 200) -> tuple[float, float]:
    ns = "benchinv" + uuid.uuid4().hex[:8]
    a_backend = TieredBackend(MemoryBackend(), RedisBackend(url))
    b_backend = TieredBackend(MemoryBackend(), RedisBackend(url))
    a, b = Cache(a_backend, namespace=ns), Cache(b_backend, namespace=ns)
    a_backend.wait_ready()
    b_backend.wait_ready()
    latencies = []
    for i in range(trials):
        a.set("k", i - 1, 60)
        time.sleep(0.002)
        while b.get("k") != i - 1:
            pass
        started = time.perf_counter()
        a.set("k", i, 60)
        while b.get("k") != i:
            pass
        latencies.append(time.perf_counter() - started)
    a.clear()
    a.close()
    b.close()
    return pct(latencies, 0.5), pct(latencies, 0.99)


def invalidation_cost(url: str, trials: int = 300) -> dict[str, tuple[float, float]]:
    """
    p50 and p99 seconds of ``Cache.delete`` by who else listens to the namespace.

    The delete returns once every subscribed tiered instance confirmed it.
    """
    results: dict[str, tuple[float, float]] = {}
    ns = "benchdel" + uuid.uuid4().hex[:8]
    plain = Cache(RedisBackend(url), namespace=ns)
    tiered = [TieredBackend(MemoryBackend(), RedisBackend(url)) for _ in range(3)]
    for listeners in range(len(tiered) + 1):
        for backend in tiered[:listeners]:
            Cache(backend, namespace=ns)  # subscribes the instance to the namespace
            backend.wait_ready()
        latencies = []
        for i in range(trials):
            plain.set("k", i, 60)
            started = time.perf_counter()
            plain.delete("k")
            latencies.append(time.perf_counter() - started)
        results[f"{listeners} tiered instance(s)"] = pct(latencies, 0.5), pct(latencies, 0.99)
    plain.close()
    for backend in tiered:
        backend.close()
    return results


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"
    started = time.monotonic()
    hits = hit_costs(url)
    print("hit cost per decorated sync call:")
    for name, seconds in hits.items():
        print(f"  {name:7s} {seconds * 1e6:8.2f} µs")
    print(f"  tiered/memory = {hits['tiered'] / hits['memory']:.2f}x (target <= 1.2x); "
          f"redis/tiered = {hits['redis'] / hits['tiered']:.1f}x (target >= 10x)")
    p50, p99 = invalidation(url)
    print(f"cross-instance invalidation: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms "
          "(target p99 <= 100 ms)")
    for listeners, (p50, p99) in invalidation_cost(url).items():
        print(f"a plain-Redis worker's Cache.delete, {listeners} listening: "
              f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    for case, seconds in down_costs().items():
        print(f"redis {case:12s} added p99 per call: {seconds * 1000:8.3f} ms")
    print(f"(total {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
