"""
Pure ASGI middleware: ``Server-Timing`` and per-route latency for FastAPI and Starlette.

::

    app.add_middleware(ServerTimingMiddleware, metrics=CacheCollector([cache]))

It opens a `wa_perfkit.observe` trace for each HTTP request, so every cache
outcome of the request (hit, stale, miss, loader error) and the loader time
land in a ``Server-Timing`` header added to the response start::

    Server-Timing: cache;desc="miss", db;dur=12.3, app;dur=13.0

The header carries outcomes and durations only: never a key, a token or a
value. A plain ASGI callable rather than ``BaseHTTPMiddleware``, so
streaming responses, background tasks and contextvars behave as without it,
and a request costs two ContextVar operations and one wrapped ``send``.

The latency label is the route TEMPLATE (``/messages/{conversation_id}``),
read from ``scope["route"]``, which Starlette's router sets on the shared
scope dict once it has matched (mount prefixes come from the ``root_path``
the mounts added). Requests no route matched share one label,
``<unmatched>``, so a scan of random URLs cannot grow the label set.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from wa_perfkit.observe import RequestObserver, server_timing, start_trace, stop_trace

__all__ = ["UNMATCHED", "ServerTimingMiddleware", "route_template"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The route label of requests that matched no route.
UNMATCHED = "<unmatched>"


def route_template(scope: Scope, root_path: str = "") -> str:
    """
    Return the template of the route that handled ``scope``, or `UNMATCHED`.

    Args:
        scope: the request's scope, after the application ran.
        root_path: the scope's ``root_path`` before routing (the server's own prefix).
    """
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return UNMATCHED
    prefix = str(scope.get("root_path", ""))[len(root_path):]
    if not hasattr(route, "endpoint"):  # a Mount around a plain ASGI app
        return prefix + "/{path}"
    return prefix + path_format


class ServerTimingMiddleware:
    """
    Add ``Server-Timing`` and record per-route latency for every HTTP request.

    Args:
        app: the ASGI application to wrap.
        metrics: receives each request's route template, method, status and
            duration (a `CacheCollector`); None records nothing.
        server_timing: add the ``Server-Timing`` header.
        exclude_paths: paths neither timed nor traced (the metrics endpoint).
        loader_name: the ``Server-Timing`` name of the loader time entry.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: RequestObserver | None = None,
        server_timing: bool = True,
        exclude_paths: tuple[str, ...] = ("/metrics",),
        loader_name: str = "db",
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.server_timing = server_timing
        self.exclude_paths = frozenset(exclude_paths)
        self.loader_name = loader_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        trace, token = start_trace()
        status = 500  # if the app dies before starting a response, the server sends a 500

        async def send_with_timing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if self.server_timing:
                    answered = time.perf_counter() - started
                    value = server_timing(trace, answered, self.loader_name).encode("latin-1")
                    headers = [*message.get("headers", ()), (b"server-timing", value)]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            stop_trace(token)
            if self.metrics is not None:
                seconds = time.perf_counter() - started
                route = route_template(scope, root_path)
                self.metrics.observe_request(route, scope["method"], status, seconds)
