"""
The ASGI middleware and ``/metrics`` on a FastAPI app, scraped like Prometheus would.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from tests.integrations._observed_apps import (
    SECRETS,
    TOKEN,
    fastapi_inbox,
    label_values,
    new_cache,
    samples,
    value,
)
from wa_perfkit.integrations.asgi import UNMATCHED, ServerTimingMiddleware
from wa_perfkit.integrations.prometheus import CacheCollector
from wa_perfkit.repository import ttl_repository

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTE = "/messages/{conversation_id}"
HTTP = "wa_perfkit_http_request_duration_seconds"


class TestScrapedCounts:
    def test_a_scripted_sequence_shows_exactly_the_expected_counts(self) -> None:
        """Three reads, one 404 and a scrape give exact cache and route counts in /metrics."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            for conversation in ("c1", "c1", "c2"):
                assert client.get(f"/messages/{conversation}", headers=AUTH).status_code == 200
            assert client.get("/no/such/route").status_code == 404
            assert client.get("/health").status_code == 200
            scraped = samples(client.get("/metrics").text)
        c = {"cache": "inbox"}
        assert value(scraped, "wa_perfkit_cache_misses_total", **c, function="get_user") == 1
        assert value(scraped, "wa_perfkit_cache_hits_total", **c, function="get_user") == 2
        assert value(scraped, "wa_perfkit_cache_loads_total", **c, function="get_user") == 1
        conv = {**c, "function": "get_conversation"}
        assert value(scraped, "wa_perfkit_cache_misses_total", **conv) == 2
        assert value(scraped, "wa_perfkit_cache_hits_total", **conv) == 1
        assert value(scraped, "wa_perfkit_cache_loads_total", **conv) == 2
        assert value(scraped, "wa_perfkit_cache_load_duration_seconds_count", **conv) == 2
        assert value(scraped, "wa_perfkit_cache_load_errors_total", **conv) == 0
        assert value(scraped, "wa_perfkit_cache_breaker_state", **c, state="closed") == 1
        assert value(scraped, "wa_perfkit_cache_breaker_state", **c, state="open") == 0
        ok = {"route": ROUTE, "method": "GET", "status": "200"}
        assert value(scraped, HTTP + "_count", **ok) == 3
        assert value(scraped, HTTP + "_count", route=UNMATCHED, method="GET", status="404") == 1
        assert value(scraped, HTTP + "_count", route="/health", method="GET", status="200") == 1
        # /metrics is not timed, so a scrape never counts itself.
        assert label_values(scraped, HTTP + "_count", "route") == {ROUTE, UNMATCHED, "/health"}
        assert inbox.loads == ["get_user", "get_conversation", "get_conversation"]

    def test_the_buckets_run_from_1_ms_to_5_s(self) -> None:
        """The latency histogram's finite buckets are 1 ms ... 5 s."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            client.get("/health")
            scraped = samples(client.get("/metrics").text)
        bounds = sorted(float(le) for le in label_values(scraped, HTTP + "_bucket", "le"))
        assert bounds[0] == 0.001
        assert bounds[-2:] == [5.0, float("inf")]

    def test_a_thousand_distinct_ids_make_one_label_value(self) -> None:
        """1,000 requests to /messages/{id} with distinct ids produce one route label."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            for i in range(1000):
                assert client.get(f"/messages/conv-{i}", headers=AUTH).status_code == 200
            scraped = samples(client.get("/metrics").text)
        assert label_values(scraped, HTTP + "_count", "route") == {ROUTE}
        assert value(scraped, HTTP + "_count", route=ROUTE, method="GET", status="200") == 1000
        functions = label_values(scraped, "wa_perfkit_cache_misses_total", "function")
        assert functions == {"inbox", "get_user", "get_conversation", "get_contact"}

    def test_no_token_user_id_or_value_reaches_the_exposition(self) -> None:
        """Labels are cache, function and route names: no key, token, user id or value."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            client.get("/messages/c1", headers=AUTH)
            client.get("/messages/c1", headers=AUTH)
            text = client.get("/metrics").text
        for secret in (*SECRETS, "c1"):
            assert secret not in text
        assert inbox.cache.prefix not in text

    def test_odd_methods_are_folded_into_one_label(self) -> None:
        """A client cannot mint method label values."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            client.request("BREW", "/health")
            scraped = samples(client.get("/metrics").text)
        assert label_values(scraped, HTTP + "_count", "method") == {"other"}


