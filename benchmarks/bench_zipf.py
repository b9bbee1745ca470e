"""
Memory eviction on a skewed workload: hit ratios and hit cost.

Replays one seeded Zipf trace (a few keys very hot, a long cold tail) through
`MemoryBackend` with ``eviction="fifo"`` (the default) and ``eviction="lru"``
and through cachetools' ``LRUCache`` and ``LFUCache`` at the same ``maxsize``:
each request is a read, and a miss stores the key. Then times one memory hit
of each eviction policy, raw and through ``ttl_repository``, and the store
path of a `Cache` on memory (which encodes once to refuse what Redis could
not carry).

    python benchmarks/bench_zipf.py                 # print the markdown
    python benchmarks/bench_zipf.py --write docs/benchmarks.md
    python benchmarks/bench_zipf.py --quick         # a few seconds

Bounded: a fixed number of requests and timing loops; no services.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import re
import sys
import timeit
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import cachetools

from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.repository import ttl_repository

SECTION = "## Memory eviction (Zipf)"
UNIVERSE = 100_000
TTL = 3600.0


def zipf_trace(requests: int, exponent: float, seed: int = 7) -> list[int]:
    """
    Return ``requests`` key ids drawn from a Zipf(``exponent``) law over `UNIVERSE` keys.
    """
    weights = [1.0 / (rank**exponent) for rank in range(1, UNIVERSE + 1)]
    cumulative = list(itertools.accumulate(weights))
    ids = list(range(UNIVERSE))
    random.Random(seed).shuffle(ids)  # hot keys are not the first-written ones
    return random.Random(seed + 1).choices(ids, cum_weights=cumulative, k=requests)


def ratio_ours(trace: Sequence[int], maxsize: int, eviction: str) -> float:
    """
    Hit ratio of `MemoryBackend` replaying ``trace`` (a miss stores the key).
    """
    backend = MemoryBackend(maxsize=maxsize, eviction=eviction)  # type: ignore[arg-type]
    get, put, hits = backend.get, backend.set, 0
    for key in trace:
        name = str(key)
        if get(name) is MISS:
            put(name, key, TTL)
        else:
            hits += 1
    return hits / len(trace)


def ratio_cachetools(trace: Sequence[int], cache: cachetools.Cache[str, int]) -> float:
    """
    Hit ratio of a cachetools cache replaying ``trace``.
    """
    hits = 0
    for key in trace:
        name = str(key)
        try:
            cache[name]
        except KeyError:
            cache[name] = key
        else:
            hits += 1
    return hits / len(trace)


def hit_ratios(requests: int, sizes: Sequence[int], exponents: Sequence[float]) -> str:
    """
    The hit-ratio table: one row per (exponent, maxsize), one column per policy.
    """
    rows = []
    for exponent in exponents:
        trace = zipf_trace(requests, exponent)
        for maxsize in sizes:
            cells = [
                ratio_ours(trace, maxsize, "fifo"),
                ratio_ours(trace, maxsize, "lru"),
                ratio_cachetools(trace, cachetools.LRUCache(maxsize)),
                ratio_cachetools(trace, cachetools.LFUCache(maxsize)),
            ]
            rows.append(
                f"| {exponent} | {maxsize:,} | "
                + " | ".join(f"{100 * c:.1f} %" for c in cells)
                + " |"
            )
    header = (
        "| Zipf s | maxsize | ours fifo (default) | ours lru | cachetools LRU | cachetools LFU |\n"
        "|---|---|---|---|---|---|"
    )
    return header + "\n" + "\n".join(rows)


def hit_costs(number: int, repeat: int) -> str:
    """
    ns per memory hit (raw backend and decorated function) and per store, interleaved.

    Every round times each contender once, in turn, and the best round counts:
    on a shared machine the quiet moments are the measurement.
    """
    row = {f"f{i}": i for i in range(20)}
    stmts: dict[str, Callable[[], Any]] = {}
    for eviction in ("fifo", "lru"):
        backend = MemoryBackend(maxsize=10_000, eviction=eviction)
        cache = Cache(backend, namespace="bench")

        @ttl_repository(ttl=TTL, cache=cache, name=f"lookup-{eviction}")
        def lookup(key: str) -> dict[str, int]:
            return row

        backend.set("k", row, TTL)
        lookup("c1")
        stmts[f"{eviction} get"] = partial(backend.get, "k")
        stmts[f"{eviction} hit"] = partial(lookup, "c1")
        stmts[f"{eviction} bset"] = partial(backend.set, "s", row, TTL)
        stmts[f"{eviction} cset"] = partial(cache.set, "s", row, TTL)
    best = dict.fromkeys(stmts, float("inf"))
    for _ in range(repeat):
        for name, stmt in stmts.items():
            n = number if name.endswith(("get", "hit")) else number // 10
            best[name] = min(best[name], timeit.timeit(stmt, number=n) / n * 1e9)
    rows = [
        f"| {ev} | {best[ev + ' get']:.0f} | {best[ev + ' hit']:.0f} "
        f"| {best[ev + ' bset']:.0f} | {best[ev + ' cset']:.0f} |"
        for ev in ("fifo", "lru")
    ]
    header = (
        "| eviction | ns per `backend.get` hit | ns per decorated hit "
        "| ns per `backend.set` | ns per `Cache.set` (with the store-time encode check) |\n"
        "|---|---|---|---|---|"
    )
    return header + "\n" + "\n".join(rows)


def render(requests: int, number: int, repeat: int) -> str:
    """
    The markdown section.
    """
    ratios = hit_ratios(requests, (1_000, 10_000), (0.8, 1.0, 1.2))
    costs = hit_costs(number, repeat)
    return f"""{SECTION}

