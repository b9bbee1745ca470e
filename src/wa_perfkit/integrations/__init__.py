"""
Web framework integrations: thin adapters over the framework-free core.

```text
fastapi/        auth.py (cached_user dependency), webhook.py, metrics.py (/metrics route)
flask/          auth.py (cached_user decorator), webhook.py, timing.py, extension.py
asgi.py         ServerTimingMiddleware: Server-Timing and per-route latency (ASGI)
prometheus.py   CacheCollector: cache counters and latency histograms
```

Both frameworks turn a refusal into an HTTP answer through one shared table
and nothing else, so a bad token, a bad webhook signature or an unavailable
user store gets the same status, body and headers under FastAPI and Flask.
"""
