"""
Smoke test of ``benchmarks/run.py``'s pure helpers: sizing, one tiny timing pass, the merge.

No services and no peers needed (the ``dev`` extra has none of them): peers
that are not installed are simply absent from the contenders. The whole
module takes well under five seconds.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import math
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_run() -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # run.py imports its _helpers as siblings
    spec = importlib.util.spec_from_file_location("wa_perfkit_bench_run", BENCHMARKS / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="bench", scope="module")
def fixture_bench() -> ModuleType:
    """The benchmark script, imported as a module (its main() is not run)."""
    return _load_run()


@pytest.fixture(name="timing", scope="module")
def fixture_timing(bench: ModuleType) -> ModuleType:
    """The timing and sizing helpers the script imported."""
    return sys.modules["_timing"]


@pytest.fixture(name="peers", scope="module")
def fixture_peers(bench: ModuleType) -> ModuleType:
    """The contenders module the script imported."""
    return sys.modules["_peers"]


class TestBenchmarkHelpers:
    def test_row_is_about_one_kilobyte(self, timing: ModuleType) -> None:
        """The Redis and sizing row is a ~1 KB JSON document of about 20 fields."""
        row = timing.make_row(7)
        assert 900 <= timing.ROW_BYTES <= 1300
        assert 18 <= len(row) <= 24
        assert any(isinstance(v, list) for v in row.values())

    def test_sizing_on_a_thousand_entries(self, bench: ModuleType, timing: ModuleType) -> None:
        """Our memory backend and cachetools each report a plausible cost per entry."""
        settings = bench.Settings(quick=True)
        settings.entries = 1_000
        # The measurement collects garbage; an earlier test's leaked connection would then
        # warn here (and fail this test) instead of where it leaked. Collect it first.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        sizes = bench.memory_sizes(settings)
        ours = sizes["wa_perfkit MemoryBackend (objects, default)"]
        theirs = sizes["cachetools.cached(TTLCache, lock)"]
        assert 1000 < sizes["rows"] < 10_000
        assert 0 < ours < 2_000
        assert 0 < theirs < 2_000
        # copy=True keeps the JSON bytes as well, so it costs at least the document.
        assert sizes[bench.COPY_ROW] > timing.ROW_BYTES

    def test_sizing_helper_counts_per_entry(self, timing: ModuleType) -> None:
        """bytes_per_entry divides what a filler keeps by the number of entries."""
        filler = (lambda rows: [bytes(100) for _ in rows], 1_000)
        sizes = timing.bytes_per_entry({"list": filler})
        assert 100 < sizes["list"] < 200

    def test_one_tiny_sync_timing_pass(
        self, bench: ModuleType, timing: ModuleType, peers: ModuleType
    ) -> None:
        """Every sync memory contender, ours included, times to a finite positive figure."""
        contenders = peers.memory_sync(timing.make_row())
        for func in contenders.values():
            func("row-1")
        runners = {name: timing.sync_runner(f, "row-1") for name, f in contenders.items()}
        ns = timing.interleaved_best(runners, repeats=2, target_s=0.001, budget_s=0.5)
        assert set(ns) >= {bench.OURS, bench.SYNC_BASE}
        assert all(0 < v < math.inf for v in ns.values())

    def test_one_tiny_async_timing_pass(self, timing: ModuleType, peers: ModuleType) -> None:
        """Our async function times to a finite positive figure on a memory hit."""
        loop = asyncio.new_event_loop()
        try:
            ours = peers.ours_memory(timing.make_row())[1]
            loop.run_until_complete(ours("row-1"))
            runners = {"ours": timing.async_runner(loop, ours, "row-1")}
            ns = timing.interleaved_best(runners, repeats=2, target_s=0.001, budget_s=0.5)
        finally:
            loop.close()
        assert 0 < ns["ours"] < math.inf

    def test_merge_keeps_other_sections(self, bench: ModuleType, tmp_path: Path) -> None:
        """Rewriting the cache-core section leaves the sections others wrote untouched."""
        doc = tmp_path / "benchmarks.md"
        doc.write_text(bench.merge(doc, f"{bench.SECTION}\n\nold\n"), encoding="utf-8")
        for header in bench.PLACEHOLDERS:
            assert header in doc.read_text(encoding="utf-8")
        text = doc.read_text(encoding="utf-8").replace(
            "## Postgres\n\nSee below / to be merged.", "## Postgres\n\nkeyset wins"
        )
        merged = bench.merge_text(text, f"{bench.SECTION}\n\nnew\n")
        assert "new" in merged and "old" not in merged
        assert "keyset wins" in merged
        assert merged.index(bench.SECTION) < merged.index("## Authentication")
