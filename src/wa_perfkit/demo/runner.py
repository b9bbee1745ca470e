"""
The demo run: the same inbox app with caching off, then on, under the same load.

```text
--redis / --dsn given? ─▶ connect once first: a bad URL, an unreachable
                          server or a missing driver stops here (`DemoSetupError`)
sample data ─▶ store (memory + simulated round trip, or Postgres in a
               schema of its own, dropped at the end)
phase "before": app without cache ─▶ 1 warm-up request per route
                ─▶ the measured requests
phase "after":  app on a memory (or Redis) cache ─▶ every distinct request
                once (the misses that fill the cache) ─▶ the same measured requests
```

Both phases send the same requests (same users, tokens, conversations,
cursors) in the same order through the same number of workers. Every figure
of the report comes from these timings; nothing is computed from the
configured latency.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import jwt

from wa_perfkit.auth.verifier import JWTVerifier
from wa_perfkit.backends.base import Backend
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.demo.data import SampleData, sample_data
from wa_perfkit.demo.load import Outcome, Request, call, percentile, run_load
from wa_perfkit.demo.store import InboxStore, MemoryStore
from wa_perfkit.errors import WaPerfkitError

__all__ = [
    "CONNECTION_FAILED", "DEFAULT_LATENCY_MS", "FRESH_READS", "MISSING_DRIVER", "ROUTES", "USAGE",
    "DemoConfig", "DemoResult", "DemoSetupError", "Summary", "run_demo",
]

#: The simulated round trip per query, of the order measured on a hosted Postgres
#: (Supabase) from an application server in another region.
DEFAULT_LATENCY_MS: Final = 80.0
#: The inbox routes, in the table's order.
ROUTES: Final = (
    "/auth/me", "/accounts", "/admin/users", "/conversations",
    "/messages/{conversation_id}", "/bot/profile",
)
#: What each route still reads from the database when the cache holds everything it
#: may hold (listings and pages are read fresh on purpose; see `wa_perfkit.demo.app`).
FRESH_READS: Final = {
    "/auth/me": "none",
    "/accounts": "none",
    "/admin/users": "the user list, kept fresh",
    "/conversations": "the page, kept fresh",
    "/messages/{conversation_id}": "the page of messages, kept fresh",
    "/bot/profile": "none",
}
#: Exit code of a bad command line (as argparse's own).
USAGE: Final = 2
#: Exit code of a bad URL or DSN, or a server that cannot be reached (as ``wa-perfkit sql``).
CONNECTION_FAILED: Final = 3
#: Exit code of a missing optional dependency (as ``wa-perfkit sql``).
MISSING_DRIVER: Final = 8
#: Seconds to wait for a Redis server's first answer.
_CONNECT_TIMEOUT: Final = 3.0
_INVALID_REDIS_URL: Final = (
    "invalid Redis URL (not shown: it may contain a password); expected "
    "redis://[:password@]host[:port][/db], rediss://... or unix:///path"
)
# redis-py's connection failures, by what they mean (its message is not printed whole).
_REDIS_REASONS: Final = (
    ("refused", "connection refused (is the server running on that host and port?)"),
    ("name or service not known", "unknown host name"),
    ("name resolution", "unknown host name"),
    ("nodename nor servname", "unknown host name"),
    ("no such file", "no such socket file"),
    ("wrongpass", "authentication failed"),
    ("noauth", "the server asks for a password and none was given"),
)
#: Conversations per account that the agents keep opening (the working set).
_HOT_CONVERSATIONS: Final = 8

PhaseProgress = Callable[[str, int, int], None]


class DemoSetupError(WaPerfkitError):
    """
    The demo cannot start: a bad bound or Redis URL, an unreachable server, a missing driver.

    Attributes:
        exit_code: the ``wa-perfkit demo`` exit code (`USAGE`, `CONNECTION_FAILED`,
            `MISSING_DRIVER`).
    """

    def __init__(self, message: str, exit_code: int = CONNECTION_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class DemoConfig:
    """
    What the demo runs.

    Attributes:
        db_latency_ms: the simulated round trip added to every query; None means
            80 ms on the built-in store and 0 with ``dsn`` (its real latency counts).
        requests: measured requests per route and phase.
        concurrency: requests in flight at once.
        redis_url: cache on this Redis instead of in process memory.
        dsn: serve the sample data from this Postgres instead of memory.
        conversations: conversations in the sample data.
        max_seconds: no new request starts after this many seconds in a phase.
        seed: the random seed of the data and the request mix.
    """

    db_latency_ms: float | None = None
    requests: int = 60
    concurrency: int = 8
    redis_url: str | None = None
    dsn: str | None = None
    conversations: int = 2000
    max_seconds: float = 25.0
    seed: int = 2025

    @property
    def latency_ms(self) -> float:
        """The round trip actually simulated per query, in milliseconds."""
        if self.db_latency_ms is not None:
            return self.db_latency_ms
        return 0.0 if self.dsn else DEFAULT_LATENCY_MS


@dataclass(frozen=True)
class Summary:
    """
    One route's timings in one phase.

    Attributes:
        requests: measured requests.
        p50_ms: median latency.
        p95_ms: 95th percentile latency.
        errors: answers that were not 2xx.
    """

    requests: int
    p50_ms: float
    p95_ms: float
    errors: int

    @classmethod
    def of(cls, outcome: Outcome, route: str) -> Summary:
        """Summarise ``route``'s timings in ``outcome``."""
        timings = outcome.timings.get(route) or [float("nan")]
        return cls(
            len(outcome.timings.get(route, [])),
            percentile(timings, 0.50) * 1000,
            percentile(timings, 0.95) * 1000,
            outcome.errors.get(route, 0),
        )


