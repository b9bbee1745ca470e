"""
``wa-perfkit demo``: a WhatsApp inbox API, measured with caching off and then on.

Six inbox routes run on FastAPI in this process, over built-in sample
data (3 accounts, 9 users, 2,000 conversations and their messages) whose
every query waits a simulated remote-database round trip (80 ms by default).
The same requests go through the app twice, on a cache that never hits and
then on a real one, and the demo prints p50/p95 per route before and after:

```text
wa-perfkit demo                                  # memory cache, built-in data
wa-perfkit demo --redis redis://127.0.0.1:6379/0 # cache in Redis
wa-perfkit demo --dsn postgresql://...           # data in Postgres
wa-perfkit demo --json                           # machine-readable
```

Requests are direct ASGI calls (no socket): the timings are the app's, the
framework's and the database's, without a network or an HTTP client.
Needs the ``fastapi`` extra (``pip install 'wa-perfkit[fastapi]'``).
"""

from __future__ import annotations

from wa_perfkit.demo.runner import DEFAULT_LATENCY_MS, ROUTES, DemoConfig, DemoResult, run_demo

__all__ = ["DEFAULT_LATENCY_MS", "ROUTES", "DemoConfig", "DemoResult", "run_demo"]
