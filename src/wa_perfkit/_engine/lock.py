"""
A cross-process lock on one Redis key, and the single-flight built on it.

`RedisLock` is the classic single-instance Redis lock:

* acquire: ``SET key token NX PX ttl`` with a random token;
* release: a compare-and-delete script, so a holder whose lock expired (and
  was taken by someone else) never deletes the new holder's lock;
* expiry: a holder that crashes blocks no one longer than ``ttl``.

`LockedFlight` makes "run this loader once across processes" out of it. It
runs only on a miss, after the per-process single-flight, so one caller per
process takes part:

```text
try acquire ─ got it ─▶ re-check the cache ─ hit ─▶ done (someone just stored it)
    │                         └─ miss ─▶ load, store ─▶ release
    └─ held elsewhere ─▶ re-check the cache ─ hit ─▶ done
                              └─ miss ─▶ sleep (5 ms doubling to 50 ms, jittered), retry
```

Waiters poll with a capped, jittered backoff: for a 200 ms load that is
about six cheap ``GET`` + ``SET NX`` pairs per waiting process, not a busy
loop. When the holder dies its lock expires after ``ttl`` and the next retry
takes it. If Redis fails (or the breaker is open), the flight degrades to a
plain load: a cache outage never blocks a caller.

Not a fencing lock (no Redlock, no fencing token): it only prevents duplicate
loads, which is safe to get wrong once in a while — e.g. a load that outlives
``ttl`` lets a second loader in.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from wa_perfkit._engine.steps import Flow, LockAdd, LockDelete, Sleep
from wa_perfkit._log import logger
from wa_perfkit.backends.base import MISS, LockStore
from wa_perfkit.errors import BackendError
from wa_perfkit.policy import Duration, ttl_seconds

__all__ = ["LockedFlight", "RedisLock"]

T = TypeVar("T")

#: Suffix of the lock key of a cache key.
LOCK_SUFFIX = ":lock"


class RedisLock:
    """
    A lock on one key, held for at most ``ttl`` seconds.

    Args:
        store: a `LockStore` (a `RedisBackend`).
        key: the lock's key (give it the protected key's namespace).
        ttl: seconds after which the lock frees itself (a crashed holder's bound).

    Raises:
        ConfigurationError: ``ttl`` is not a positive, finite number of seconds.
        BackendError: from `acquire`/`release` when Redis fails (callers decide).
    """

    def __init__(self, store: LockStore, key: str, ttl: Duration) -> None:
        self.store = store
        self.key = key
        self.ttl = ttl_seconds(ttl)
        self.token = secrets.token_hex(16).encode()
        self.held = False

    def __repr__(self) -> str:
        return f"RedisLock({self.key!r}, ttl={self.ttl}, held={self.held})"

    def acquire(self) -> bool:
        """
        Try once: True if this lock now holds the key.
        """
        self.held = self.store.add(self.key, self.token, self.ttl)
        return self.held

    async def aacquire(self) -> bool:
        """
        Async twin of `acquire`.
        """
        self.held = await self.store.aadd(self.key, self.token, self.ttl)
        return self.held

    def release(self) -> bool:
        """
        Release if still ours; False if it expired (and maybe went to someone else).
        """
        self.held = False
        return self.store.delete_if_equals(self.key, self.token)

    async def arelease(self) -> bool:
        """
        Async twin of `release`.
        """
        self.held = False
        return await self.store.adelete_if_equals(self.key, self.token)


class LockedFlight:
    """
    Runs a loader once across processes for one key (see the module docstring).

    Args:
        store: where locks live.
        ttl: lock TTL in seconds: the longest a crashed holder blocks the others.
        first_delay: first wait of a waiter, doubled up to ``max_delay``.
        max_delay: longest single wait between two checks.
    """

    def __init__(
        self,
        store: LockStore,
        ttl: float = 10.0,
        *,
        first_delay: float = 0.005,
        max_delay: float = 0.05,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.first_delay = first_delay
        self.max_delay = max_delay

    def _next(self, delay: float) -> tuple[float, float]:
        # Full jitter on the upper half, so waiting processes do not poll in step.
        wait = delay / 2 + random.random() * delay / 2  # noqa: S311 (jitter, not security)
        return wait, min(delay * 2, self.max_delay)

    def flow(
        self, key: str, check: Callable[[], Flow[Any]], load: Callable[[], Flow[T]]
    ) -> Flow[Any]:
        """
        Return what ``check`` finds once someone stored it, or what ``load`` returns.

        ``check`` and ``load`` make flows; this one runs them under the lock
        of ``key`` and polls (with backoff) while another process holds it.
        """
        lock_key, token = key + LOCK_SUFFIX, secrets.token_hex(16).encode()
        delay = self.first_delay
        while True:
            try:
                acquired = yield LockAdd(self.store, lock_key, token, self.ttl)
            except BackendError:
                return (yield from load())  # Redis is not usable: degrade to a local load
            if acquired:
                try:
                    found = yield from check()
                    return (yield from load()) if found is MISS else found
                finally:
                    try:
                        yield LockDelete(self.store, lock_key, token)
                    except BackendError:
                        logger.debug(
                            "wa_perfkit: lock release failed; it expires in %.1f s", self.ttl
                        )
            found = yield from check()
            if found is not MISS:
                return found
            wait, delay = self._next(delay)
            yield Sleep(wait)