@dataclass
class DemoResult:
    """
    Everything the demo measured.

    Attributes:
        before: per route, caching off.
        after: per route, caching on (after the warm-up misses).
        settings: how the run was configured (backend, store, latency, load).
        queries: database round trips per measured request, per phase.
        cache: hits, misses and hit ratio of the "after" cache during the measured load.
        elapsed_s: wall seconds of the whole run.
    """

    before: dict[str, Summary] = field(default_factory=dict)
    after: dict[str, Summary] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, float] = field(default_factory=dict)
    cache: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def gain(self, route: str) -> float:
        """
        Return the relative change of ``route``'s p50 (``-0.95`` is 95% faster).
        """
        before, after = self.before[route].p50_ms, self.after[route].p50_ms
        return after / before - 1.0

    def speed_up(self, route: str) -> float:
        """
        Return how many times faster ``route``'s p50 is with the cache (``650.0``: ×650).
        """
        before, after = self.before[route].p50_ms, self.after[route].p50_ms
        return before / after if after > 0 else float("inf")

    @property
    def errors(self) -> int:
        """Non-2xx answers in the measured requests of both phases."""
        phases = (self.before, self.after)
        return sum(summary.errors for phase in phases for summary in phase.values())


@dataclass
class _Context:
    config: DemoConfig
    data: SampleData
    verifier: JWTVerifier
    tokens: dict[str, str]
    cursor_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    server_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))


def _mint(secret: bytes, user_id: str) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "aud": "authenticated", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


def _context(config: DemoConfig) -> _Context:
    data = sample_data(conversations=config.conversations, seed=config.seed)
    secret = secrets.token_bytes(32)
    tokens = {row["user_id"]: _mint(secret, row["user_id"]) for row in data.users}
    verifier = JWTVerifier(secret=secret, audience="authenticated")
    return _Context(config, data, verifier, tokens)