class TestServerTiming:
    def test_a_miss_then_a_hit(self) -> None:
        """A miss lists misses and the loader time; the repeat lists hits and no loader time."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            miss = client.get("/messages/c1", headers=AUTH).headers["server-timing"]
            hit = client.get("/messages/c1", headers=AUTH).headers["server-timing"]
        assert re.fullmatch(
            r'cache;desc="miss", cache;desc="miss", db;dur=\d+\.\d, app;dur=\d+\.\d', miss
        )
        assert re.fullmatch(r'cache;desc="hit", cache;desc="hit", app;dur=\d+\.\d', hit)

    def test_the_header_never_carries_a_token_or_a_value(self) -> None:
        """Outcomes and durations only: no token, user id, key or value, on a miss or a hit."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            headers = [client.get("/messages/c1", headers=AUTH).headers for _ in range(2)]
        for header in headers:
            timing = header["server-timing"]
            for secret in (*SECRETS, "c1", inbox.cache.prefix, "get_user"):
                assert secret not in timing

    def test_a_sync_endpoint_in_a_worker_thread_is_traced(self) -> None:
        """A sync FastAPI endpoint runs in a thread with a copied context and still reports."""
        inbox = fastapi_inbox(sync=True)
        with TestClient(inbox.app) as client:
            miss = client.get("/contacts/k1").headers["server-timing"]
            hit = client.get("/contacts/k1").headers["server-timing"]
        assert miss.startswith('cache;desc="miss", db;dur=')
        assert hit.startswith('cache;desc="hit", app;dur=')

    def test_no_cache_call_gives_only_the_app_time(self) -> None:
        """A route that touches no cache gets an app duration only."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            timing = client.get("/health").headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d", timing)

    def test_the_header_can_be_turned_off(self) -> None:
        """server_timing=False records latency without adding the header."""
        inbox = fastapi_inbox()
        app = Starlette(routes=[Route("/x", _plain)])
        app.add_middleware(ServerTimingMiddleware, metrics=inbox.collector, server_timing=False)
        with TestClient(app) as client:
            assert "server-timing" not in client.get("/x").headers
        assert inbox.collector.registry.get_sample_value(
            HTTP + "_count", {"route": "/x", "method": "GET", "status": "200"}
        ) == 1


class TestCacheDetails:
    """Server-Timing lists cache outcomes only where a request opted in."""

    def test_an_unauthenticated_route_shows_the_app_time_only(self) -> None:
        """A route that did not opt in hides whether its lookups hit or missed."""
        inbox = fastapi_inbox()
        with TestClient(inbox.app) as client:
            for _ in range(2):  # a miss, then a hit: the same header
                timing = client.get("/public/c1").headers["server-timing"]
                assert re.fullmatch(r"app;dur=\d+\.\d", timing)

    def test_cache_details_true_shows_them_everywhere(self) -> None:
        """``cache_details=True`` (development) lists the outcomes on every route."""
        cache = new_cache()

        @ttl_repository(ttl=60, cache=cache, name="lookup")
        async def lookup(n: str) -> str:
            return n

        async def route(request: Request) -> PlainTextResponse:
            return PlainTextResponse(await lookup(request.path_params["n"]))

        app = Starlette(routes=[Route("/public/{n}", route)])
        app.add_middleware(ServerTimingMiddleware, cache_details=True)
        with TestClient(app) as client:
            timing = client.get("/public/c1").headers["server-timing"]
        assert timing.startswith('cache;desc="miss", db;dur=')


async def _plain(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


class TestStarletteRoutes:
    @pytest.fixture(name="collector")
    def fixture_collector(self) -> CacheCollector:
        from prometheus_client import CollectorRegistry

        return CacheCollector(registry=CollectorRegistry())

    def _routes(self, collector: CacheCollector) -> set[str]:
        return {
            metric.labels["route"]
            for family in collector.collect()
            for metric in family.samples
            if metric.name == HTTP + "_count"
        }

    def test_mounted_routes_carry_the_mount_prefix(self, collector: CacheCollector) -> None:
        """A route inside a Mount is labelled with the mount path plus its template."""
        inner = [Route("/items/{item_id}", _plain)]
        app = Starlette(routes=[Mount("/api", routes=inner), Mount("/raw", app=_plain_asgi)])
        app.add_middleware(ServerTimingMiddleware, metrics=collector)
        with TestClient(app) as client:
            assert client.get("/api/items/42").status_code == 200
            assert client.get("/raw/anything/here").status_code == 200
        assert self._routes(collector) == {"/api/items/{item_id}", "/raw/{path}"}

    def test_a_mount_with_a_path_parameter_is_one_label(
        self, collector: CacheCollector
    ) -> None:
        """``Mount("/accounts/{account_id}", sub)``: one label, whatever the account ids."""
        from fastapi import FastAPI

        sub = FastAPI()
        sub.add_api_route("/messages/{message_id}", _plain)
        deeper = Starlette(routes=[Route("/x", _plain)])
        sub.mount("/nested/{level:int}", deeper)
        app = FastAPI()
        app.mount("/accounts/{account_id}", sub)
        app.mount("/raw/{tenant}", app=_plain_asgi)
        app.add_middleware(ServerTimingMiddleware, metrics=collector)
        with TestClient(app) as client:
            for n in range(50):
                assert client.get(f"/accounts/acc-{n}/messages/m{n}").status_code == 200
                assert client.get(f"/accounts/acc-{n}/nested/{n}/x").status_code == 200
                assert client.get(f"/raw/t{n}/some/path").status_code == 200
        assert self._routes(collector) == {
            "/accounts/{account_id}/messages/{message_id}",
            "/accounts/{account_id}/nested/{level}/x",
            "/raw/{tenant}/{path}",
        }

    def test_an_exception_is_timed_as_a_500(self, collector: CacheCollector) -> None:
        """A handler that raises is still recorded, as a 500 under its template."""
        app = Starlette(routes=[Route("/boom/{n}", _boom)])
        app.add_middleware(ServerTimingMiddleware, metrics=collector)
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/boom/1").status_code == 500
        assert collector.registry.get_sample_value(
            HTTP + "_count", {"route": "/boom/{n}", "method": "GET", "status": "500"}
        ) == 1

    def test_a_wrong_method_keeps_the_template(self, collector: CacheCollector) -> None:
        """A 405 (partial match) is labelled with the route it hit, not <unmatched>."""
        app = Starlette(routes=[Route("/items/{item_id}", _plain, methods=["GET"])])
        app.add_middleware(ServerTimingMiddleware, metrics=collector)
        with TestClient(app) as client:
            assert client.post("/items/9").status_code == 405
        assert self._routes(collector) == {"/items/{item_id}"}


async def _plain_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("raw")(scope, receive, send)


class TestPureAsgi:
    def test_streaming_and_the_trace_reach_the_endpoint(self) -> None:
        """Not BaseHTTPMiddleware: a stream passes untouched and the endpoint sees the trace."""
        from collections.abc import AsyncIterator

        from starlette.middleware.base import BaseHTTPMiddleware
        from starlette.responses import StreamingResponse

        from wa_perfkit.observe import current_trace

        seen: list[bool] = []

        async def stream(request: Request) -> StreamingResponse:
            seen.append(current_trace() is not None)

            async def chunks() -> AsyncIterator[bytes]:
                for i in range(3):
                    yield f"chunk{i};".encode()

            return StreamingResponse(chunks(), media_type="text/plain")

        app = Starlette(routes=[Route("/stream", stream)])
        app.add_middleware(ServerTimingMiddleware)
        assert not issubclass(ServerTimingMiddleware, BaseHTTPMiddleware)
        with TestClient(app) as client:
            response = client.get("/stream")
        assert response.text == "chunk0;chunk1;chunk2;"
        assert response.headers["server-timing"].startswith("app;dur=")
        assert seen == [True]
        assert current_trace() is None
