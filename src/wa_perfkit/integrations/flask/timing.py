"""
Flask hook: ``Server-Timing`` and per-route latency, plus a ``/metrics`` view.

```python
metrics = CacheCollector([cache], registry=registry)
FlaskTiming(app, metrics=metrics)
add_metrics_route(app, registry)
```

The Flask twin of `wa_perfkit.integrations.asgi.ServerTimingMiddleware`: a
``before_request`` opens a `wa_perfkit.observe` trace (registered first, so
another hook's early response is still timed), ``after_request`` adds
``Server-Timing`` (cache outcomes and loader time only — never a key, a
token or a value) and records the latency, and ``teardown_request`` closes
the trace whatever happened.

The latency label is the URL rule with Flask's converters written as in
Starlette (``/messages/<conversation_id>`` and ``/messages/<int:id>`` become
``/messages/{conversation_id}`` and ``/messages/{id}``), so one dashboard
serves both frameworks; a request no rule matched is ``<unmatched>``.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request

from wa_perfkit.observe import RequestObserver, server_timing, start_trace, stop_trace

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["UNMATCHED", "FlaskTiming", "add_metrics_route", "route_template"]

#: The route label of requests that matched no rule.
UNMATCHED = "<unmatched>"

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_STATE = "_wa_perfkit_timing"


@functools.lru_cache(maxsize=1024)
def route_template(rule: str) -> str:
    """
    Return a Flask URL rule in Starlette's template syntax (``<int:id>`` -> ``{id}``).
    """
    return _CONVERTER.sub(r"{\1}", rule)


class FlaskTiming:
    """
    Add ``Server-Timing`` and record per-route latency for every request of a Flask app.

    Args:
        app: the application (or call `init_app` later).
        metrics: receives each request's route template, method, status and
            duration (a `CacheCollector`); None records nothing.
        server_timing: add the ``Server-Timing`` header.
        cache_details: list cache outcomes and loader time in it on every
            request; by default only on requests that called
            `wa_perfkit.observe.show_cache_details` (authenticated requests
            through ``cached_user`` do), others get the application time only.
        exclude_paths: paths neither timed nor traced (the metrics endpoint).
        loader_name: the ``Server-Timing`` name of the loader time entry.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        metrics: RequestObserver | None = None,
        server_timing: bool = True,
        cache_details: bool = False,
        exclude_paths: tuple[str, ...] = ("/metrics",),
        loader_name: str = "db",
    ) -> None:
        self.metrics = metrics
        self.server_timing = server_timing
        self.cache_details = cache_details
        self.exclude_paths = frozenset(exclude_paths)
        self.loader_name = loader_name
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """
        Register the hooks on ``app``.
        """
        app.before_request_funcs.setdefault(None, []).insert(0, self._before)
        app.after_request(self._after)
        app.teardown_request(self._teardown)

    def _before(self) -> None:
        if request.path not in self.exclude_paths:
            trace, token = start_trace()
            setattr(g, _STATE, (trace, token, time.perf_counter()))

    def _after(self, response: Response) -> Response:
        state = g.get(_STATE)
        if state is None:
            return response
        trace, _, started = state
        elapsed = time.perf_counter() - started
        if self.server_timing:
            response.headers["Server-Timing"] = server_timing(
                trace, elapsed, self.loader_name, self.cache_details
            )
        if self.metrics is not None:
            rule = request.url_rule
            route = route_template(rule.rule) if rule is not None else UNMATCHED
            self.metrics.observe_request(route, request.method, response.status_code, elapsed)
        return response

    def _teardown(self, exc: BaseException | None) -> None:
        state = g.pop(_STATE, None)
        if state is not None:
            with contextlib.suppress(ValueError):  # opened in another context: nothing to reset
                stop_trace(state[1])


def add_metrics_route(
    app: Flask, registry: CollectorRegistry | None = None, path: str = "/metrics"
) -> None:
    """
    Serve ``registry`` in the Prometheus text format at ``path`` (GET; extra ``prometheus``).

    Args:
        app: the Flask application.
        registry: the registry to expose; the default ``REGISTRY`` when None.
        path: where to serve it.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    source = registry or REGISTRY

    def metrics() -> Response:
        return Response(generate_latest(source), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule(path, "wa_perfkit_metrics", metrics, methods=["GET"])

