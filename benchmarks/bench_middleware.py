"""
Overhead of `ServerTimingMiddleware` on a trivial FastAPI route, on real uvicorn servers.

Three servers run side by side on loopback, each in its own process, serving the
same app: without the middleware (``bare``), with it and ``Server-Timing`` only
(``timing``), and with it feeding a Prometheus `CacheCollector` (``timing+prom``).
A second process drives them: raw HTTP/1.1 over keep-alive sockets (a client
lighter than the server, so the client's own cost does not hide the server's),
in rounds that rotate the order of the servers, so a burst of noise on the
machine hits every variant alike; a second bare server (A/A) shows the noise
floor. Every load is bounded in requests and time.

Reported per variant: p50/p95/p99 latency over all rounds (one connection,
requests back to back) and the throughput with 8 connections; the overhead is
the p50 difference against ``bare``. Target: at most 5 %.

    python benchmarks/bench_middleware.py [--requests 500] [--rounds 40]
        [--out docs/observability-benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# "bare (A/A)" is a second, identical bare server: the difference it shows is the noise floor.
VARIANTS = ("bare", "bare (A/A)", "timing", "timing+prom")
PATH = "/messages/{conversation_id}"
DEADLINE_S = 600.0  # the whole run, whatever the arguments


# -- server side -------------------------------------------------------------------


def build_app(variant: str) -> Any:
    """The FastAPI app of one variant: one trivial templated route."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get(PATH, response_class=PlainTextResponse)
    async def message(conversation_id: str) -> str:
        return "ok"

    if not variant.startswith("bare"):
        from wa_perfkit.integrations.asgi import ServerTimingMiddleware

        metrics = None
        if variant == "timing+prom":
            from prometheus_client import CollectorRegistry

            from wa_perfkit.integrations.prometheus import CacheCollector

            metrics = CacheCollector(registry=CollectorRegistry())
        app.add_middleware(ServerTimingMiddleware, metrics=metrics)
    return app


def _pin(cpu: int) -> None:
    # Servers on one CPU, the driver on another: they never steal each other's core.
    cpus = os.cpu_count() or 1
    if cpus >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu % cpus})