def check_redis(url: str) -> None:
    """
    Connect to the Redis at ``url`` once (PING), so that a bad one stops the demo at once.

    Without this check the demo would run on: a cache whose backend fails is a
    miss, never an error, so the "with cache" figures would silently be figures
    without one.

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL.

    Raises:
        DemoSetupError: the URL cannot be read, the server does not answer PING, or
            the ``redis`` extra is not installed. The message never shows a password.
    """
    try:
        import redis
    except ImportError:
        raise DemoSetupError(
            "--redis needs redis-py: pip install 'wa-perfkit[redis]'", MISSING_DRIVER
        ) from None
    from wa_perfkit.backends._redis_ops import redact_url

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=_CONNECT_TIMEOUT, socket_timeout=_CONNECT_TIMEOUT
        )
        shown = redact_url(url)
    except (ValueError, TypeError):  # the message may quote the URL, password included
        raise DemoSetupError(_INVALID_REDIS_URL) from None
    try:
        client.ping()
    except redis.AuthenticationError:
        reason = "authentication failed"
    except redis.TimeoutError:
        reason = f"no answer within {_CONNECT_TIMEOUT:g} s"
    except redis.RedisError as exc:
        text = str(exc).lower()
        reason = next(
            (why for needle, why in _REDIS_REASONS if needle in text),
            f"the server is unreachable or refused PING ({type(exc).__name__})",
        )
    else:
        return
    finally:
        client.close()
    raise DemoSetupError(f"cannot connect to Redis at {shown}: {reason}")


async def _open_store(context: _Context) -> InboxStore:
    latency = context.config.latency_ms / 1000
    if context.config.dsn is None:
        return MemoryStore(context.data, latency)
    from wa_perfkit.demo.pgstore import PostgresStore

    return await PostgresStore.open(context.config.dsn, context.data, latency)


def _after_cache(context: _Context) -> Cache:
    if context.config.redis_url is None:
        return Cache(MemoryBackend(maxsize=50_000), namespace="wa_perfkit_demo")
    from wa_perfkit.backends.redis import RedisBackend

    backend: Backend = RedisBackend(context.config.redis_url)
    # A fresh version per run: nothing of an earlier run is read, and `aclear`
    # at the end removes exactly this run's keys.
    return Cache(backend, namespace="wa_perfkit_demo", version=uuid.uuid4().hex[:12])


def _build_app(context: _Context, store: InboxStore, cache: Cache | None) -> Any:
    from wa_perfkit.demo.app import create_app

    return create_app(
        store, cache, verifier=context.verifier, cursor_secret=context.cursor_secret,
        server_key=context.server_key,
    )


async def _plan(context: _Context, app: Any) -> list[Request]:
    """
    Build the measured requests: ``requests`` per route, interleaved, seeded.
    """
    data = context.data
    rng = random.Random(context.config.seed)  # noqa: S311 - a request mix, not secrets
    admins = set(data.admins())
    agents = [link for link in data.user_roles if link["user_id"] not in admins]
    admin_token = context.tokens[next(iter(admins))]
    hot: dict[str, list[str]] = {}
    for row in data.conversations:
        listed = hot.setdefault(row["account_id"], [])
        if len(listed) < _HOT_CONVERSATIONS:
            listed.append(row["id"])
    second_pages: dict[str, str] = {}
    for link in agents:  # page 2 needs a real cursor: ask the app for page 1 (unmeasured)
        account, token = link["account_id"], context.tokens[link["user_id"]]
        if account not in second_pages:
            setup = Request("setup", "/conversations", token, {"account_id": account})
            second_pages[account] = (await call(app, setup)).body["next"]

    def one(route: str) -> Request:
        link = rng.choice(agents)
        token, account = context.tokens[link["user_id"]], link["account_id"]
        if route == "/admin/users":
            return Request(route, route, admin_token)
        if route == "/conversations":
            params = {"account_id": account}
            if rng.random() < 0.5:
                params["cursor"] = second_pages[account]
            return Request(route, route, token, params)
        if route == "/messages/{conversation_id}":
            return Request(route, f"/messages/{rng.choice(hot[account])}", token)
        if route == "/bot/profile":
            return Request(route, route, token, {"account_id": account})
        if route == "/auth/me" and rng.random() < 0.2:
            return Request(route, route, admin_token)
        return Request(route, route, token)

    return [one(route) for _ in range(context.config.requests) for route in ROUTES]


