"""
``docs/grafana/wa_perfkit.json`` is a valid dashboard whose queries name only exported metrics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integrations._observed_apps import TOKEN, fastapi_inbox, samples

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "wa_perfkit.json"
DOC = Path(__file__).parents[2] / "docs" / "observability.md"
METRIC = re.compile(r"\bwa_perfkit_[a-z_]+\b")
FUNCTIONS = {"histogram_quantile", "sum", "rate", "max", "label_values", "by"}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat


def _queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


@pytest.fixture(name="dashboard", scope="module")
def fixture_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


@pytest.fixture(name="exported", scope="module")
def fixture_exported() -> set[str]:
    """Every sample name a scrape of the test app shows after hits, misses and errors."""
    inbox = fastapi_inbox()
    with TestClient(inbox.app) as client:
        for conversation in ("c1", "c1", "c2"):
            client.get(f"/messages/{conversation}", headers={"Authorization": f"Bearer {TOKEN}"})
        text = client.get("/metrics").text
    return {name for name, _ in samples(text)}


class TestDashboard:
    def test_it_is_a_dashboard(self, dashboard: dict[str, Any]) -> None:
        """Valid JSON with a uid, unique panel ids, a grid position and a query per panel."""
        assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
        panels = _panels(dashboard["panels"])
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids))
        for panel in panels:
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            if panel["type"] != "row":
                assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
                assert panel["description"]

    def test_every_query_names_an_exported_metric(
        self, dashboard: dict[str, Any], exported: set[str]
    ) -> None:
        """Each wa_perfkit_* name in every query is a sample name the collector emits."""
        for expr in _queries(dashboard):
            names = METRIC.findall(expr)
            assert names, expr
            for name in names:
                assert name in exported, f"{name} is not exported (in {expr!r})"

    def test_the_queries_are_well_formed(self, dashboard: dict[str, Any]) -> None:
        """Balanced brackets, known functions, and only defined variables."""
        variables = {v["name"] for v in dashboard["templating"]["list"]} | {"__rate_interval"}
        for expr in _queries(dashboard):
            stack: list[str] = []
            for char in expr:
                if char in "([{":
                    stack.append({"(": ")", "[": "]", "{": "}"}[char])
                elif char in ")]}":
                    assert stack and stack.pop() == char, expr
            assert not stack, expr
            for function in re.findall(r"\b([a-z_]+)\s*\(", expr):
                assert function in FUNCTIONS, f"{function} in {expr!r}"
            for variable in re.findall(r"\$(\w+)", expr):
                assert variable in variables, f"${variable} in {expr!r}"

    def test_it_shows_what_the_issue_asks_for(self, dashboard: dict[str, Any]) -> None:
        """p50/p95/p99 per route, hit ratio per cache, loader time and breaker state."""
        exprs = "\n".join(_queries(dashboard))
        for q in ("0.5", "0.95", "0.99"):
            assert f"histogram_quantile({q}, sum by (le, route)" in exprs
        assert "wa_perfkit_cache_hits_total" in exprs and "sum by (cache) (" in exprs
        assert "wa_perfkit_cache_load_duration_seconds_bucket" in exprs
        assert "wa_perfkit_cache_breaker_state" in exprs

    def test_the_guide_explains_every_panel(self, dashboard: dict[str, Any]) -> None:
        """docs/observability.md has a section per panel title."""
        guide = DOC.read_text(encoding="utf-8")
        for panel in _panels(dashboard["panels"]):
            if panel["type"] != "row":
                assert f"### {panel['title']}" in guide, panel["title"]
