"""
A throwaway PgBouncer in transaction mode, in front of the test server.

Started on a free port with its own config, log and pid files in a temporary
directory, stopped (by its own process id) at the end. PgBouncer refuses to
run as root: as root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_READY_POLLS = 200  # 0.05 s apart: 10 s at most


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(server_dsn: str, port: int, folder: Path) -> str:
    server = conninfo_to_dict(server_dsn)
    target = (
        f"host={server.get('host', '127.0.0.1')} port={server.get('port', 5432)}"
        f" user={server.get('user', 'postgres')}"
    )
    return f"""[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
ignore_startup_parameters = extra_float_digits,options
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


@contextlib.contextmanager
def running_pgbouncer(binary: str, server_dsn: str) -> Iterator[str]:
    """
    Run PgBouncer in transaction mode and yield a DSN template that goes through it.

    Args:
        binary: path of the ``pgbouncer`` executable.
        server_dsn: DSN of the PostgreSQL server to pool.

    Yields:
        The server DSN with host and port replaced by PgBouncer's.
    """
    folder = Path(tempfile.mkdtemp(prefix="wa_perfkit_pgbouncer_"))
    port = _free_port()
    (folder / "pgbouncer.ini").write_text(_config(server_dsn, port, folder))
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_listening(port, process, folder)
        yield make_conninfo(server_dsn, host="127.0.0.1", port=str(port))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    for _ in range(_READY_POLLS):
        if process.poll() is not None:
            log = (
                (folder / "pgbouncer.log").read_text()
                if (folder / "pgbouncer.log").exists()
                else ""
            )
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: {log[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not listen within 10 s")
