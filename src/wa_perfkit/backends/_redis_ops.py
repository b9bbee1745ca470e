"""
The Redis commands and scripts `RedisBackend` sends, as plain functions.

Every script touches a single key, so it routes on Redis Cluster and runs on
Valkey; the multi-key helpers go per key (or per node) for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry

from wa_perfkit.backends.base import MISS
from wa_perfkit.secret import redact_url as redact_url  # its old home: still importable

# Compare-and-delete: a lock is released only by the holder whose token it still carries.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# SMEMBERS + DEL of one key, atomically, without MULTI (one-key scripts route on a cluster).
_POP_TAG_SCRIPT = """
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members
"""

# SADD the members, then make sure the set lives at least as long as the newest member.
_TAG_SCRIPT = """
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
"""


#: What an empty key holds while leased: reads see a miss (`RedisBackend` filters it out).
LEASE_MARK = b"\x00wpk-lease:"

# A lease is the SHA-1 of what the key holds; an empty key first gets a placeholder
# (ARGV[1], random per call), so that "empty" has an identity a delete can revoke.
_LEASE_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
end
return {redis.sha1hex(v), v}
"""

# Compare-and-set: store only if the key still holds what was leased.
_STORE_LEASED_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if v and redis.sha1hex(v) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# Still valid? Then a placeholder (never a value) is removed.
_RELEASE_LEASE_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if v and redis.sha1hex(v) == ARGV[1] then
  if string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then
    redis.call('DEL', KEYS[1])
  end
  return 1
