"""
The webhook body limit against real servers: uvicorn (FastAPI) and Werkzeug (Flask).

A client that streams a chunked body with no ``Content-Length`` is refused with
413 once the limit is passed, and the application has read at most about one
chunk more than the limit (counted at the ASGI ``receive`` / WSGI input). A
malformed ``Content-Length`` sent byte for byte is a 400, never a 500.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from werkzeug.serving import make_server

from tests.integrations._adapters import fastapi_app, flask_app, signed

LIMIT = 1 << 20  # 1 MiB
CHUNK = 64 * 1024
SENT_AT_MOST = 8 << 20  # the client gives up after 8 MiB
# uvicorn hands over whatever arrived since the last receive() in one message, so
# "one chunk" is one server read: bounded by its flow control, well under this.
SLACK = 512 * 1024


class Counter:
    """
    Bytes of request body the application has read.
    """

    def __init__(self) -> None:
        self.read = 0
        self.before_last = 0  # bytes read before the last non-empty read
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            if n:
                self.before_last = self.read
            self.read += n


def counted_asgi(app: Any, counter: Counter) -> Any:
    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        async def counting_receive() -> Any:
            message = await receive()
            counter.add(len(message.get("body", b"")))
            return message

        await app(scope, counting_receive, send)

    return wrapper


class _CountingInput:
    def __init__(self, stream: Any, counter: Counter) -> None:
        self._stream, self._counter = stream, counter

    def read(self, *args: Any) -> bytes:
        data: bytes = self._stream.read(*args)
        self._counter.add(len(data))
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._stream.readline(*args)
        self._counter.add(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def counted_wsgi(app: Any, counter: Counter) -> Any:
    def wrapper(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], counter)
        return app(environ, start_response)

    return wrapper


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def run_uvicorn(app: Any) -> Iterator[int]:
    sock = _free_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):  # wait for startup, at most ~5 s
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_werkzeug(app: Any) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


Server = Callable[[Counter], Iterator[int]]
SERVERS: dict[str, Server] = {
    "fastapi-uvicorn": lambda c: run_uvicorn(counted_asgi(fastapi_app(max_body_bytes=LIMIT), c)),
    "flask-werkzeug": lambda c: run_werkzeug(counted_wsgi(flask_app(max_body_bytes=LIMIT), c)),
}


@pytest.fixture(name="served", params=sorted(SERVERS))
def fixture_served(request: pytest.FixtureRequest) -> Iterator[tuple[int, Counter]]:
    counter = Counter()
    servers = SERVERS[request.param](counter)
    port = next(servers)
    yield port, counter
    next(servers, None)


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        try:
            part = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not part:
            break
        data += part
    return data


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def stream_chunked(port: int) -> tuple[int, int]:
    """
    POST a chunked body until the server answers; return (status, bytes sent).
    """
    head = (
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n"
        + b"X-Hub-Signature-256: " + signed(b"x")["X-Hub-Signature-256"].encode() + b"\r\n\r\n"
    )
    chunk = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        while sent < SENT_AT_MOST:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:  # the server answered: stop sending
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        return _status(_read_response(sock)), sent


def test_chunked_body_stops_one_chunk_past_the_limit(served: tuple[int, Counter]) -> None:
    """A chunked body without Content-Length is refused with 413 after ~limit bytes read."""
    port, counter = served
    status, sent = stream_chunked(port)
    assert status == 413
    # The read that crossed the limit was the last one, and not a large one.
    assert counter.before_last <= LIMIT < counter.read <= LIMIT + SLACK, (counter.read, sent)


@pytest.mark.parametrize("length", [b"\xb2", b"9" * 5000, b"-1"])
def test_malformed_content_length_on_the_wire(served: tuple[int, Counter], length: bytes) -> None:
    """A malformed Content-Length sent byte for byte answers 400 (server or adapter), never 500."""
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length
            + b"\r\nX-Hub-Signature-256: " + signed(b"{}")["X-Hub-Signature-256"].encode()
            + b"\r\nConnection: close\r\n\r\n{}"
        )
        assert _status(_read_response(sock)) == 400
