"""
``/auth/me`` on a real uvicorn server over loopback: the cost of authentication.

Plain, bounded script (under two minutes). It starts a throwaway redis-server
and one uvicorn process serving these routes, all returning a user:

* ``/floor``  no authentication at all (the framework's floor);
* ``/rawredis`` no authentication, one ``redis.asyncio`` ``GET`` + ``json.loads`` of a
  user-sized JSON per request: the floor of any route that reads Redis once;
* ``/rawsafe`` the same read on a client with `RedisBackend`'s timeouts (0.25 s
  read, 1 s connect): the floor of a route that must not hang on a stuck Redis;
* ``/rawdep`` the same read done by a FastAPI dependency (``Depends``, taking the
  ``Request``, as `cached_user` does): what the framework adds for any dependency;
* ``/rawtoken`` the least any per-token cache in Redis does: a dependency that
  takes the bearer token from the header, keys it with HMAC-SHA256 and reads that
  key (``GET`` on the client with timeouts, ``json.loads``): no entry check, no
  single-flight, no metrics;
* ``/verify`` verify the JWT + a loader that sleeps 20 ms (the seed's code);
* ``/naive``  ``sha256(token) -> TTLCache`` (skips verification, outlives ``exp``);
* ``/mem``    `cached_user` on a `MemoryBackend`;
* ``/redis``  `cached_user` on a `RedisBackend`;
* ``/tiered`` `cached_user` on a `TieredBackend` (L1 hits).

A second process drives each route with a small keep-alive HTTP/1.1 client
on raw asyncio streams (lighter than httpx, so the server is what is
measured): ``--concurrency`` connections for ``--seconds``, then one
connection for ``--single`` requests. Tokens are warmed first, so cached
routes are measured on hits. Redis commands per request come from
``INFO commandstats`` (reset before the Redis run); loader calls,
signature verifications and the server process's CPU time per request from
the server's counters. ``--rounds N`` alternates the routes N times and
reports medians: on a host shared with other jobs, throughput swings from one
route to the next, while the server's CPU time per request (and its ratio to
the raw-Redis floor's) stays put.

It then calls the routes in-process, one request at a time straight through
the ASGI app (no HTTP, no load generator competing for the CPUs), and reports
each one's CPU time per request: the steadiest view of what a route costs on a
busy host. It also times, in-process, what the entry policy costs per hit: the check of an
entry read from Redis (decode, then MAC and user decode the first time, a MAC
comparison after), the check of a tiered L1 hit (the very object checked
before), and the token's fingerprint.

    python benchmarks/bench_auth.py [--seconds 5] [--concurrency 32] [--single 400]
                                    [--routes floor,rawredis,redis]   # a subset
                                    [--rounds 3]   # alternate the routes, report medians
                                    [--src DIR]   # another checkout's src/, to compare
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-legacy-jwt-secret-that-is-long-enough-0123456789abcdef"
SERVER_KEY = "bench-fingerprint-key-0123456789"
# The Redis route right after its floors: the ratios that matter are measured back to back.
ROUTES = (
    "floor", "rawredis", "rawsafe", "rawdep", "rawtoken", "redis", "verify", "naive", "mem",
    "tiered",
)
#: What the raw-Redis floor route reads: about the size of a cached user entry.
RAW_USER = {"id": "user-0", "roles": ["agent"], "email": "agent-0@example.com", "name": "Agent 0"}
TOKENS = 50


# -- the server process ------------------------------------------------------------------


def serve(port: int, redis_url: str) -> None:
    """Run the benchmark app (called in the server subprocess)."""
    import uvicorn

    app = build_app(redis_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def build_app(redis_url: str) -> Any:
    """The benchmark's FastAPI app: every route, on Redis at ``redis_url``."""
    import cachetools
    import redis
    import redis.asyncio
    from fastapi import Depends, FastAPI, Header, HTTPException, Request

    from wa_perfkit.auth import JWTVerifier
    from wa_perfkit.backends.memory import MemoryBackend
    from wa_perfkit.backends.redis import RedisBackend
    from wa_perfkit.backends.tiered import TieredBackend
    from wa_perfkit.cache import Cache
    from wa_perfkit.integrations.fastapi.auth import cached_user

    loads = {route: 0 for route in ROUTES}
    verifiers = {route: JWTVerifier(SECRET, audience="authenticated") for route in ROUTES}

    def loader_for(route: str) -> Any:
        async def load_user(claims: dict[str, Any]) -> dict[str, Any]:
            loads[route] += 1
            await asyncio.sleep(0.02)  # the Supabase round trip of the seed
            return {"id": claims["sub"], "roles": ["agent"]}

        return load_user

    mem = cached_user(
        loader_for("mem"), verifier=verifiers["mem"], cache=Cache(MemoryBackend(), namespace="b")
    )
    red = cached_user(
        loader_for("redis"),
        verifier=verifiers["redis"],
        server_key=SERVER_KEY,
        cache=Cache(RedisBackend(redis_url), namespace="bench-auth"),
    )
    tiered = TieredBackend(l2=RedisBackend(redis_url))
    tie = cached_user(
        loader_for("tiered"),
        verifier=verifiers["tiered"],
        server_key=SERVER_KEY,
        cache=Cache(tiered, namespace="bench-tiered"),
    )
    tiered.wait_ready(10)
    raw_client = redis.asyncio.Redis.from_url(redis_url)
    # What bounds a hung server: redis-py then wraps every write in a timeout and
    # arms a timer for every read.
    safe_client = redis.asyncio.Redis.from_url(
        redis_url, socket_timeout=0.25, socket_connect_timeout=1.0
    )
    raw_key = "bench-raw:user-0"
    redis.Redis.from_url(redis_url).set(raw_key, json.dumps(RAW_USER).encode())
    naive_cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=10_000, ttl=120)
    load_verify, load_naive = loader_for("verify"), loader_for("naive")
    app = FastAPI()

    @app.get("/floor")
    async def floor() -> dict[str, Any]:
        return {"id": "anonymous", "roles": []}

    @app.get("/rawredis")
    async def raw_redis() -> dict[str, Any]:
        data: bytes = await raw_client.get(raw_key)  # type: ignore[assignment]
        return json.loads(data)  # type: ignore[no-any-return]

    @app.get("/rawsafe")
    async def raw_redis_with_timeouts() -> dict[str, Any]:
        data: bytes = await safe_client.get(raw_key)  # type: ignore[assignment]
        return json.loads(data)  # type: ignore[no-any-return]

    async def raw_user(request: Request) -> dict[str, Any]:
        data: bytes = await raw_client.get(raw_key)  # type: ignore[assignment]
        return json.loads(data)  # type: ignore[no-any-return]

    # Annotations are strings here (postponed): FastAPI resolves them in the module's
    # globals, where this function-local import is not.
    raw_user.__annotations__["request"] = Request

    @app.get("/rawdep")
    async def raw_dependency(user: dict[str, Any] = Depends(raw_user)) -> dict[str, Any]:  # noqa: B008
        return user

    token_key = hmac.new(SERVER_KEY.encode(), digestmod=hashlib.sha256)

    async def token_user(request: Request) -> dict[str, Any]:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        mac = token_key.copy()
        mac.update(token.encode())
        key = "bench-rawtoken:" + mac.hexdigest()
        data: bytes | None = await safe_client.get(key)
        if data is None:  # first request of this token (the warm-up): store it
            data = json.dumps(RAW_USER).encode()
            await safe_client.set(key, data, ex=3600)
        return json.loads(data)  # type: ignore[no-any-return]

    token_user.__annotations__["request"] = Request

    @app.get("/rawtoken")
    async def raw_token(user: dict[str, Any] = Depends(token_user)) -> dict[str, Any]:  # noqa: B008
        return user

    # Registered right after its floors: Starlette tries routes in order, and every route
    # tried before the matching one costs about 2 µs (a regex and FastAPI's route
    # context), which is of the size of the difference being measured. Every floor comes
    # first, so route order counts against `cached_user`, never for it.
    @app.get("/redis")
    async def on_redis(user: dict[str, Any] = Depends(red)) -> dict[str, Any]:  # noqa: B008
        return user

    @app.get("/verify")
    async def verify(authorization: str = Header("")) -> dict[str, Any]:
        token = authorization.removeprefix("Bearer ")
        try:
            claims = verifiers["verify"].verify(token)
        except Exception:
            raise HTTPException(401) from None
        return await load_verify(claims)

    @app.get("/naive")
    async def naive(authorization: str = Header("")) -> dict[str, Any]:
        key = hashlib.sha256(authorization.encode()).hexdigest()
        user = naive_cache.get(key)
        if user is None:
            claims = verifiers["naive"].verify(authorization.removeprefix("Bearer "))
            user = naive_cache[key] = await load_naive(claims)
        return user  # type: ignore[no-any-return]

    @app.get("/mem")
    async def on_memory(user: dict[str, Any] = Depends(mem)) -> dict[str, Any]:  # noqa: B008
        return user

    @app.get("/tiered")
    async def on_tiered(user: dict[str, Any] = Depends(tie)) -> dict[str, Any]:  # noqa: B008
        return user

    @app.get("/counters")
    async def counters() -> dict[str, Any]:
        cpu = time.process_time()  # the server's CPU seconds, whoever else shares the host
        return {
            r: {"loads": loads[r], "verifications": verifiers[r].verifications, "cpu": cpu}
            for r in ROUTES
        }

    return app