end
return 0
"""


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def _is_cluster(client: Any) -> bool:
    return hasattr(client, "mget_nonatomic")


def _without_pool_timeout(options: dict[str, Any]) -> dict[str, Any]:
    # ``timeout`` belongs to the blocking pool only; plain pools pass unknown
    # options on to each connection.
    return {k: v for k, v in options.items() if k != "timeout"}


def _cluster(options: dict[str, Any]) -> dict[str, Any]:
    # A cluster client has no blocking pool (excess concurrency fails instead of
    # waiting): drop the pool-only option, allow more connections per node, and let
    # one retry follow a MOVED/ASK redirection or a reset connection.
    cluster = _without_pool_timeout(options)
    cluster["max_connections"] = max(256, int(options["max_connections"]))
    cluster["retry"] = Retry(NoBackoff(), 1)
    return cluster


def _get_pttl(client: Any, key: str) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    pipe.get(key)
    pipe.pttl(key)
    return list(pipe.execute())


async def _aget_pttl(client: Any, key: str) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    pipe.get(key)
    pipe.pttl(key)
    return list(await pipe.execute())


def _with_ttl(reply: list[Any]) -> tuple[Any, float]:
    value, pttl = reply
    if value is None or value.startswith(LEASE_MARK):
        return MISS, 0.0
    # -1 (no expiry) cannot happen for cache entries; treat it as "no bound from L2".
    return value, (pttl / 1000 if pttl >= 0 else float("inf"))


def _mget(client: Any, keys: Sequence[str]) -> list[Any]:
    if _is_cluster(client):
        return list(client.mget_nonatomic(keys))
    return list(client.mget(keys))


async def _amget(client: Any, keys: Sequence[str]) -> list[Any]:
    if _is_cluster(client):
        return list(await client.mget_nonatomic(keys))
    return list(await client.mget(keys))


def _our_keys(members: Sequence[bytes]) -> list[str]:
    # Every key this library writes is text, so a member that is not UTF-8 was put
    # there by someone else: skip it rather than fail the whole invalidation halfway
    # (the set is already popped by then).
    keys = []
    for member in members:
        try:
            keys.append(member.decode())
        except UnicodeDecodeError:
            continue
    return sorted(keys)


Notes = Sequence[tuple[str, bytes]]


def _noted(
    client: Any, build: Callable[[Any], object], notes: Notes
) -> tuple[list[Any], int]:
    # The commands ``build`` queues, then a PUBLISH per note, in one round trip: what
    # the commands returned, and how many subscribers received the notes.
    pipe, alone = _noting_pipeline(client, build, notes)
    results = pipe.execute()
    received = sum([int(client.publish(channel, message)) for channel, message in alone])
    return _built_results(results, notes, alone, received)


async def _anoted(
    client: Any, build: Callable[[Any], object], notes: Notes
) -> tuple[list[Any], int]:
    pipe, alone = _noting_pipeline(client, build, notes)
    results = await pipe.execute()
    received = sum([int(await client.publish(channel, message)) for channel, message in alone])
    return _built_results(results, notes, alone, received)


def _noting_pipeline(
    client: Any, build: Callable[[Any], object], notes: Notes
) -> tuple[Any, Notes]:
    # A cluster pipeline cannot route a keyless PUBLISH: those go on their own after
    # (returned as the notes to publish alone).
    pipe = client.pipeline(transaction=False)
    build(pipe)
    if _is_cluster(client):
        return pipe, notes
    for channel, message in notes:
        pipe.publish(channel, message)
    return pipe, ()


def _built_results(
    results: Sequence[Any], notes: Notes, alone: Notes, received: int
) -> tuple[list[Any], int]:
    # What ``build``'s commands returned, and the receivers the PUBLISH replies counted.
    if alone or not notes:
        return list(results), received
    built = len(results) - len(notes)
    return list(results[:built]), received + sum(int(n) for n in results[built:])


def _deletes(keys: Sequence[str | bytes]) -> Callable[[Any], object]:
    return lambda pipe: [pipe.delete(key) for key in keys]


def _delete_each(
    client: Any, keys: Sequence[str | bytes], notes: Notes = ()
) -> tuple[int, int]:
    # How many keys existed, and how many subscribers received the notes.
    deleted, received = _noted(client, _deletes(keys), notes)
    return sum(deleted), received


async def _adelete_each(
    client: Any, keys: Sequence[str | bytes], notes: Notes = ()
) -> tuple[int, int]:
    deleted, received = await _anoted(client, _deletes(keys), notes)
    return sum(deleted), received


# Delete one key; count it only if it held an entry: a string that is not a lease
# placeholder (tag indexes are sets). One key per script: a cluster routes it.
_CLEAR_SCRIPT = """
local kind = redis.call('TYPE', KEYS[1]).ok
local entry = kind == 'string'
    and redis.call('GETRANGE', KEYS[1], 0, string.len(ARGV[1]) - 1) ~= ARGV[1]
local deleted = redis.call('DEL', KEYS[1])
if entry then return deleted end
return 0
"""


def _clears(keys: Sequence[str | bytes]) -> Callable[[Any], object]:
    return lambda pipe: [pipe.eval(_CLEAR_SCRIPT, 1, key, LEASE_MARK) for key in keys]


def _clear_each(
    client: Any, keys: Sequence[str | bytes], notes: Notes = ()
) -> tuple[int, int]:
    """
    Delete ``keys``: how many held entries (what memory counts), and how many
    subscribers received the notes.

    One round trip on a server; a cluster pipeline cannot carry scripts, so there
    each key is its own call (clearing a namespace is rare; reads never come here).
    """
    if not _is_cluster(client):
        cleared, received = _noted(client, _clears(keys), notes)
        return sum(cleared), received
    count = sum([int(client.eval(_CLEAR_SCRIPT, 1, key, LEASE_MARK)) for key in keys])
    return count, sum([int(client.publish(channel, message)) for channel, message in notes])


async def _aclear_each(
    client: Any, keys: Sequence[str | bytes], notes: Notes = ()
) -> tuple[int, int]:
    if not _is_cluster(client):
        cleared, received = await _anoted(client, _clears(keys), notes)
        return sum(cleared), received
    count = sum([int(await client.eval(_CLEAR_SCRIPT, 1, key, LEASE_MARK)) for key in keys])
    return count, sum([int(await client.publish(channel, message)) for channel, message in notes])


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
