"""
Confirmed invalidations: the sender waits until every instance applied them.

```text
sender                                        every subscribed bus
  reply = <channel prefix>ack:<random id>
  PUBLISH {"k": [...], "a": reply} ─────────▶ drop the keys from its L1
  (N = how many subscribers received it)      RPUSH reply 1, PEXPIRE reply
  BLPOP reply, until N items ◀────────────────┘
  or confirm_timeout: BackendError
```

Every bus confirms, the sender's own included, because PUBLISH counts them all.
On a cluster PUBLISH counts the subscribers of one node only, so the sender
counts them first with ``PUBSUB NUMSUB``, which redis-py sums over every node.

A subscriber that never confirms (a hung process, a client of an older version
of this library, a foreign client subscribed to the channel) makes the
invalidation fail after ``confirm_timeout``: Redis no longer holds the keys by
then, but that subscriber's L1 may.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

__all__ = ["acollect", "asubscribers", "confirm", "collect", "reply_key", "subscribers"]

# A reply list outlives any wait for it, then disappears on its own.
_REPLY_TTL_MS = 60_000
# The longest one BLPOP blocks: below the client's read timeout, which would cut it.
_MAX_BLOCK = 0.1
# BLPOP reads a timeout that rounds to 0 ms as "block forever": never send one.
_MIN_BLOCK = 0.005


def reply_key(prefix: str) -> str:
    """
    Return a new reply list's key, under the invalidation channels' prefix.
    """
    return f"{prefix}ack:{uuid.uuid4().hex}"


def confirm(client: Any, reply: str) -> None:
    """
    Push one confirmation to ``reply`` (one round trip; the list expires on its own).
    """
    pipe = client.pipeline(transaction=False)
    pipe.rpush(reply, 1)
    pipe.pexpire(reply, _REPLY_TTL_MS)
    pipe.execute()


def subscribers(client: Any, channels: Iterable[str]) -> int:
    """
    How many clients are subscribed to ``channels``, over every node of a cluster.
    """
    return sum(int(count) for _, count in client.pubsub_numsub(*channels))


async def asubscribers(client: Any, channels: Iterable[str]) -> int:
    """
    Async twin of `subscribers`.
    """
    return sum(int(count) for _, count in await client.pubsub_numsub(*channels))


def collect(client: Any, reply: str, expected: int, timeout: float, read_timeout: float) -> int:
    """
    Wait for ``expected`` confirmations on ``reply``; return how many came in time.
    """
    received = 0
    deadline = time.monotonic() + timeout
    while received < expected:
        block = _block(deadline, read_timeout)
        if block is None:
            break
        if client.blpop([reply], block) is not None:
            received += 1
    return received


async def acollect(
    client: Any, reply: str, expected: int, timeout: float, read_timeout: float
) -> int:
    """
    Async twin of `collect`.
    """
    received = 0
    deadline = time.monotonic() + timeout
    while received < expected:
        block = _block(deadline, read_timeout)
        if block is None:
            break
        if await client.blpop([reply], block) is not None:
            received += 1
    return received


def _block(deadline: float, read_timeout: float) -> float | None:
    # How long the next BLPOP may block, or None when the time is up.
    left = deadline - time.monotonic()
    if left < _MIN_BLOCK:
        return None
    return round(max(_MIN_BLOCK, min(left, _MAX_BLOCK, read_timeout / 2)), 3)