# -- the load process --------------------------------------------------------------------


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


def _raw(route: str, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET /{route} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode()


async def _connection(
    port: int, route: str, tokens: list[str], until: float, lat: list[float], limit: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    requests = [_raw(route, t) for t in tokens]
    i = 0
    try:
        while time.perf_counter() < until and i < limit:
            started = time.perf_counter()
            status = await _request(reader, writer, requests[i % len(requests)])
            lat.append(time.perf_counter() - started)
            assert status == 200, status
            i += 1
    finally:
        writer.close()


async def _drive(
    port: int, route: str, tokens: list[str], seconds: float, concurrency: int, single: int
) -> dict[str, float]:
    warm: list[float] = []
    await asyncio.gather(
        *(_connection(port, route, [t], time.perf_counter() + 5, warm, 1) for t in tokens)
    )
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(
                port, route, tokens[i::concurrency] or tokens, started + seconds, latencies, 10**9
            )
            for i in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    one: list[float] = []
    await _connection(port, route, tokens, time.perf_counter() + seconds, one, single)
    return {
        "requests": len(latencies) + len(one) + len(warm),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p50_one": statistics.median(one) * 1000,
    }


def load(port: int, route: str, seconds: float, concurrency: int, single: int) -> None:
    """Drive one route and print its numbers as JSON (called in the load subprocess)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import jwt

    now = int(time.time()) // 3600 * 3600  # the same tokens in the warm-up and measured runs
    tokens = [
        jwt.encode(
            {"sub": f"user-{i}", "aud": "authenticated", "exp": now + 7200, "iat": now},
            SECRET,
            algorithm="HS256",
        )
        for i in range(TOKENS)
    ]
    print(json.dumps(asyncio.run(_drive(port, route, tokens, seconds, concurrency, single))))


# -- one request at a time through the app, in-process ------------------------------------


#: The routes timed in-process, one request at a time (no HTTP, no load generator).
ASGI_ROUTES = ("floor", "rawredis", "rawsafe", "rawdep", "rawtoken", "redis", "mem", "tiered")


def asgi_cost(redis_url: str, number: int) -> None:
    """Print each route's CPU time per request, called through ASGI (in a subprocess)."""
    import jwt

    app = build_app(redis_url)
    token = jwt.encode(
        {"sub": "user-0", "aud": "authenticated", "exp": int(time.time()) + 3600},
        SECRET,
        algorithm="HS256",
    )
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]

    async def call(route: str) -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": "/" + route,
            "raw_path": f"/{route}".encode(), "query_string": b"", "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent[0]

    async def measure() -> dict[str, float]:
        for route in ASGI_ROUTES:
            for _ in range(3):  # loaded, then hits
                await call(route)
        best: dict[str, float] = {}
        for _ in range(5):  # alternating, best of 5: the least disturbed pass
            for route in ASGI_ROUTES:
                started = time.process_time()
                for _ in range(number):
                    await call(route)
                spent = (time.process_time() - started) / number * 1e6
                best[route] = min(best.get(route, spent), spent)
        return best

    print(json.dumps(asyncio.run(measure())))


def _asgi_table(redis_url: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, __file__, "--asgi", redis_url],
        env=env, capture_output=True, text=True, timeout=600, check=True,
    )
    costs = json.loads(out.stdout.strip().splitlines()[-1])
    lines = [
        "",
        "| one request at a time through the ASGI app (CPU µs per request, best of 5) "
        "| µs | x Redis floor | x Redis + dependency floor |",
        "|---|---:|---:|---:|",
    ]
    for route in ASGI_ROUTES:
        micros = costs[route]
        lines.append(
            f"| {route} | {micros:.0f} | {costs['rawredis'] / micros:.2f} "
            f"| {costs['rawdep'] / micros:.2f} |"
        )
    return "\n".join(lines)