def serve(variant: str, port: int) -> None:
    """Run one variant on 127.0.0.1:port until killed."""
    import uvicorn

    _pin(-1)
    uvicorn.run(
        build_app(variant), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


# -- client side -------------------------------------------------------------------


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


class Connection:
    """One keep-alive HTTP/1.1 connection reading Content-Length bodies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def get(self, path: str) -> int:
        self.sock.sendall(_request(path))
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        return int(head.split(b" ", 2)[1])

    def _fill(self) -> None:
        self.buffer += self._recv()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def latencies(port: int, requests: int, budget_s: float) -> list[float]:
    """Back-to-back requests on one connection: each one's seconds (bounded by budget_s)."""
    conn = Connection(port)
    out: list[float] = []
    stop = time.perf_counter() + budget_s
    try:
        for i in range(requests):
            started = time.perf_counter()
            status = conn.get(f"/messages/c{i}")
            out.append(time.perf_counter() - started)
            assert status == 200, status
            if started > stop:
                break
    finally:
        conn.close()
    return out


def throughput(port: int, connections: int, requests: int, budget_s: float) -> float:
    """Requests per second with ``connections`` concurrent keep-alive connections."""
    done = [0] * connections
    stop = time.perf_counter() + budget_s

    def worker(index: int) -> None:
        conn = Connection(port)
        try:
            for i in range(requests // connections):
                conn.get(f"/messages/w{index}-{i}")
                done[index] += 1
                if time.perf_counter() > stop:
                    break
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(budget_s + 10)
    return sum(done) / (time.perf_counter() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(ports: dict[str, int], pids: dict[str, int], requests: int, rounds: int) -> dict[str, Any]:
    """The driver process: warm up, then interleaved rounds; returns raw results."""
    _pin(0)
    for port in ports.values():
        latencies(port, 500, 10.0)  # warm-up: imports, first-request paths, caches
    samples: dict[str, list[float]] = {v: [] for v in ports}
    medians: dict[str, list[float]] = {v: [] for v in ports}
    rates: dict[str, list[float]] = {v: [] for v in ports}
    # Server CPU per request: contention on the machine stretches wall time, not CPU time.
    cpu = dict.fromkeys(ports, 0.0)
    served = dict.fromkeys(ports, 0)
    order = list(ports)
    for r in range(rounds):
        rotated = order[r % len(order):] + order[: r % len(order)]
        for variant in rotated:
            before = cpu_seconds(pids[variant])
            values = latencies(ports[variant], requests, 20.0)
            cpu[variant] += cpu_seconds(pids[variant]) - before
            served[variant] += len(values)
            samples[variant] += values
            medians[variant].append(statistics.median(values))
        for variant in rotated:
            rates[variant].append(throughput(ports[variant], 8, requests // 2, 20.0))
    cpu_us = {v: cpu[v] / served[v] * 1e6 for v in ports}
    return {"samples": samples, "medians": medians, "rates": rates, "cpu_us": cpu_us}


def _scope(i: int) -> dict[str, Any]:
    path = f"/messages/c{i}"
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
    }


def inprocess_cost(calls: int = 2_000, repeats: int = 15) -> dict[str, float]:
    """
    Microseconds per request of each variant's whole FastAPI app, called as ASGI.

    No server and no network: the app alone, best of ``repeats`` loops of
    ``calls`` requests, variants interleaved. Noise on the machine only ever
    adds time, so the minimum is the cleanest view of what the middleware adds.
    """
    import asyncio

    apps = {variant: build_app(variant) for variant in VARIANTS if variant != "bare (A/A)"}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def loop(app: Any) -> float:
        started = time.perf_counter()
        for i in range(calls):
            await app(_scope(i), receive, send)
        return (time.perf_counter() - started) / calls * 1e6

    async def measure() -> dict[str, float]:
        best = dict.fromkeys(apps, float("inf"))
        for app in apps.values():
            await loop(app)  # warm-up
        for _ in range(repeats):
            for name, app in apps.items():
                best[name] = min(best[name], await loop(app))
        return best

    return asyncio.run(measure())


# -- orchestration -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"server on port {port} did not start")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    result: dict[str, Any], requests: int, rounds: int, micro: dict[str, float]
) -> str:
    """The markdown page."""
    import fastapi
    import uvicorn

    samples, medians, rates = result["samples"], result["medians"], result["rates"]
    cpu_us = result["cpu_us"]
    base = statistics.median(samples["bare"])

    def paired(variant: str) -> float:
        # Round by round against the bare server's same round: drift cancels out.
        ratios = [v / b for v, b in zip(medians[variant], medians["bare"], strict=True)]
        return (statistics.median(ratios) - 1) * 100

    rows = []
    for variant in VARIANTS:
        values = samples[variant]
        p50 = statistics.median(values)
        rows.append(
            f"| {variant} | {p50 * 1e6:.0f} | {_quantile(values, 0.95) * 1e6:.0f} "
            f"| {_quantile(values, 0.99) * 1e6:.0f} | {(p50 - base) / base * 100:+.1f} % "
            f"| {paired(variant):+.1f} % | {cpu_us[variant]:.0f} "
            f"({(cpu_us[variant] / cpu_us['bare'] - 1) * 100:+.1f} %) "
            f"| {statistics.median(rates[variant]):,.0f} |"
        )
    overhead = {v: paired(v) for v in VARIANTS[1:]}

    def share(variant: str) -> float:
        return (micro[variant] - micro["bare"]) / (base * 1e6) * 100
    verdict = "within" if max(overhead["timing"], overhead["timing+prom"]) <= 5.0 else "ABOVE"
    return "\n".join([
        "# Observability overhead",
        "",
        "`ServerTimingMiddleware` on a trivial FastAPI route (`GET /messages/{conversation_id}`",
        "returning `ok`), measured by `benchmarks/bench_middleware.py` on real uvicorn servers",
        "over loopback. Three servers (one process each) serve the same app without the",
        "middleware, with `Server-Timing` only, and with `Server-Timing` plus a Prometheus",
        "`CacheCollector` recording the per-route histogram. A second process drives them over",
        "raw keep-alive HTTP/1.1 in rounds that rotate the servers' order; a fourth server,",
        "bare again (A/A), measures the noise floor.",
        "",
        f"Latency: one connection, {requests:,} back-to-back requests per variant and round,",
        f"{rounds} rounds (each request's id distinct, so the route label is resolved every",
        "time). Server CPU: user + system CPU time of the server process (from /proc) over",
        "those requests, divided by their number — unlike wall time, other processes on the",
        "machine barely move it. Throughput: 8 connections, median of the rounds.",
        "",
        "| variant | p50 µs | p95 µs | p99 µs | p50 vs bare (pooled) "
        "| p50 vs bare (per round, median) | server CPU µs/req | req/s (8 conns) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Result: {verdict} the 5 % target on p50, per-round median "
        f"(timing {overhead['timing']:+.1f} %, timing+prom {overhead['timing+prom']:+.1f} %; "
        f"the A/A control, a second bare server, shows {overhead['bare (A/A)']:+.1f} %: "
        "differences of that size are noise).",
        "",
        "The same three apps called in process as ASGI, without server or network (best of",
        "15 loops of 2,000 requests — noise only ever adds time, so the minimum is the",
        f"cleanest view): bare {micro['bare']:.1f} µs a request, with the middleware "
        f"{micro['timing']:.1f} µs ({micro['timing'] - micro['bare']:+.1f} µs), with the "
        f"Prometheus histogram too {micro['timing+prom']:.1f} µs "
        f"({micro['timing+prom'] - micro['bare']:+.1f} µs). Against the bare server's p50 of "
        f"{base * 1e6:.0f} µs that is {share('timing'):.1f} % and {share('timing+prom'):.1f} %.",
        "",
        "Machine: "
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"uvicorn {uvicorn.__version__} (h11 unless httptools is installed), "
        f"FastAPI {fastapi.__version__}.",
        "On Linux the servers are pinned to the last CPU and the driver to the first, so they",
        "do not compete with each other; other processes on the machine still add noise, which",
        "the A/A row measures. Reproduce with",
        "`python benchmarks/bench_middleware.py`.",
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "serve", "load"])
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--ports", help="JSON {variant: port} for the load process")
    parser.add_argument("--pids", help="JSON {variant: server pid} for the load process")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    requests, rounds = min(args.requests, 50_000), min(args.rounds, 30)
    if args.command == "serve":
        serve(args.variant, args.port)
        return
    if args.command == "load":
        json.dump(load(json.loads(args.ports), json.loads(args.pids), requests, rounds), sys.stdout)
        return
    ports = {variant: _free_port() for variant in VARIANTS}
    servers = [
        subprocess.Popen(
            [sys.executable, __file__, "serve", "--variant", v, "--port", str(p)]
        )
        for v, p in ports.items()
    ]
    try:
        for port in ports.values():
            _wait_ready(port)
        driver = subprocess.run(
            [sys.executable, __file__, "load", "--ports", json.dumps(ports),
             "--pids", json.dumps({v: srv.pid for v, srv in zip(ports, servers, strict=True)}),
             "--requests", str(requests), "--rounds", str(rounds)],
            capture_output=True, text=True, timeout=DEADLINE_S, check=True,
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(10)
    page = report(json.loads(driver.stdout), requests, rounds, inprocess_cost())
    print(page)
    if args.out:
        args.out.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    main()
