"""
Web framework integrations: thin adapters over the framework-free core.

```text
fastapi/        auth.py (cached_user dependency), webhook.py, metrics.py (/metrics route)
flask/          auth.py (cached_user decorator), webhook.py, timing.py, extension.py
asgi.py         ServerTimingMiddleware: Server-Timing and per-route latency (ASGI)
prometheus.py   CacheCollector: cache counters and latency histograms
_http_errors.py the one table that turns a library error into status, body and headers
```

Both frameworks answer a refusal through ``_http_errors.error_response`` and
nothing else, so a bad token, a bad webhook signature or an unavailable user
store gets the same status, body and headers under FastAPI and Flask.
"""