# -- the MAC cost per hit (in-process) ----------------------------------------------------


_MAC_SCRIPT = r"""
import json, sys, time, timeit
from wa_perfkit.auth import CachedUser, JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache

url, key_text = sys.argv[1], sys.argv[2]
verifier = JWTVerifier("x" * 40, audience="authenticated")
user = {"id": "user-1", "email": "agent@example.com", "roles": ["agent", "admin"]}

def per_call(call, number=50_000):
    # CPU time of this process, not wall time: other jobs on the host inflate it less.
    call()
    runs = timeit.repeat(call, number=number, repeat=7, timer=time.process_time)
    return min(runs) / number * 1e6

def user_cache(backend):
    return CachedUser(lambda c: user, verifier=verifier, cache=Cache(backend, namespace="m"),
                      server_key=key_text)

memory = user_cache(MemoryBackend())
if not hasattr(memory, "_policy"):  # a release before entry policies (--src): no table
    print("{}")
    sys.exit()
key = memory._entries + "f" * 64
plain, _ = memory._policy.to_store(key, user, 3600.0, time.time())
loads = memory.cache.serializer.loads
raw_plain = memory.cache.serializer.dumps(plain)
result = {
    "Redis hit, unsigned entry: decode + exp check": per_call(
        lambda: memory._policy.from_store(key, loads(raw_plain), time.time())),
    "L1/memory hit, unsigned entry: exp check": per_call(
        lambda: memory._policy.from_store(key, plain, time.time())),
}
remote = user_cache(RedisBackend(url))
signed, _ = remote._policy.to_store(key, user, 3600.0, time.time())
raw_signed = remote.cache.serializer.dumps(signed)

def first_read():  # a new instance: nothing checked yet
    remote._policy._checked.clear()
    return remote._policy.from_store(key, loads(raw_signed), time.time())

result["Redis hit, signed entry, first read: decode + MAC + decode user"] = per_call(first_read)
result["Redis hit, signed entry, read again: decode + MAC compare"] = per_call(
    lambda: remote._policy.from_store(key, loads(raw_signed), time.time()))
tiered = TieredBackend(l2=RedisBackend(url))
l1 = user_cache(tiered)
entry, _ = l1._policy.to_store(key, user, 3600.0, time.time())  # remembered as written
result["tiered L1 hit, signed entry"] = per_call(
    lambda: l1._policy.from_store(key, entry, time.time()))
token = "eyJhbGciOiJIUzI1NiJ9." + "x" * 180 + "." + "y" * 43  # a Supabase-sized token
result["token fingerprint: HMAC-SHA256 of the token"] = per_call(lambda: remote.fingerprint(token))
tiered.close()
print(json.dumps(result))
"""