def _distinct(requests: list[Request], first_per_route: bool) -> list[Request]:
    seen: set[Any] = set()
    chosen = []
    for request in requests:
        identity: Any = (
            request.route if first_per_route
            else (request.path, request.token, tuple(sorted(request.params.items())))
        )
        if identity not in seen:
            seen.add(identity)
            chosen.append(request)
    return chosen


@dataclass
class _Phase:
    outcome: Outcome
    queries_per_request: float
    cache: dict[str, float]


async def _phase(
    label: str,
    context: _Context,
    app: Any,
    store: InboxStore,
    cache: Cache | None,
    plan: list[Request],
    progress: PhaseProgress | None,
) -> _Phase:
    config = context.config
    warmup = _distinct(plan, first_per_route=label == "before")

    def reporter(stage: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(stage, done, total)

    await run_load(
        app, warmup, concurrency=config.concurrency, deadline=config.max_seconds,
        progress=reporter(f"{label} warm-up"),
    )
    queries = store.queries
    stats = cache.stats() if cache is not None else None
    outcome = await run_load(
        app, plan, concurrency=config.concurrency, deadline=config.max_seconds,
        progress=reporter(label),
    )
    ratio: dict[str, float] = {}
    if cache is not None and stats is not None:
        now = cache.stats()
        hits, misses = now.hits - stats.hits, now.misses - stats.misses
        ratio = {
            "hits": hits, "misses": misses, "hit_ratio": hits / max(1, hits + misses),
            "backend_errors": now.backend_errors - stats.backend_errors,
        }
    return _Phase(outcome, (store.queries - queries) / max(1, outcome.sent), ratio)


async def run_demo(config: DemoConfig, progress: PhaseProgress | None = None) -> DemoResult:
    """
    Run the demo and return what it measured.

    Args:
        config: what to run.
        progress: called as ``progress(phase, done, total)`` while requests complete.

    Returns:
        The measured timings per route and phase.

    Raises:
        DemoSetupError: the Redis of ``config.redis_url`` cannot be used.
        SQLToolkitError: the Postgres of ``config.dsn`` cannot be used (its
            ``exit_code`` says why, as for ``wa-perfkit sql``).
    """
    started = time.perf_counter()
    if config.redis_url is not None:
        await asyncio.to_thread(check_redis, config.redis_url)
    context = _context(config)
    store = await _open_store(context)
    after_cache = _after_cache(context)
    try:
        before_app = _build_app(context, store, None)
        plan = await _plan(context, before_app)
        before = await _phase("before", context, before_app, store, None, plan, progress)
        after_app = _build_app(context, store, after_cache)
        after = await _phase("after", context, after_app, store, after_cache, plan, progress)
    finally:
        if config.redis_url is not None:
            await after_cache.aclear()
        await after_cache.aclose()
        await store.aclose()
    result = DemoResult(
        before={route: Summary.of(before.outcome, route) for route in ROUTES},
        after={route: Summary.of(after.outcome, route) for route in ROUTES},
        queries={"before": before.queries_per_request, "after": after.queries_per_request},
        cache=after.cache,
    )
    result.settings = {
        "store": "postgres" if config.dsn else "memory",
        "cache": "redis" if config.redis_url else "memory",
        "db_latency_ms": config.latency_ms,
        "requests_per_route": config.requests,
        "concurrency": config.concurrency,
        "conversations": len(context.data.conversations),
        "messages": len(context.data.messages),
        "driver": "in-process ASGI calls",
    }
    result.elapsed_s = time.perf_counter() - started
    return result
