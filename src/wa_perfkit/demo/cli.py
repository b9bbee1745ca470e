"""
``wa-perfkit demo``: run the inbox with caching off then on, print the seed's table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from wa_perfkit.errors import ConfigurationError

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
            "Run the seed's inbox API in-process (memory cache, built-in sample data, a "
            "simulated remote-database round trip per query), drive a bounded load through "
            "every route with caching off and then on, and print p50/p95 before and after. "
            "Progress goes to stderr; the table (or --json) to stdout."
        ),
    )
    parser.add_argument(
        "--db-latency-ms", type=float, default=None, metavar="MS",
        help="simulated round trip per query (default: 80; 0 with --dsn)",
    )
    parser.add_argument("--redis", metavar="URL", help="cache in this Redis instead of memory")
    parser.add_argument(
        "--dsn", metavar="URL",
        help="serve the sample data from this Postgres (schema created, demo rows removed after)",
    )
    parser.add_argument("--requests", type=int, default=60, help="requests per route and phase")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument(
        "--max-seconds", type=float, default=25.0, help="time bound of each phase (seconds)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.set_defaults(handler=run)


def _progress(stream: Any) -> Any:
    interactive = stream.isatty()
    shown: dict[str, int] = {}

    def show(phase: str, done: int, total: int) -> None:
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
        0, or 1 if any measured request failed.

    Raises:
        ConfigurationError: a bound is not positive, or FastAPI is not installed.
    """
    if not 1 <= args.requests <= 10_000 or not 1 <= args.concurrency <= 256:
        raise ConfigurationError("need 1 <= --requests <= 10000 and 1 <= --concurrency <= 256")
    if args.max_seconds <= 0 or (args.db_latency_ms is not None and args.db_latency_ms < 0):
        raise ConfigurationError("--max-seconds must be positive and --db-latency-ms >= 0")
    try:
        import fastapi  # noqa: F401 - only to say what is missing, before any work
    except ImportError:
        raise ConfigurationError(
            "the demo runs a FastAPI app: pip install 'wa-perfkit[fastapi]'"
        ) from None
    from wa_perfkit.demo.report import to_json, to_table
    from wa_perfkit.demo.runner import DemoConfig, run_demo

    config = DemoConfig(
        db_latency_ms=args.db_latency_ms, requests=args.requests, concurrency=args.concurrency,
        redis_url=args.redis, dsn=args.dsn, max_seconds=args.max_seconds,
    )
    print(
        f"wa-perfkit demo: {config.latency_ms:g} ms per query, "
        f"{'Postgres' if config.dsn else 'built-in'} data, "
        f"{'Redis' if config.redis_url else 'memory'} cache",
        file=sys.stderr,
    )
    result = asyncio.run(run_demo(config, _progress(sys.stderr)))
    print(to_json(result) if args.json else to_table(result))
    return 1 if result.errors else 0
