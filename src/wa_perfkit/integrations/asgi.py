"""
Pure ASGI middleware: ``Server-Timing`` and per-route latency for FastAPI and Starlette.

```python
app.add_middleware(ServerTimingMiddleware, metrics=CacheCollector([cache]))
```

It opens a `wa_perfkit.observe` trace for each HTTP request, so every cache
outcome of the request (hit, stale, miss, loader error) and the loader time
land in a ``Server-Timing`` header added to the response start:

```text
Server-Timing: cache;desc="miss", db;dur=12.3, app;dur=13.0
```

The header carries outcomes and durations only: never a key, a token or a
value. A plain ASGI callable rather than ``BaseHTTPMiddleware``, so
streaming responses, background tasks and contextvars behave as without it,
and a request costs two ContextVar operations and one wrapped ``send``.

The latency label is the route TEMPLATE (``/messages/{conversation_id}``),
read from ``scope["route"]``, which Starlette's router sets on the shared
scope dict once it has matched. Mounts are templates too:
``app.mount("/accounts/{account_id}", sub)`` labels its routes
``/accounts/{account_id}/...`` — the concrete prefix the mounts added to
``root_path`` is matched against the mount templates of the application,
and a prefix no template matches is ``<mount>``. Requests no route matched
share one label, ``<unmatched>``, so a scan of random URLs cannot grow the
label set.
"""

from __future__ import annotations

import contextlib
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
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
#: The prefix label of a mount prefix that no mount template of the application matches.
UNKNOWN_MOUNT = "<mount>"

# Per application: (route count when built, [(compiled mount path, mount template)]).
_mounts: weakref.WeakKeyDictionary[Any, tuple[int, list[tuple[re.Pattern[str], str]]]] = (
    weakref.WeakKeyDictionary()
)


def route_template(scope: Scope, root_path: str = "", app: Any = None) -> str:
    """
    Return the template of the route that handled ``scope``, or `UNMATCHED`.

    Args:
        scope: the request's scope, after the application ran.
        root_path: the scope's ``root_path`` before routing (the server's own prefix).
        app: the application whose routes hold the mounts (``scope["app"]`` when None).

    Returns:
        The template, mount prefixes included (``/accounts/{account_id}/messages``).
    """
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    prefix = str(scope.get("root_path", ""))[len(root_path):]
    if prefix:
        prefix = _mount_template(app if app is not None else scope.get("app"), prefix)
    if not isinstance(path_format, str):
        # FastAPI sets no route for a mount around a plain ASGI app: the prefix tells.
        return prefix + "/{path}" if prefix and "endpoint" in scope else UNMATCHED
    if not hasattr(route, "endpoint"):  # a Mount around a plain ASGI app
        return prefix + "/{path}"
    return prefix + path_format


def _mount_template(app: Any, prefix: str) -> str:
    for pattern, template in _mount_templates(app):
        if pattern.fullmatch(prefix):
            return template
    return UNKNOWN_MOUNT


def _mount_templates(app: Any) -> list[tuple[re.Pattern[str], str]]:
    routes = getattr(app, "routes", None)
    if routes is None:
        return []
    try:
        count, templates = _mounts[app]
    except (KeyError, TypeError):  # TypeError: an app that cannot be weakly referenced
        count, templates = -1, []
    if count != len(routes):  # first request, or routes were added since
        templates = sorted(_walk(routes, ""), key=lambda item: -len(item[1]))
        with contextlib.suppress(TypeError):  # an app that cannot be weakly referenced
            _mounts[app] = (len(routes), templates)
    return templates


def _walk(routes: Iterable[Any], parent: str) -> Iterable[tuple[re.Pattern[str], str]]:
    from starlette.routing import Mount, compile_path

    for route in routes:
        if isinstance(route, Mount):
            path = parent + route.path
            regex, template, _ = compile_path(path)
            yield regex, template
            yield from _walk(route.routes, path)


class ServerTimingMiddleware:
    """
    Add ``Server-Timing`` and record per-route latency for every HTTP request.

    Args:
        app: the ASGI application to wrap.
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
        app: ASGIApp,
        *,
        metrics: RequestObserver | None = None,
        server_timing: bool = True,
        cache_details: bool = False,
        exclude_paths: tuple[str, ...] = ("/metrics",),
        loader_name: str = "db",
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.server_timing = server_timing
        self.cache_details = cache_details
        self.exclude_paths = frozenset(exclude_paths)
        self.loader_name = loader_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        app = scope.get("app", self.app)  # read before a mounted app replaces it
        trace, token = start_trace()
        status = 500  # if the app dies before starting a response, the server sends a 500

        async def send_with_timing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if self.server_timing:
                    answered = time.perf_counter() - started
                    value = server_timing(
                        trace, answered, self.loader_name, self.cache_details
                    ).encode("latin-1")
                    headers = [*message.get("headers", ()), (b"server-timing", value)]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            stop_trace(token)
            if self.metrics is not None:
                seconds = time.perf_counter() - started
                route = route_template(scope, root_path, app)
                self.metrics.observe_request(route, scope["method"], status, seconds)