`benchmarks/bench_zipf.py`: one seeded Zipf trace of {requests:,} reads over
{UNIVERSE:,} keys (a miss stores the key), replayed through each policy at the
same `maxsize`. Python {platform.python_version()}, cachetools {cachetools.__version__}.

{ratios}

Hit cost (best of {repeat} interleaved rounds of {number:,} calls; a 20-field dict
value; absolute numbers depend on the machine's load, compare within a row):

{costs}

Reading it: on a skewed workload FIFO evicts hot keys as readily as cold ones;
`MemoryBackend(eviction="lru")` recovers 1.5–4 points of hit ratio, exactly what
cachetools' `LRUCache` (the same policy) gets, while its reads stay lock-free
(one `move_to_end` per hit). LFU does better again on this *static*
distribution (4–10 points over LRU when `maxsize` is 1 % of the keys): when
popularity never changes, frequency is the right signal. It is not offered:
an LFU read must count the access under a lock (as cachetools' `LFUCache`
does), and it adapts slowly when popularity shifts (yesterday's hot
conversation). The default stays `"fifo"`: its hit is the cheapest, and for
TTL-bound entries that mostly expire before they are evicted the write order
is the expiry order, so the policies differ only when `maxsize` is smaller
than the working set — then choose `"lru"`. A store on memory pays one encode
(the check that the value could live in Redis too: compare `backend.set`
with `Cache.set`); a hit never does.
"""


def merge_text(text: str, section: str) -> str:
    """
    Replace this section of ``text``, or append it.
    """
    if SECTION not in text:
        return text.rstrip("\n") + "\n\n" + section
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    return pattern.sub(lambda _: section + "\n", text, count=1)


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the benchmark; print the markdown or merge it into ``--write``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--write", type=Path, help="merge the section into this markdown file")
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        section = render(requests=20_000, number=2_000, repeat=2)
    else:
        section = render(requests=500_000, number=200_000, repeat=5)
    if args.write:
        args.write.write_text(merge_text(args.write.read_text(encoding="utf-8"), section))
    else:
        sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
