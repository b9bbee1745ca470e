"""
lock=True: a cross-process single-flight on Redis (and on a Redis Cluster), with processes.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis


def _locker(url: str, namespace: str, mode: str, callers: int, start: float,
            load: float, lock_ttl: float) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.many._locker", url, namespace, mode,
            str(callers), str(start), str(load), str(lock_ttl)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("where", ["redis", "cluster"])
def test_four_processes_load_once(
    where: str, redis_url: str, namespace: str, request: pytest.FixtureRequest
) -> None:
    """4 processes x 100 concurrent callers on one cold key, 200 ms loader: one load in total."""
    url = redis_url
    if where == "cluster":
        url = request.getfixturevalue("cluster").url + "#cluster"
    start = time.time() + 1.5  # every process imported and waiting before the stampede
    procs = [
        _locker(url, namespace, mode, 100, start, 0.2, 5)
        for mode in ("async", "async", "sync", "sync")
    ]
    outputs = [p.communicate(timeout=30)[0] for p in procs]
    plain = url.removesuffix("#cluster")
    client = (redis.RedisCluster if where == "cluster" else redis.Redis).from_url(plain)
    try:
        runs = int(client.get(f"{namespace}:runs") or 0)
        if where == "cluster":
            client.delete(f"{namespace}:runs", f"{namespace}:1:lock")
    finally:
        client.close()
    assert all(p.returncode == 0 for p in procs), outputs
    assert [o.count("loading") for o in outputs].count(1) == 1, outputs
    assert all(o.strip().endswith("done 100 1") for o in outputs), outputs
    assert runs == 1


def test_killed_holder_blocks_no_longer_than_lock_ttl(redis_url: str, namespace: str) -> None:
    """The holder dies mid-load: another process loads once the 1 s lock has expired."""
    holder = _locker(redis_url, namespace, "sync", 1, 0, 30, 1.0)
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 10
        lock_keys: list[bytes] = []
        while not lock_keys and time.monotonic() < deadline:
            lock_keys = list(client.scan_iter(match=f"{namespace}:*:lock"))
            time.sleep(0.005)
        assert lock_keys
        locked_at = time.monotonic()
        holder.kill()  # mid-load: its lock stays until it expires
        second = _locker(redis_url, namespace, "sync", 10, 0, 0, 1.0)
        output = second.communicate(timeout=20)[0]
    finally:
        holder.kill()
        holder.communicate(timeout=10)
        client.close()
    loads = [line for line in output.splitlines() if line.startswith("loading")]
    assert len(loads) == 1 and output.strip().endswith("done 10 1"), output
    waited = float(loads[0].split()[1]) - locked_at
    # Not before the 1 s lock expired; and well before any other timeout (a waiter that
    # ignored the expiry would sit out its 30 s wait). The generous upper bound leaves
    # room for a second interpreter starting on a loaded machine.
    assert 0.9 <= waited <= 8.0, waited
