"""
A counting user store for the auth tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any


class Users:
    """A user store that counts loads; loads may be slowed, failed or held."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.missing: set[str] = set()
        self.delay = 0.0
        self.roles: dict[str, list[str]] = {}
        self.gate: threading.Event | None = None
        # Set when a load starts, so a race test can act while the load is running.
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def _user(self, claims: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            self.calls += 1
        if self.fail:
            raise ConnectionError("database is down")
        sub = claims["sub"]
        if sub in self.missing:
            return None
        return {"id": sub, "roles": self.roles.get(sub, ["agent"]), "version": self.calls}

    def load(self, claims: dict[str, Any]) -> dict[str, Any] | None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        return self._user(claims)

    async def aload(self, claims: dict[str, Any]) -> dict[str, Any] | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._user(claims)
