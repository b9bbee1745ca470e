"""
A ``/metrics`` endpoint for FastAPI and Starlette apps (extra ``prometheus``).

```python
metrics = CacheCollector([cache], registry=registry)
app.add_middleware(ServerTimingMiddleware, metrics=metrics)
add_metrics_route(app, registry)
```

A plain route rather than ``app.mount``: a mount answers ``/metrics`` with a
redirect to ``/metrics/``, which some scrapers do not follow.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["add_metrics_route"]


def add_metrics_route(
    app: Starlette, registry: CollectorRegistry | None = None, path: str = "/metrics"
) -> None:
    """
    Serve ``registry`` in the Prometheus text format at ``path`` (GET, not in OpenAPI).

    Args:
        app: a FastAPI or Starlette application.
        registry: the registry to expose; the default ``REGISTRY`` when None.
        path: where to serve it.
    """
    source = registry or REGISTRY

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)

    app.router.routes.append(Route(path, metrics, methods=["GET"], include_in_schema=False))
