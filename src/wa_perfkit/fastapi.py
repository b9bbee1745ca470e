"""
Everything a FastAPI app imports from wa_perfkit, in one place (extra ``fastapi``).

```python
from wa_perfkit.fastapi import ServerTimingMiddleware, WhatsAppWebhook, cached_user
```

- `cached_user` builds the ``Depends(current_user)`` object (`CurrentUser`);
  `auth_http_error` maps an `AuthError` to the `HTTPException` it answers.
- `WhatsAppWebhook` verifies webhook deliveries and answers the handshake;
  `http_error` maps a `WebhookError` to its `HTTPException`.
- `ServerTimingMiddleware` adds ``Server-Timing`` and per-route latency;
  `add_metrics_route` and `CacheCollector` serve Prometheus metrics (extra
  ``prometheus`` as well; imported on first use).

The same names, for Flask, are in `wa_perfkit.flask`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wa_perfkit._extras import require_all

require_all("fastapi", "fastapi", "starlette")

from wa_perfkit.integrations.asgi import ServerTimingMiddleware, route_template  # noqa: E402
from wa_perfkit.integrations.fastapi.auth import (  # noqa: E402
    CurrentUser,
    auth_http_error,
    cached_user,
)
from wa_perfkit.integrations.fastapi.webhook import WhatsAppWebhook, http_error  # noqa: E402

if TYPE_CHECKING:
    from wa_perfkit.integrations.fastapi.metrics import add_metrics_route
    from wa_perfkit.integrations.prometheus import CacheCollector

__all__ = [
    "CacheCollector",
    "CurrentUser",
    "ServerTimingMiddleware",
    "WhatsAppWebhook",
    "add_metrics_route",
    "auth_http_error",
    "cached_user",
    "http_error",
    "route_template",
]

_LAZY = {
    "add_metrics_route": "wa_perfkit.integrations.fastapi.metrics",
    "CacheCollector": "wa_perfkit.integrations.prometheus",
}


def __getattr__(name: str) -> Any:
    # Names that need prometheus_client are imported on first use only.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wa_perfkit.fastapi' has no attribute {name!r}")
    from wa_perfkit._extras import require

    require("prometheus_client", "prometheus")
    return getattr(require(module, "prometheus"), name)
