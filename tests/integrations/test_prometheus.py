"""
`CacheCollector` on the default and on a custom registry.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from tests.integrations._observed_apps import new_cache
from wa_perfkit import Cache, MemoryBackend, ttl_repository
from wa_perfkit.integrations.prometheus import METRIC_NAMES, CacheCollector

LOAD = "wa_perfkit_cache_load_duration_seconds_count"


def _cached(cache: Cache, name: str = "fn") -> Any:
    @ttl_repository(ttl=60, cache=cache, name=name)
    def fn(x: int) -> int:
        if x < 0:
            raise ValueError(x)
        return x

    return fn


class TestRegistries:
    def test_the_default_registry(self) -> None:
        """Built without a registry, it registers into REGISTRY, refuses a twin, and closes."""
        cache = new_cache("default_reg")
        fn = _cached(cache)
        collector = CacheCollector([cache])
        try:
            fn(1)
            fn(1)
            labels = {"cache": "default_reg", "function": "fn"}
            assert REGISTRY.get_sample_value("wa_perfkit_cache_hits_total", labels) == 1
            assert REGISTRY.get_sample_value(LOAD, labels) == 1
            with pytest.raises(ValueError, match="Duplicated timeseries"):
                CacheCollector([cache])
        finally:
            collector.close()
        assert REGISTRY.get_sample_value("wa_perfkit_cache_hits_total", labels) is None
        CacheCollector([cache]).close()  # the name is free again
        collector.close()  # idempotent

    def test_two_custom_registries_are_independent(self) -> None:
        """Two apps in one process, each with its registry, never collide."""
        first, second = CollectorRegistry(), CollectorRegistry()
        a, b = new_cache("a"), new_cache("b")
        CacheCollector([a], registry=first)
        CacheCollector([b], registry=second)
        _cached(a)(1)
        assert first.get_sample_value("wa_perfkit_cache_misses_total", {"cache": "a",
                                                                        "function": "fn"}) == 1
        assert second.get_sample_value("wa_perfkit_cache_misses_total", {"cache": "a",
                                                                         "function": "fn"}) is None

    def test_import_registers_nothing(self) -> None:
        """Importing every integration leaves the default registry without wa_perfkit metrics."""
        code = (
            "import wa_perfkit.integrations.prometheus, wa_perfkit.integrations.asgi\n"
            "import wa_perfkit.integrations.flask.timing, wa_perfkit.integrations.fastapi.metrics\n"
            "from prometheus_client import REGISTRY, generate_latest\n"
            "print('wa_perfkit' in generate_latest(REGISTRY).decode())\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, check=True)
        assert out.stdout.strip() == "False"


class TestSamples:
    @pytest.fixture(name="registry")
    def fixture_registry(self) -> CollectorRegistry:
        return CollectorRegistry()

    def test_every_family_is_exported(self, registry: CollectorRegistry) -> None:
        """Each name in METRIC_NAMES appears in a scrape once there was traffic."""
        cache = new_cache()
        collector = CacheCollector([cache], registry=registry)
        _cached(cache)(1)
        collector.observe_request("/x", "GET", 200, 0.01)
        names = {family.name for family in registry.collect()}
        assert set(METRIC_NAMES) <= names

    def test_loader_errors_are_timed_and_counted(self, registry: CollectorRegistry) -> None:
        """A raising loader counts a load error and one loader-wait observation."""
        cache = new_cache()
        CacheCollector([cache], registry=registry)
        fn = _cached(cache)
        with pytest.raises(ValueError):
            fn(-1)
        labels = {"cache": "inbox", "function": "fn"}
        assert registry.get_sample_value("wa_perfkit_cache_load_errors_total", labels) == 1
        assert registry.get_sample_value(LOAD, labels) == 1

    def test_untracked_caches_are_ignored_until_tracked(self, registry: CollectorRegistry) -> None:
        """Another cache's misses are not timed; after track() they are."""
        mine, other = new_cache("mine"), new_cache("other")
        collector = CacheCollector([mine], registry=registry)
        fn = _cached(other, "other_fn")
        fn(1)
        labels = {"cache": "other", "function": "other_fn"}
        assert registry.get_sample_value(LOAD, labels) is None
        collector.track(other)
        collector.track(other)  # twice is once
        fn(2)
        assert registry.get_sample_value(LOAD, labels) == 1
        assert registry.get_sample_value("wa_perfkit_cache_misses_total", labels) == 2

    def test_closed_collectors_stop_listening(self, registry: CollectorRegistry) -> None:
        """close() removes the listener: later misses reach no histogram."""
        cache = new_cache()
        collector = CacheCollector([cache], registry=registry)
        fn = _cached(cache)
        fn(1)
        collector.close()
        fn(2)
        counts = [
            sample.value
            for family in collector.collect()
            for sample in family.samples
            if sample.name == LOAD
        ]
        assert counts == [1]
        assert registry.get_sample_value(LOAD, {"cache": "inbox", "function": "fn"}) is None

    def test_the_breaker_state_is_a_one_hot_gauge(self, registry: CollectorRegistry) -> None:
        """The backend breaker's state reads 1, the others 0."""
        backend = MemoryBackend()
        backend.breaker = SimpleNamespace(state="open")  # type: ignore[attr-defined]
        cache = Cache(backend, namespace="brk")
        CacheCollector([cache], registry=registry)
        for state, expected in (("open", 1), ("closed", 0), ("half-open", 0)):
            value = registry.get_sample_value(
                "wa_perfkit_cache_breaker_state", {"cache": "brk", "state": state}
            )
            assert value == expected

    def test_stats_by_name_adds_up_to_stats(self) -> None:
        """The per-name snapshots sum to the cache's total, shared names added together."""
        cache = new_cache()
        one, two = _cached(cache, "shared"), _cached(cache, "shared")
        one(1)
        two(2)
        two(3)
        by_name = cache.stats_by_name()
        assert set(by_name) == {"inbox", "shared"}
        assert by_name["shared"].misses == 3
        assert cache.stats().misses == sum(s.misses for s in by_name.values())
