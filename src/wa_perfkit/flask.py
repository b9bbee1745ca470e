"""
Everything a Flask app imports from wa_perfkit, in one place (extra ``flask``).

```python
from wa_perfkit.flask import FlaskTiming, WaPerfkit, WhatsAppWebhook, cached_user
```

- `cached_user` builds the ``@current_user.required`` object (`FlaskCurrentUser`);
  `auth_response` maps an `AuthError` to the JSON response it answers.
- `WhatsAppWebhook` verifies webhook deliveries and answers the handshake;
  `abort_for` aborts with a `WebhookError`'s status.
- `FlaskTiming` adds ``Server-Timing`` and per-route latency;
  `add_metrics_route` serves Prometheus metrics and `CacheCollector` collects
  them (extra ``prometheus`` as well; imported on first use).
- `WaPerfkit` is the Flask extension: a cache configured from ``app.config``.

The same names, for FastAPI, are in `wa_perfkit.fastapi`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wa_perfkit._extras import require_all

require_all("flask", "flask", "werkzeug")

from wa_perfkit.integrations.flask.auth import (  # noqa: E402
    G_ATTRIBUTE,
    FlaskCurrentUser,
    auth_response,
    cached_user,
)
from wa_perfkit.integrations.flask.extension import WaPerfkit  # noqa: E402
from wa_perfkit.integrations.flask.timing import (  # noqa: E402
    FlaskTiming,
    add_metrics_route,
    route_template,
)
from wa_perfkit.integrations.flask.webhook import WhatsAppWebhook, abort_for  # noqa: E402

if TYPE_CHECKING:
    from wa_perfkit.integrations.prometheus import CacheCollector

__all__ = [
    "G_ATTRIBUTE",
    "CacheCollector",
    "FlaskCurrentUser",
    "FlaskTiming",
    "WaPerfkit",
    "WhatsAppWebhook",
    "abort_for",
    "add_metrics_route",
    "auth_response",
    "cached_user",
    "route_template",
]


def __getattr__(name: str) -> Any:
    # CacheCollector needs prometheus_client: imported on first use only.
    if name != "CacheCollector":
        raise AttributeError(f"module 'wa_perfkit.flask' has no attribute {name!r}")
    from wa_perfkit._extras import require

    require("prometheus_client", "prometheus")
    return require("wa_perfkit.integrations.prometheus", "prometheus").CacheCollector
