"""
``/auth/me`` and its floors counted in CPU instructions: the steady view of what a route costs.

Timings on a shared 2-CPU host move by more than the differences between these
routes; a count of instructions does not. Each route of ``bench_auth.py``'s app is
called in-process through ASGI (no HTTP, no load generator), against a throwaway
redis-server, under ``valgrind --tool=callgrind``: once for 200 requests and once
for 1,200, so that start-up cancels out and the difference over 1,000 is the count
per request. Each count is the least of ``--repeat`` runs: a one-off cost (a garbage
collection, a branch taken on the clock, which runs about fifty times slower under
valgrind) only ever adds to a run. The route is moved to the front of the app's
route list first, so no route is tried before it (Starlette tries them in order,
about 12,000 instructions each). Kernel work (the socket round trip to Redis) is not
counted: only the Python process's own instructions.

    python benchmarks/bench_auth_instructions.py [--routes rawredis,rawdep,rawtoken,redis]
                                                 [--repeat 2]   # runs per count
                                                 [--src DIR]   # another checkout's src/

Needs valgrind (``apt-get install valgrind``). Each route takes ``2 x --repeat``
callgrind runs of about 40 s, two at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUTES = "rawredis,rawsafe,rawdep,rawtoken,redis"
FEW, MANY = 200, 1_200


def call_route(route: str, number: int, redis_url: str) -> None:
    """Call ``route`` ``number`` times through the benchmark app (in the measured process)."""
    import jwt

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_auth

    app = bench_auth.build_app(redis_url)
    if route != "tiered":
        # Its invalidation listener is a thread that pings Redis on a clock: counted too,
        # and more of it the longer (50x slower under valgrind) a route runs.
        tiered = next(r for r in app.router.routes if getattr(r, "path", "") == "/tiered")
        tiered.dependant.dependencies[0].call.core.cache.backend.close()  # type: ignore[attr-defined]
    mine = [r for r in app.router.routes if getattr(r, "path", "") == "/" + route]
    app.router.routes[:] = mine + [r for r in app.router.routes if r not in mine]
    headers = [
        [
            (b"host", b"bench"),
            (b"authorization", b"Bearer " + token.encode()),
        ]
        for token in (
            jwt.encode(
                {"sub": f"user-{i}", "aud": "authenticated", "exp": 2_000_000_000},
                bench_auth.SECRET,
                algorithm="HS256",
            )
            for i in range(4)
        )
    ]

    async def one(request_headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": "/" + route,
            "raw_path": f"/{route}".encode(), "query_string": b"", "root_path": "",
            "headers": request_headers, "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        statuses: list[int] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))  # type: ignore[call-overload]

        await app(scope, receive, send)
        assert statuses == [200], statuses

    async def run() -> None:
        for request_headers in headers * 5:  # loaded and stored: what follows are hits
            await one(request_headers)
        for i in range(number):
            await one(headers[i % len(headers)])

    asyncio.run(run())


def _count(route: str, number: int, redis_url: str, src: str) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": f"{src}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, __file__, "--call", route, str(number), redis_url,
        ],
        env=env, capture_output=True, text=True, timeout=900, check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Print the instructions per request of each route, and its ratio to the raw floor."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", default=ROUTES)
    parser.add_argument("--repeat", type=int, default=2, help="runs per count (the least wins)")
    parser.add_argument("--src", default=str(ROOT / "src"), help="the wa_perfkit src/ to run")
    parser.add_argument("--call", nargs=3, metavar=("ROUTE", "N", "REDIS_URL"), help="internal")
    args = parser.parse_args()
    if args.call:
        route, number, url = args.call
        call_route(route, int(number), url)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    sys.path.insert(0, str(ROOT))
    from tests.services import throwaway_redis

    routes = args.routes.split(",")
    counts: dict[str, int] = {}
    with throwaway_redis() as server, ThreadPoolExecutor(2) as pool:
        for route in routes:
            numbers = [FEW, MANY] * args.repeat
            runs = list(pool.map(lambda n, r=route: _count(r, n, server.url, args.src), numbers))
            few, many = min(runs[0::2]), min(runs[1::2])
            counts[route] = (many - few) // (MANY - FEW)
    floor = counts.get("rawredis")
    print("| route (first in the app) | instructions per request | x Redis floor |")
    print("|---|---:|---:|")
    for route in routes:
        ratio = f"{floor / counts[route]:.2f}" if floor else "-"
        print(f"| {route} | {counts[route]:,} | {ratio} |")


if __name__ == "__main__":
    main()
