"""
TieredBackend across processes: what process A writes or deletes reaches process B's L1.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time

from tests.backends.test_tiered import _tiered
from wa_perfkit.cache import Cache


class TestTwoProcesses:
    def test_invalidation_reaches_another_process(self, redis_url: str, namespace: str) -> None:
        """Process A writes or deletes; process B's L1 sees every change (latency: benchmarks)."""
        a_backend = _tiered(redis_url)
        a = Cache(a_backend, namespace=namespace)
        reader = subprocess.Popen(
            [sys.executable, "-m", "tests.many._reader", redis_url, namespace, "k"],
            stdout=subprocess.PIPE, text=True,
        )
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert reader.stdout is not None
            for line in reader.stdout:
                lines.put(line.strip())

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()

        def seen(expected: str, timeout: float = 2.0) -> tuple[float, int]:
            deadline = time.monotonic() + timeout
            while True:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                value, when, reads = line.split()
                if value == expected:
                    return float(when), int(reads)

        try:
            assert lines.get(timeout=10) == "ready"
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
                when, _ = seen(expected)
                latencies.append(when - started)
                if expected == "None":
                    a.set("k", -trial, 60)
                    seen(str(-trial))
                time.sleep(0.003)  # B now reads its value from L1
            a.delete("k")
            _, reads = seen("None")
        finally:
            reader.terminate()
            reader.wait(10)
            pumper.join(5)
            assert reader.stdout is not None
            reader.stdout.close()
            a.close()
        # Every change reached B (each within seen()'s 2 s wait); how fast is measured in
        # benchmarks/bench_many.py, not asserted here.
        assert len(latencies) == 60
        # B read from its L1 between changes: a few L2 reads per change, not thousands.
        assert reads < 60 * 4