def _mac_cost(redis_url: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _MAC_SCRIPT, redis_url, SERVER_KEY],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )
    costs = json.loads(out.stdout.strip().splitlines()[-1])
    title = "| user-entry check, per hit (in-process CPU time, best of 7) | µs |"
    lines = ["", title, "|---|---:|"]
    lines += [f"| {name} | {micros:.2f} |" for name, micros in costs.items()]
    return "\n".join(lines)


# -- the orchestrator --------------------------------------------------------------------


def _wait_http(port: int, deadline: float) -> None:
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the uvicorn server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--single", type=int, default=400)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "REDIS_URL"))
    parser.add_argument("--load", nargs=2, metavar=("PORT", "ROUTE"))
    parser.add_argument("--asgi", metavar="REDIS_URL")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the routes N times")
    parser.add_argument(
        "--routes", default=",".join(ROUTES), help="comma-separated subset (floor is always run)"
    )
    parser.add_argument("--src", default=str(ROOT / "src"), help="the wa_perfkit src/ to run")
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    if args.asgi:
        asgi_cost(args.asgi, 2000)
        return
    if args.load:
        load(int(args.load[0]), args.load[1], args.seconds, args.concurrency, args.single)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    import redis

    sys.path.insert(0, str(ROOT))
    from tests.services import free_port, throwaway_redis

    env = {**os.environ, "PYTHONPATH": f"{args.src}{os.pathsep}{ROOT}"}
    with throwaway_redis() as server:
        port = free_port()
        app = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), server.url], env=env
        )
        try:
            _wait_http(port, time.monotonic() + 20)
            client = redis.Redis.from_url(server.url)
            rounds: dict[str, list[dict[str, float]]] = {}
            commands: dict[str, float] = {}
            counters: dict[str, dict[str, float]] = {}
            chosen = set(args.routes.split(",")) | {"floor"}
            for route in [r for r in ROUTES if r in chosen]:
                _load(port, route, env, 0.2, args.concurrency, 1)  # warm: every token loaded once
            for _ in range(args.rounds):  # routes alternate: a busy spell hits each of them
                for route in [r for r in ROUTES if r in chosen]:
                    before = json.loads(_get(port, "/counters"))[route]
                    client.config_resetstat()
                    result = _load(port, route, env, args.seconds, args.concurrency, args.single)
                    rounds.setdefault(route, []).append(result)
                    stats = client.info("commandstats")
                    calls = sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_config")
                    commands[route] = commands.get(route, 0.0) + calls
                    after = json.loads(_get(port, "/counters"))[route]
                    total = counters.setdefault(route, {k: 0.0 for k in after})
                    for k in after:
                        total[k] += after[k] - before[k]
            results = {route: _median(runs) for route, runs in rounds.items()}
            for route, runs in rounds.items():
                requests = sum(run["requests"] for run in runs)
                commands[route] /= requests
                counters[route] = {k: v / requests for k, v in counters[route].items()}
        finally:
            app.terminate()
            app.wait(10)
        mac = _mac_cost(server.url, env)
        asgi = _asgi_table(server.url, env)
    _print(results, commands, counters, args)
    for floor_route in ("rawredis", "rawsafe", "rawdep", "rawtoken"):
        if floor_route in rounds and "redis" in rounds:
            pairs = list(zip(rounds["redis"], rounds[floor_route], strict=True))
            by_rps = [ours["rps"] / raw["rps"] for ours, raw in pairs]
            by_cpu = counters[floor_route]["cpu"] / counters["redis"]["cpu"]
            print(
                f"\ncached_user on Redis / {floor_route}: req/s round by round "
                + ", ".join(f"{x:.2f}" for x in by_rps)
                + f" (median {statistics.median(by_rps):.2f}); by server CPU per request"
                f" {by_cpu:.2f}"
            )
    print(asgi)
    print(mac)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    # Each number's median over the rounds (a round disturbed by another job is outvoted).
    return {k: statistics.median(run[k] for run in runs) for k in runs[0]}


