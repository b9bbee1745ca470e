"""
The Flask hook and ``/metrics`` view, scraped like Prometheus would.
"""

from __future__ import annotations

import re

from flask import Flask

from tests.integrations._observed_apps import (
    SECRETS,
    TOKEN,
    flask_inbox,
    label_values,
    samples,
    value,
)
from wa_perfkit.integrations.flask.timing import UNMATCHED, FlaskTiming, route_template

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTE = "/messages/{conversation_id}"
HTTP = "wa_perfkit_http_request_duration_seconds"


class TestFlaskMetrics:
    def test_a_scripted_sequence_shows_exactly_the_expected_counts(self) -> None:
        """Three reads, a 404 and an int-converter route give exact counts in /metrics."""
        inbox = flask_inbox()
        client = inbox.app.test_client()
        for conversation in ("c1", "c1", "c2"):
            assert client.get(f"/messages/{conversation}", headers=AUTH).status_code == 200
        assert client.get("/nowhere").status_code == 404
        assert client.get("/accounts/7").status_code == 200
        scraped = samples(client.get("/metrics").get_data(as_text=True))
        user = {"cache": "inbox", "function": "get_user"}
        conv = {"cache": "inbox", "function": "get_conversation"}
        assert value(scraped, "wa_perfkit_cache_hits_total", **user) == 2
        assert value(scraped, "wa_perfkit_cache_misses_total", **user) == 1
        assert value(scraped, "wa_perfkit_cache_hits_total", **conv) == 1
        assert value(scraped, "wa_perfkit_cache_misses_total", **conv) == 2
        assert value(scraped, "wa_perfkit_cache_loads_total", **conv) == 2
        assert value(scraped, "wa_perfkit_cache_load_duration_seconds_count", **user) == 1
        assert value(scraped, HTTP + "_count", route=ROUTE, method="GET", status="200") == 3
        assert value(scraped, HTTP + "_count", route=UNMATCHED, method="GET", status="404") == 1
        assert value(scraped, HTTP + "_count", route="/accounts/{account_id}", method="GET",
                     status="200") == 1
        assert label_values(scraped, HTTP + "_count", "route") == {
            ROUTE, UNMATCHED, "/accounts/{account_id}"
        }

    def test_a_thousand_distinct_ids_make_one_label_value(self) -> None:
        """1,000 requests to /messages/<id> with distinct ids produce one route label."""
        inbox = flask_inbox()
        client = inbox.app.test_client()
        for i in range(1000):
            assert client.get(f"/messages/conv-{i}", headers=AUTH).status_code == 200
        scraped = samples(client.get("/metrics").get_data(as_text=True))
        assert label_values(scraped, HTTP + "_count", "route") == {ROUTE}
        assert value(scraped, HTTP + "_count", route=ROUTE, method="GET", status="200") == 1000

    def test_no_token_user_id_or_value_reaches_the_exposition(self) -> None:
        """Labels never carry a key, token, user id or value."""
        inbox = flask_inbox()
        client = inbox.app.test_client()
        client.get("/messages/c1", headers=AUTH)
        text = client.get("/metrics").get_data(as_text=True)
        for secret in (*SECRETS, "c1", inbox.cache.prefix):
            assert secret not in text


class TestFlaskServerTiming:
    def test_a_miss_then_a_hit(self) -> None:
        """A miss lists misses and loader time; the repeat lists hits only."""
        client = flask_inbox().app.test_client()
        miss = client.get("/messages/c1", headers=AUTH).headers["Server-Timing"]
        hit = client.get("/messages/c1", headers=AUTH).headers["Server-Timing"]
        assert re.fullmatch(
            r'cache;desc="miss", cache;desc="miss", db;dur=\d+\.\d, app;dur=\d+\.\d', miss
        )
        assert re.fullmatch(r'cache;desc="hit", cache;desc="hit", app;dur=\d+\.\d', hit)

    def test_the_header_never_carries_a_token_or_a_value(self) -> None:
        """Outcomes and durations only, on a miss and on a hit."""
        inbox = flask_inbox()
        client = inbox.app.test_client()
        for _ in range(2):
            timing = client.get("/messages/c1", headers=AUTH).headers["Server-Timing"]
            for secret in (*SECRETS, "c1", inbox.cache.prefix, "get_user"):
                assert secret not in timing

    def test_an_early_response_from_another_hook_is_still_timed(self) -> None:
        """The hook runs first, so a before_request that answers is timed and traced."""
        app = Flask(__name__)
        app.before_request(lambda: ("maintenance", 503))
        seen: list[tuple[str, str, int]] = []

        class Recorder:
            def observe_request(self, route: str, method: str, status: int, s: float) -> None:
                seen.append((route, method, status))

        FlaskTiming(app, metrics=Recorder())
        app.add_url_rule("/x/<int:n>", "x", lambda n: "x")
        response = app.test_client().get("/x/1")
        assert response.status_code == 503
        assert response.headers["Server-Timing"].startswith("app;dur=")
        assert seen == [("/x/{n}", "GET", 503)]

    def test_an_unhandled_exception_is_timed_as_a_500(self) -> None:
        """A view that raises is recorded as a 500 under its template; the trace is closed."""
        app = Flask(__name__)
        seen: list[tuple[str, str, int]] = []

        class Recorder:
            def observe_request(self, route: str, method: str, status: int, s: float) -> None:
                seen.append((route, method, status))

        FlaskTiming(app, metrics=Recorder())

        @app.get("/boom/<n>")
        def boom(n: str) -> str:
            raise RuntimeError("boom")

        assert app.test_client().get("/boom/1").status_code == 500
        assert seen == [("/boom/{n}", "GET", 500)]


class TestRouteTemplate:
    def test_converters_become_starlette_placeholders(self) -> None:
        """Flask rules are written like Starlette templates so one dashboard fits both."""
        assert route_template("/messages/<conversation_id>") == ROUTE
        assert route_template("/a/<int:id>/b/<path:rest>") == "/a/{id}/b/{rest}"
        assert route_template("/static") == "/static"


def test_an_unauthenticated_flask_route_shows_the_app_time_only() -> None:
    """A Flask route that did not opt in hides whether its lookups hit or missed."""
    inbox = flask_inbox()
    client = inbox.app.test_client()
    for _ in range(2):
        timing = client.get("/public/c1").headers["Server-Timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d", timing)
