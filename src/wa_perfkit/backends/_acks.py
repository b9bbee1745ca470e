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

How long the sender waits is decided once, without I/O, by `Confirmations`;
`collect` and `acollect` only run the BLPOPs it asks for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

__all__ = [
    "Confirmations",
    "acollect",
    "asubscribers",
    "confirm",
    "collect",
    "reply_key",
    "subscribers",
]

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
    waits = Confirmations(expected, timeout, read_timeout)
    while (block := waits.next_block()) is not None:
        waits.got(client.blpop([reply], block) is not None)
    return waits.received


async def acollect(
    client: Any, reply: str, expected: int, timeout: float, read_timeout: float
) -> int:
    """
    Async twin of `collect`.
    """
    waits = Confirmations(expected, timeout, read_timeout)
    while (block := waits.next_block()) is not None:
        waits.got(await client.blpop([reply], block) is not None)
    return waits.received


class Confirmations:
    """
    The wait for confirmations, without the waiting: `collect` and `acollect` only
    run the BLPOPs this asks for and report what each one returned.
    """

    def __init__(self, expected: int, timeout: float, read_timeout: float) -> None:
        self.expected = expected
        #: How many confirmations came so far.
        self.received = 0
        self._deadline = time.monotonic() + timeout
        self._read_timeout = read_timeout

    def next_block(self) -> float | None:
        """
        How long the next BLPOP may block (in seconds, to the millisecond), or None
        when every confirmation came or the time is up.
        """
        if self.received >= self.expected:
            return None
        left = self._deadline - time.monotonic()
        if left < _MIN_BLOCK:
            return None
        return round(max(_MIN_BLOCK, min(left, _MAX_BLOCK, self._read_timeout / 2)), 3)

    def got(self, item_arrived: bool) -> None:
        """
        Record what a BLPOP returned: a confirmation, or nothing before it timed out.
        """
        if item_arrived:
            self.received += 1
