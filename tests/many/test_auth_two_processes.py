"""
Two app instances in two processes on one Redis: invalidation and revocation reach both.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth._tokens import claims, hs_token
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def _start(redis_url: str, namespace: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.many._auth_worker", str(port), redis_url, namespace], cwd=ROOT
    )
    return process, f"http://127.0.0.1:{port}"


def _wait(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/public", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{base} did not start")


@pytest.fixture(name="instances")
def fixture_instances(
    redis_url: str, namespace: str
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    started = [_start(redis_url, namespace) for _ in range(2)]
    try:
        # Liveness only: importing FastAPI and uvicorn on a loaded 2-CPU host took > 20 s.
        deadline = time.monotonic() + 90
        for _, base in started:
            _wait(base, deadline)
        with httpx.Client(base_url=started[0][1]) as a, httpx.Client(base_url=started[1][1]) as b:
            yield a, b
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(10)


def _get(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


class TestTwoProcesses:
    def test_invalidate_and_revoke_reach_the_other_instance(
        self, instances: tuple[httpx.Client, httpx.Client]
    ) -> None:
        """invalidate_user on A makes B reload; revoke on A fails the token on B only."""
        a, b = instances
        first = hs_token(claims(sub="olga", jti="1"))
        second = hs_token(claims(sub="olga", jti="2"))
        assert _get(a, first).json()["version"] == 1  # A loads
        assert _get(b, first).json()["version"] == 1  # B hits A's entry
        assert b.get("/test/counts").json() == {"loads": 0, "verifications": 0}

        assert a.post("/test/invalidate/olga").json() == {"removed": 1}
        assert _get(b, first).json()["version"] == 1  # B's own first load: a reload
        assert b.get("/test/counts").json()["loads"] == 1

        assert _get(b, second).status_code == 200
        assert a.post("/auth/logout", headers={"Authorization": f"Bearer {first}"}).json() == {
            "revoked": True
        }
        for client in (a, b):
            response = _get(client, first)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert _get(client, second).status_code == 200
