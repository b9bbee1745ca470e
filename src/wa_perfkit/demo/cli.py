"""
``wa-perfkit demo``: run the inbox with caching off then on, print p50/p95 per route.

Exit codes: 0 measured; 1 a measured request failed, or the cache did; 2 bad
command line; 3 a bad ``--redis`` URL or ``--dsn``, or a server that cannot be
reached; 5 the database role may not create the demo's schema; 8 a missing
optional dependency. A failure to start prints one line on stderr, no table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from wa_perfkit.demo.runner import MISSING_DRIVER, USAGE, DemoSetupError

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """
    Add the ``demo`` command to the ``wa-perfkit`` parser.

    Args:
        commands: the dispatcher's subparsers.
    """
    parser = commands.add_parser(
        "demo",
        help="measure the inbox routes with caching off, then on",
        description=(
            "Run a WhatsApp inbox API (six routes, FastAPI) in this process over built-in "
            "sample data, with a simulated remote-database round trip per query; send the "
            "same requests with caching off and then on, and print p50/p95 per route and "
            "how many times faster the cached route is. Progress goes to stderr; the table "
            "(or --json) to stdout."
        ),
        epilog=(
            "exit codes: 0 measured; 1 a request or the cache failed; 2 bad command line; "
            "3 bad --redis URL or --dsn, or server unreachable; 5 no privilege to create "
            "the demo's schema; 8 missing optional dependency"
        ),
    )
    parser.add_argument(
        "--db-latency-ms", type=float, default=None, metavar="MS",
        help="simulated round trip per query (default: 80; 0 with --dsn)",
    )
    parser.add_argument("--redis", metavar="URL", help="cache in this Redis instead of memory")
    parser.add_argument(
        "--dsn", metavar="URL",
        help=(
            "serve the sample data from this Postgres (postgresql:// URL), in a schema of "
            "its own that is dropped afterwards"
        ),
    )
    parser.add_argument("--requests", type=int, default=60, help="requests per route and phase")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument(
        "--max-seconds", type=float, default=25.0, help="time bound of each phase (seconds)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.set_defaults(handler=run)


def _progress(stream: Any, banner: str) -> Any:
    interactive = stream.isatty()
    shown: dict[str, int] = {}

    def show(phase: str, done: int, total: int) -> None:
        # The banner waits for the first request: a run that cannot start says one line.
        if not shown:
            print(banner, file=stream, flush=True)
            shown[""] = 0
        step = max(1, total // 4)
        if interactive:
            end = "\n" if done == total else ""
            print(f"\r  {phase:<16} {done:>4}/{total} requests", end=end, file=stream, flush=True)
        elif done == total or done // step > shown.get(phase, 0):
            shown[phase] = done // step
            print(f"  {phase:<16} {done:>4}/{total} requests", file=stream, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    """
    Handle ``wa-perfkit demo``.

    Returns:
        0, or 1 if any measured request failed or the cache failed during the run.

    Raises:
        DemoSetupError: a bound is out of range, FastAPI is not installed, or the
            Redis of ``--redis`` cannot be used.
        SQLToolkitError: the Postgres of ``--dsn`` cannot be used.
    """
    if not 1 <= args.requests <= 10_000 or not 1 <= args.concurrency <= 256:
        raise DemoSetupError(
            "need 1 <= --requests <= 10000 and 1 <= --concurrency <= 256", USAGE
        )
    if args.max_seconds <= 0 or (args.db_latency_ms is not None and args.db_latency_ms < 0):
        raise DemoSetupError("--max-seconds must be positive and --db-latency-ms >= 0", USAGE)
    try:
        import fastapi  # noqa: F401 - only to say what is missing, before any work
    except ImportError:
        raise DemoSetupError(
            "the demo runs a FastAPI app: pip install 'wa-perfkit[fastapi]'", MISSING_DRIVER
        ) from None
    from wa_perfkit.demo.report import to_json, to_table
    from wa_perfkit.demo.runner import DemoConfig, run_demo

    config = DemoConfig(
        db_latency_ms=args.db_latency_ms, requests=args.requests, concurrency=args.concurrency,
        redis_url=args.redis, dsn=args.dsn, max_seconds=args.max_seconds,
    )
    banner = (
        f"wa-perfkit demo: {config.latency_ms:g} ms per query, "
        f"{'Postgres' if config.dsn else 'built-in'} data, "
        f"{'Redis' if config.redis_url else 'memory'} cache"
    )
    result = asyncio.run(run_demo(config, _progress(sys.stderr, banner)))
    print(to_json(result) if args.json else to_table(result))
    return 1 if result.errors or result.cache.get("backend_errors") else 0