def _load(
    port: int, route: str, env: dict[str, str], seconds: float, concurrency: int, single: int
) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--load",
        str(port),
        route,
        "--seconds",
        str(seconds),
        "--concurrency",
        str(concurrency),
        "--single",
        str(single),
    ]
    out = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds * 4 + 30, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _get(port: int, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


def _print(
    results: dict[str, dict[str, float]],
    commands: dict[str, float],
    counters: dict[str, dict[str, float]],
    args: argparse.Namespace,
) -> None:
    floor, raw = results["floor"], results.get("rawredis")
    names = {
        "floor": "no auth (floor)",
        "rawredis": "no auth, raw Redis GET + json.loads (Redis floor)",
        "rawsafe": "the same, client with RedisBackend's timeouts (safe Redis floor)",
        "rawdep": "the same in a Depends (Redis + dependency floor)",
        "rawtoken": "token -> HMAC key -> GET in a Depends (per-token cache floor)",
        "verify": "verify + 20 ms loader",
        "naive": "naive sha256 -> TTLCache",
        "mem": "cached_user, memory",
        "redis": "cached_user, Redis",
        "tiered": "cached_user, tiered",
    }
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"uvicorn (h11, asyncio) 1 worker; {args.concurrency} connections x {args.seconds:g} s, "
        f"then 1 connection x {args.single} requests; {TOKENS} users' tokens; "
        f"median of {args.rounds} alternating round(s).\n"
    )
    print(
        "| route | req/s | x floor | x Redis floor | server CPU µs/req | x Redis floor, by CPU "
        "| p50 ms | p50 ms, 1 conn | Redis cmds/req | loads/req | verifications/req |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for route in [r for r in ROUTES if r in results]:
        r, c = results[route], counters[route]
        x_raw = f"{r['rps'] / raw['rps']:.2f}" if raw else "-"
        raw_cpu = counters["rawredis"]["cpu"] if raw else None
        x_cpu = f"{raw_cpu / c['cpu']:.2f}" if raw_cpu else "-"
        print(
            f"| {names[route]} | {r['rps']:,.0f} | {r['rps'] / floor['rps']:.2f} | {x_raw} | "
            f"{c['cpu'] * 1e6:.0f} | {x_cpu} | "
            f"{r['p50']:.2f} | {r['p50_one']:.2f} | {commands[route]:.3f} | "
            f"{c['loads']:.4f} | {c['verifications']:.4f} |"
        )


if __name__ == "__main__":
    main()
