"""
TieredBackend across processes: what process A writes or deletes reaches process B's L1.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

import pytest

from tests.backends.test_tiered import _tiered
from tests.services import eventually
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import BackendError


class _Reader:
    """Process B (tests/many/_reader.py): reads one key in a loop and reports each change."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.pumper = threading.Thread(target=self._pump, daemon=True)
        self.pumper.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def ready(self) -> None:
        assert self.lines.get(timeout=10) == "ready"

    def seen(self, expected: str, timeout: float = 2.0) -> tuple[float, int]:
        """Wait until B reports ``expected``: when (B's monotonic clock), and B's L2 reads."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            value, when, reads = line.split()
            if value == expected:
                return float(when), int(reads)


def _state(pid: int) -> str:
    # The process state letter of /proc/<pid>/stat ("T": stopped); a stop is not instant.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


@contextmanager
def _reader(redis_url: str, namespace: str) -> Iterator[_Reader]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.many._reader", redis_url, namespace, "k"],
        stdout=subprocess.PIPE, text=True,
    )
    reader = _Reader(process)
    try:
        reader.ready()
        yield reader
    finally:
        process.terminate()
        process.wait(10)
        reader.pumper.join(5)
        assert process.stdout is not None
        process.stdout.close()


class TestTwoProcesses:
    def test_invalidation_reaches_another_process(self, redis_url: str, namespace: str) -> None:
        """Process A writes or deletes; process B's L1 sees every change (latency: benchmarks)."""
        a_backend = _tiered(redis_url)
        a = Cache(a_backend, namespace=namespace)
        try:
            with _reader(redis_url, namespace) as reader:
                latencies: list[float] = []
                for trial in range(60):
                    if trial % 5 == 4:  # a delete of a value B holds in its L1
                        started = time.monotonic()
                        a.delete("k")
                        expected = "None"
                    else:  # an overwrite of a value B holds in its L1
                        started = time.monotonic()
                        a.set("k", trial, 60)
                        expected = str(trial)
                    when, _ = reader.seen(expected)
                    latencies.append(when - started)
                    if expected == "None":
                        a.set("k", -trial, 60)
                        reader.seen(str(-trial))
                    time.sleep(0.003)  # B now reads its value from L1
                a.delete("k")
                _, reads = reader.seen("None")
        finally:
            a.close()
        # Every change reached B (each within seen()'s 2 s wait); how fast is measured in
        # benchmarks/bench_many.py, not asserted here.
        assert len(latencies) == 60
        # B read from its L1 between changes: a few L2 reads per change, not thousands.
        assert reads < 60 * 4

    def test_a_stopped_process_makes_the_invalidation_fail(
        self, redis_url: str, namespace: str
    ) -> None:
        """
        B is stopped (SIGSTOP) holding the key in its L1: A's clear cannot be confirmed
        by B, so it raises once ``confirm_timeout`` passed; resumed, B drops the key.
        """
        a = Cache(_tiered(redis_url, confirm_timeout=0.3), namespace=namespace)
        a.set("k", 1, 60)
        try:
            with _reader(redis_url, namespace) as reader:
                reader.seen("1")
                os.kill(reader.process.pid, signal.SIGSTOP)
                assert eventually(lambda: _state(reader.process.pid) == "T", 5.0, 0.001)
                try:
                    with pytest.raises(BackendError, match="1 of 2 subscribers confirmed"):
                        a.clear()
                finally:
                    os.kill(reader.process.pid, signal.SIGCONT)
                reader.seen("None")
        finally:
            a.close()


def _forked_instance(cache: Cache, conn: Connection) -> None:
    """A forked child (as gunicorn --preload makes them): fill its L1, then report on it."""
    backend = cache.backend
    assert isinstance(backend, TieredBackend)
    ok = backend.wait_ready(5) and cache.get("k") == "old"
    conn.send(ok and backend.l1.get(cache.full_key("k")) is not MISS)  # now held in L1
    conn.recv()  # the parent invalidated
    conn.send(backend.l1.get(cache.full_key("k")) is MISS)
    cache.close()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_its_own_listener(redis_url: str, namespace: str) -> None:
    """
    A cache on a tiered backend built before a fork: the child's L1 is invalidated too,
    and confirms it before the invalidation returns (the listener thread did not
    survive the fork, so the child starts its own).
    """
    backend = _tiered(redis_url)
    parent = Cache(backend, namespace=namespace)
    assert backend.wait_ready()  # subscribed to the namespace before the fork
    parent.set("k", "old", 60)
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_forked_instance, args=(parent, theirs)
    )
    child.start()
    try:
        assert ours.poll(10) and ours.recv() is True, "the child could not fill its L1"
        parent.delete("k")
        ours.send("invalidated")
        assert ours.poll(10) and ours.recv() is True, "the child's L1 still holds the key"
    finally:
        child.join(10)
        parent.close()
    assert child.exitcode == 0
