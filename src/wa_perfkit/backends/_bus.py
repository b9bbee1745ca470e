"""
The invalidation bus of a tiered backend: Redis pub/sub, one listener thread.

One daemon thread per `TieredBackend` holds one subscribed connection and
applies what other instances publish to the local L1. A thread rather than
an asyncio task because the L1 is shared by sync and async callers alike, and
a thread keeps working whatever event loops come and go (a task would die
with the loop that ran it).

Channels: ``<prefix><namespace>`` (``wa_perfkit:inv:inbox``), one per cache
namespace, plus ``<prefix>`` itself, always subscribed, which also carries
messages for keys without a namespace. Classic ``PUBLISH``/``SUBSCRIBE`` only:
Redis 6+, Valkey and Redis Cluster (which broadcasts them to every node) all
have it.

Messages are small JSON objects that carry keys, never values:

```text
{"s": "<sender id>", "k": ["inbox:1:conv:c1", ...]}   drop these keys
{"s": "<sender id>", "p": "inbox:1:"}                  drop this prefix (Cache.clear)
{..., "a": "wa_perfkit:inv:ack:<id>"}                  ...then confirm on that list
```

A backend ignores its own messages: it already changed its own L1. A message of
an invalidation (a delete, a tag invalidation, a clear) names a reply list;
every bus that received it, its sender's included, pushes one item there once
the message is applied, and the sender waits for as many items as subscribers
received the message (see `wa_perfkit.backends._acks`). A plain
`RedisBackend` publishes the same messages when it writes or deletes (under
its own sender id), so what a worker on plain Redis invalidates also leaves
the L1 of every tiered instance.

What may go wrong, and what the bus does about it:

* the connection drops (server restart, ``CLIENT KILL TYPE pubsub``): the L1
  may have missed messages, so it is flushed at once, nothing is put in it
  while disconnected, and it is flushed again once resubscribed;
* the server hangs (SIGSTOP): the bus pings every ``ping_interval`` seconds
  and declares the connection dead after ``dead_after`` seconds without any
  reply — then as above (nobody can write to a hung server meanwhile, so the
  L1 stays correct until then);
* the process forks (gunicorn ``--preload``): the child has no listener thread
  and the subscription is the parent's, so the child flushes its L1 and starts
  a listener of its own; its L1 is filled again once that one is subscribed;
* a message races a read: every L1 fill carries a ticket (a sequence number
  taken before the L2 read); a message for that key, or a flush, received
  since then voids the fill. Ticket check and fill happen under the lock
  the listener takes to apply a message.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from wa_perfkit._log import logger

__all__ = ["InvalidationBus", "by_channel", "channel_of", "encode_message"]

# How many keys the ticket book remembers before it forgets them all (and voids older tickets).
_BOOK_LIMIT = 4096


def channel_of(prefix: str, key: str) -> str:
    """
    Return the channel that carries invalidations of ``key``.
    """
    head, sep, _ = key.partition(":")
    return prefix + head if sep else prefix


def by_channel(prefix: str, keys: Sequence[str]) -> dict[str, list[str]]:
    """
    Group ``keys`` by the channel that carries their invalidations.
    """
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(channel_of(prefix, key), []).append(key)
    return groups


def encode_message(
    sender: str, keys: Sequence[str] = (), prefix: str | None = None, reply: str | None = None
) -> bytes:
    """
    Encode an invalidation message: drop ``keys``, or every key under ``prefix``.

    With ``reply``, every receiver confirms on that list once it has applied it.
    """
    body: dict[str, Any] = {"s": sender}
    if prefix is not None:
        body["p"] = prefix
    else:
        body["k"] = list(keys)
    if reply is not None:
        body["a"] = reply
    return json.dumps(body, separators=(",", ":")).encode()


class InvalidationBus:
    """
    Listens for invalidations of other instances and applies them to the L1.

    Args:
        connect: returns a fresh redis-py ``PubSub`` (called on every (re)connect).
        drop_keys: removes keys from the L1.
        drop_prefix: removes every L1 key starting with a prefix (``""`` = all).
        confirm: pushes one item to a reply list (the message's ``"a"``), over a
            connection that is not the subscribed one.
        prefix: channel prefix.
        ping_interval: seconds between liveness pings while idle.
        dead_after: seconds without any reply after which the connection is dead.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        drop_keys: Callable[[Sequence[str]], object],
        drop_prefix: Callable[[str], object],
        confirm: Callable[[str], object],
        *,
        prefix: str = "wa_perfkit:inv:",
        ping_interval: float = 0.5,
        dead_after: float = 1.5,
    ) -> None:
        self.sender = uuid.uuid4().hex
        self.prefix = prefix
        self.ping_interval = ping_interval
        self.dead_after = dead_after
        self._connect = connect
        self._drop_keys = drop_keys
        self._drop_prefix = drop_prefix
        self._confirm = confirm
        self.lock = threading.Lock()
        self._wanted: set[str] = {prefix}
        self._confirmed: frozenset[str] = frozenset()
        self._seq = 0
        self._flushed_at = 0
        self._book: dict[str, int] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._was_connected = False
        self.received = 0
        self.reconnects = 0
        self.flushes = 0
        self._thread = threading.Thread(target=self._run, name="wa_perfkit-bus", daemon=True)

    def start(self) -> None:
        """
        Start the listener thread (and a new one in every forked child).
        """
        self._thread.start()
        _STARTED.add(self)

    def _restart_in_child(self) -> None:
        # A forked child (gunicorn --preload, multiprocessing's "fork") has no listener:
        # threads do not survive a fork, and the subscription is the parent's. Without
        # one, its L1 would keep what others invalidate. Start over with an empty L1.
        if self._stop.is_set():
            return
        self.lock = threading.Lock()  # another thread may have held it at the fork
        self.sender = uuid.uuid4().hex
        self._ready = threading.Event()
        self._confirmed = frozenset()
        self._was_connected = False
        self._flush()
        self._thread = threading.Thread(target=self._run, name="wa_perfkit-bus", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """
        Stop the listener and close its connection (idempotent).
        """
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """
        Wait until subscribed to every wanted channel; return False on timeout.
        """
        deadline = time.monotonic() + timeout
        while not (self._ready.is_set() and self._wanted <= self._confirmed):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    @property
    def connected(self) -> bool:
        """
        True while subscribed: only then may the L1 hold entries.
        """
        return self._ready.is_set()

    # -- what the backend asks --------------------------------------------------

    def want(self, namespace: str) -> None:
        """
        Subscribe to ``namespace``'s channel (the listener picks it up within 0.1 s).
        """
        self._wanted = self._wanted | {self.prefix + namespace}

    def ticket(self, key: str) -> int | None:
        """
        Return a ticket for filling ``key`` later, or None if it may not be cached now.
        """
        channel = channel_of(self.prefix, key)
        if channel in self._confirmed and self._ready.is_set():
            return self._seq
        if channel not in self._wanted:
            self._wanted = self._wanted | {channel}
        return None

    def valid(self, key: str, ticket: int) -> bool:
        """
        True if nothing touched ``key`` since ``ticket`` was taken (caller holds `lock`).
        """
        return self._flushed_at <= ticket and self._book.get(key, -1) <= ticket

    def touch(self, keys: Iterable[str]) -> None:
        """
        Void every outstanding ticket of ``keys`` (caller holds `lock`).
        """
        self._seq += 1
        seq = self._seq
        book = self._book
        if len(book) > _BOOK_LIMIT:
            book.clear()
            self._flushed_at = seq
        for key in keys:
            book[key] = seq

    def void_all(self) -> None:
        """
        Void every outstanding ticket (caller holds `lock`).
        """
        self._seq += 1
        self._flushed_at = self._seq
        self._book.clear()

    def message(
        self, keys: Sequence[str] = (), prefix: str | None = None, reply: str | None = None
    ) -> bytes:
        """
        Encode an invalidation message from this instance.
        """
        return encode_message(self.sender, keys, prefix, reply)

    # -- the listener -----------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 0.05
            except Exception as exc:  # any driver or socket error: reconnect
                self._lost(type(exc).__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 1.0)
        self._lost(None)

    def _session(self) -> None:
        pubsub = self._connect()
        try:
            self._subscribe(pubsub)
            self._listen(pubsub)
        finally:
            self._ready.clear()
            pubsub.close()

    def _subscribe(self, pubsub: Any) -> None:
        wanted = set(self._wanted)
        pubsub.subscribe(*sorted(wanted))
        confirmed: set[str] = set()
        deadline = time.monotonic() + self.dead_after
        while confirmed != wanted:
            if time.monotonic() > deadline or self._stop.is_set():
                raise TimeoutError("no subscription confirmation")
            msg = pubsub.get_message(timeout=0.05)
            if msg is not None and msg["type"] == "subscribe":
                confirmed.add(_text(msg["channel"]))
        with self.lock:
            # Connected again: whatever was missed while away is dropped now.
            self._confirmed = frozenset(confirmed)
            self._flush()
            self._ready.set()
        if self._was_connected:
            self.reconnects += 1
            logger.info("wa_perfkit: invalidation bus reconnected, L1 flushed")
        self._was_connected = True

    def _listen(self, pubsub: Any) -> None:
        now = time.monotonic()
        last_seen = last_ping = now
        while not self._stop.is_set():
            missing = self._wanted - self._confirmed - set(_texts(pubsub.channels))
            if missing:
                pubsub.subscribe(*sorted(missing))
            msg = pubsub.get_message(timeout=0.1)
            now = time.monotonic()
            if msg is not None:
                last_seen = now
                self._handle(msg)
            elif now - last_ping >= self.ping_interval:
                pubsub.ping()
                last_ping = now
            if now - last_seen > self.dead_after:
                raise TimeoutError("invalidation bus: no reply from Redis")

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "subscribe":
            self._confirmed = self._confirmed | {_text(msg["channel"])}
        elif kind == "message":
            self._apply(msg["data"])

    def _apply(self, data: bytes) -> None:
        try:
            body = json.loads(data)
            own = body["s"] == self.sender
            keys, prefix, reply = body.get("k"), body.get("p"), body.get("a")
        except (ValueError, KeyError, TypeError):
            logger.debug("wa_perfkit: ignored a foreign invalidation message")
            return
        if not own:
            self.received += 1
            with self.lock:
                if isinstance(prefix, str):
                    self.void_all()
                    self._drop_prefix(prefix)
                elif isinstance(keys, list):
                    self.touch(keys)
                    self._drop_keys(keys)
        if isinstance(reply, str):
            # The sender counted every subscriber, itself included: all confirm.
            try:
                self._confirm(reply)
            except Exception as exc:  # the sender times out and says so
                logger.debug("wa_perfkit: invalidation not confirmed: %s", exc)

    def _lost(self, reason: str | None) -> None:
        was_ready = self._ready.is_set()
        with self.lock:
            self._ready.clear()
            self._confirmed = frozenset()
            self._flush()
        if was_ready and reason is not None:
            logger.warning(
                "wa_perfkit: invalidation bus lost (%s); L1 flushed until reconnected", reason
            )

    def _flush(self) -> None:
        # Caller holds the lock.
        self.void_all()
        self._drop_prefix("")
        self.flushes += 1


# Every started bus of this process, for the child of a fork (gone buses drop out).
_STARTED: weakref.WeakSet[InvalidationBus] = weakref.WeakSet()


def _restart_all_in_child() -> None:
    for bus in list(_STARTED):
        bus._restart_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_restart_all_in_child)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(values: Iterable[Any]) -> list[str]:
    return [_text(v) for v in values]
