"""
A throwaway 3-master Redis Cluster on free loopback ports, always cleaned up.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

from tests.services import free_port, unavailable


@dataclass
class Cluster:
    """Three cluster-enabled redis-server processes joined into one cluster."""

    ports: list[int]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="wa-perfkit-cluster-"))

    @property
    def url(self) -> str:
        """A URL of one node: cluster clients discover the others."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> Cluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            unavailable("redis-server and redis-cli are needed for the cluster tests")
        assert server is not None and cli is not None
        for port in self.ports:
            args = [server, "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                    "--cluster-config-file", f"{self.workdir}/nodes-{port}.conf",
                    "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                    "--dir", self.workdir]
            self.processes.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        for port in self.ports:
            self._wait(lambda p=port: _ping(p), "node did not start")
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
        )
        for port in self.ports:
            self._wait(lambda p=port: _cluster_ok(p), "cluster_state never became ok")
        return self

    def _wait(self, ready: object, message: str) -> None:
        deadline = time.monotonic() + 20
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                self.stop()
                unavailable(f"throwaway cluster: {message}")
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _ping(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _cluster_ok(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        info = client.execute_command("CLUSTER INFO")
        if isinstance(info, dict):
            return str(info.get("cluster_state")) == "ok"
        return "cluster_state:ok" in (info.decode() if isinstance(info, bytes) else str(info))
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Start a 3-master cluster on free ports; always kill it and remove its files."""
    cluster = Cluster([free_port() for _ in range(3)])
    try:
        yield cluster.start()
    finally:
        cluster.stop()
