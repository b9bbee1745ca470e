"""
Drive an ASGI app in-process and time each request.

Requests are plain ASGI calls (``await app(scope, receive, send)``), with no
socket and no HTTP client in between: a timing is the app's and the
framework's own cost plus the database round trips it waits for, which is
what the cache changes. A closed loop of ``concurrency`` workers runs a
fixed list of requests, bounded in count and in time (``deadline``).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

__all__ = ["Call", "Outcome", "Request", "call", "percentile", "run_load"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Request:
    """
    One HTTP request to send.

    Attributes:
        route: the route's label in the report (``/messages/{conversation_id}``).
        path: the concrete path.
        token: the bearer token, if any.
        params: the query string parameters.
        method: the HTTP method.
        body: a JSON body, if any.
    """

    route: str
    path: str
    token: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: Any = None


@dataclass(frozen=True)
class Call:
    """
    A response and how long it took.

    Attributes:
        status: the HTTP status.
        body: the decoded JSON body (None if not JSON).
        headers: the response headers, lower-cased names.
        seconds: wall time from the call to the last body byte.
    """

    status: int
    body: Any
    headers: dict[str, str]
    seconds: float


@dataclass
class Outcome:
    """
    What a load run measured.

    Attributes:
        timings: seconds per route, in completion order.
        errors: non-2xx answers per route.
        sent: requests sent (fewer than planned if the deadline passed).
        elapsed: wall seconds of the run.
    """

    timings: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    elapsed: float = 0.0


async def call(app: Any, request: Request) -> Call:
    """
    Send one request to an ASGI app, in-process.

    Args:
        app: the ASGI application.
        request: what to send.

    Returns:
        The response and its timing.
    """
    headers = [(b"host", b"demo.local")]
    if request.token is not None:
        headers.append((b"authorization", f"Bearer {request.token}".encode()))
    body = b"" if request.body is None else json.dumps(request.body).encode()
    if body:
        headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": request.method, "scheme": "http", "path": request.path,
        "raw_path": request.path.encode(), "root_path": "",
        "query_string": urlencode(request.params).encode(), "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("demo.local", 80),
    }
    sent_body = False
    status, chunks, response_headers = 0, [], {}

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if sent_body:  # the app waits for a disconnect it will never get
            await asyncio.Event().wait()
        sent_body = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                response_headers[name.decode().lower()] = value.decode()
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    started = time.perf_counter()
    await app(scope, receive, send)
    seconds = time.perf_counter() - started
    raw = b"".join(chunks)
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = None
    return Call(status, decoded, response_headers, seconds)


async def run_load(
    app: Any,
    requests: Sequence[Request],
    *,
    concurrency: int,
    deadline: float,
    progress: Progress | None = None,
) -> Outcome:
    """
    Send ``requests`` through ``concurrency`` workers; stop starting new ones at ``deadline``.

    Args:
        app: the ASGI application.
        requests: the requests, in the order they are started.
        concurrency: how many are in flight at once.
        deadline: seconds after which no new request starts.
        progress: called as ``progress(done, total)`` after each request.

    Returns:
        The timings and errors per route.
    """
    outcome = Outcome()
    queue = iter(requests)
    started = time.perf_counter()
    stop_at = started + deadline

    async def worker() -> None:
        for request in queue:
            if time.perf_counter() > stop_at:
                return
            result = await call(app, request)
            outcome.sent += 1
            outcome.timings.setdefault(request.route, []).append(result.seconds)
            if not 200 <= result.status < 300:
                outcome.errors[request.route] = outcome.errors.get(request.route, 0) + 1
            if progress is not None:
                progress(outcome.sent, len(requests))

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    outcome.elapsed = time.perf_counter() - started
    return outcome


def percentile(values: Sequence[float], fraction: float) -> float:
    """
    Return the nearest-rank percentile of ``values`` (``fraction`` in [0, 1]).

    Args:
        values: the samples (non-empty).
        fraction: 0.5 for the median, 0.95 for p95.

    Returns:
        The sample at that rank.
    """
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
