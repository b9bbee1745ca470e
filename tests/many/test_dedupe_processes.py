"""
`wa_perfkit.whatsapp.dedupe` across processes: eight workers on one Redis accept each id once.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
from collections import Counter

import pytest

from tests.many import _dedupe_worker


class TestDedupeProcesses:
    @pytest.mark.slow
    def test_eight_processes_exactly_once(self, redis_url: str, namespace: str) -> None:
        """8 processes x 1,000 deliveries with 30% duplicates: each id accepted exactly once."""
        plan, unique = _delivery_plan(namespace, workers=8, per_worker=1000, hot=100, seed=8)
        assert sum(map(len, plan)) == 8000 and len(unique) == 5600  # 2,400 duplicates = 30%
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(len(plan)), ctx.Queue()
        procs = [
            ctx.Process(
                target=_dedupe_worker.run, args=(redis_url, namespace, ids, barrier, results)
            )
            for ids in plan
        ]
        for p in procs:
            p.start()
        try:
            reports = [results.get(timeout=60) for _ in procs]
        except queue.Empty:
            pytest.fail("a dedupe worker did not report within 60 s")
        finally:
            for p in procs:
                p.join(timeout=10)
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=5)
            results.close()
            results.join_thread()
        accepted = Counter(i for ids, _ in reports for i in ids)
        assert [n for _, n in reports] == [0] * len(plan), "a worker hit a backend failure"
        assert max(accepted.values()) == 1, "an id was accepted twice"
        assert set(accepted) == unique, "an id was never accepted"
        assert all(p.exitcode == 0 for p in procs)


def _delivery_plan(
    namespace: str, *, workers: int, per_worker: int, hot: int, seed: int
) -> tuple[list[list[str]], set[str]]:
    """
    Split ``workers * per_worker`` deliveries (30% duplicates) into per-worker lists.

    Every worker starts with the same ``hot`` ids, so those race across all
    processes at the same instant; the rest are unique ids plus duplicates
    scattered at random over the workers.
    """
    rng = random.Random(seed)
    total = workers * per_worker
    n_unique = total * 7 // 10
    ids = [f"wamid.{namespace}.{n}" for n in range(n_unique)]
    hot_ids, cold_ids = ids[:hot], ids[hot:]
    cold_slots = workers * (per_worker - hot)
    pool = cold_ids + [rng.choice(cold_ids) for _ in range(cold_slots - len(cold_ids))]
    rng.shuffle(pool)
    cold_len = per_worker - hot
    plan = [hot_ids + pool[w * cold_len : (w + 1) * cold_len] for w in range(workers)]
    return plan, set(ids)
