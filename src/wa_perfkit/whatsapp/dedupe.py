"""
Duplicate-delivery suppression: "is this the first time we see this id?"

Meta delivers at least once: a webhook that timed out, answered non-200, or
raced a retry arrives again, possibly on another instance behind the load
balancer. `dedupe` answers True exactly once per id, whichever instance asks
first, because it is one atomic set-if-absent in the shared backend
(``SET key 1 NX PX ttl`` on Redis; a check-and-set under a lock in memory,
which is exact within one process only).

Ids are stored under ``<namespace>:<version>:wa:dedupe:<id>`` for ``ttl``
seconds. The default, 7 days, outlasts Meta's retry window (retries with
growing delays, "typically 24 hours" per Meta); one marker costs about
100-150 bytes of Redis memory, so 1 million ids a week is ~150 MB. Lower it
if memory matters more than week-old retries.

Backend failure: at-least-once, never lost. If the backend fails (Redis
down, timeout, circuit breaker open) the id is reported as new and a
rate-limited WARNING is logged: a rare duplicate is recoverable, a dropped
customer message is not. A timeout whose ``SET`` did reach Redis is
reported as new too, for the same reason.

Mark first, then process: if processing then fails, call `forget` so Meta's
retry is processed instead of suppressed. For status updates, dedupe on
`StatusUpdate.dedupe_key` (id and status): one message has a sent, a
delivered and a read update under the same id.
"""

from __future__ import annotations

from typing import Final

from wa_perfkit._log import RateLimitedWarning
from wa_perfkit.cache import Cache
from wa_perfkit.errors import BackendError, InvalidPayload
from wa_perfkit.policy import Duration, ttl_seconds

__all__ = ["DEFAULT_DEDUPE_TTL", "adedupe", "aforget", "dedupe", "dedupe_key", "forget"]

#: Seconds an id is remembered by default: 7 days.
DEFAULT_DEDUPE_TTL: Final = 7 * 24 * 3600.0

_PREFIX: Final = "wa:dedupe:"
_MARK: Final = 1
_warn = RateLimitedWarning()


def dedupe(cache: Cache, message_id: str, *, ttl: Duration = DEFAULT_DEDUPE_TTL) -> bool:
    """
    Return True the first time ``message_id`` is seen within ``ttl``, False afterwards.

    Args:
        cache: the cache whose backend is shared by every instance (Redis in production).
        message_id: a ``wamid.…`` id, or `StatusUpdate.dedupe_key` for a status.
        ttl: seconds (or a timedelta) the id is remembered.

    Returns:
        True if this call is the first to see the id (or the backend failed), else False.

    Raises:
        InvalidPayload: ``message_id`` is not a non-empty string.
        ConfigurationError: ``ttl`` is not a positive, finite duration in range.
    """
    key = dedupe_key(message_id, ttl)
    try:
        return cache.add(key, _MARK, ttl)
    except BackendError as exc:
        return _assume_first(cache, exc)


async def adedupe(
    cache: Cache, message_id: str, *, ttl: Duration = DEFAULT_DEDUPE_TTL
) -> bool:
    """
    Async twin of `dedupe`: the same arguments, result and errors.
    """
    key = dedupe_key(message_id, ttl)
    try:
        return await cache.aadd(key, _MARK, ttl)
    except BackendError as exc:
        return _assume_first(cache, exc)


def forget(cache: Cache, message_id: str) -> bool:
    """
    Forget ``message_id`` so its next delivery counts as new (after a failed processing).

    Args:
        cache: the cache `dedupe` used.
        message_id: the id given to `dedupe`.

    Returns:
        True if the id was remembered (False also when the backend failed).
    """
    return cache.delete(dedupe_key(message_id))


async def aforget(cache: Cache, message_id: str) -> bool:
    """
    Async twin of `forget`: the same arguments and result.
    """
    return await cache.adelete(dedupe_key(message_id))


def dedupe_key(message_id: str, ttl: Duration = DEFAULT_DEDUPE_TTL) -> str:
    """
    Return the cache key (inside the cache's namespace) that marks ``message_id``.

    Args:
        message_id: the id to mark.
        ttl: checked (positive, finite, at most `wa_perfkit.policy.MAX_SECONDS`), so a
            bad TTL fails before any I/O.

    Returns:
        ``"wa:dedupe:<message_id>"``.

    Raises:
        InvalidPayload: ``message_id`` is not a non-empty string.
        ConfigurationError: ``ttl`` is not a positive, finite duration in range.
    """
    if not isinstance(message_id, str) or not message_id:
        raise InvalidPayload("a message id must be a non-empty string")
    ttl_seconds(ttl)  # refused here, before any I/O, as the cache would refuse it
    return _PREFIX + message_id


def _assume_first(cache: Cache, exc: BackendError) -> bool:
    """
    Prefer a possible duplicate to a lost message.
    """
    _warn.warn(
        "dedupe",
        "wa_perfkit: dedupe on cache %s failed (%s); treating the id as new (at-least-once)",
        cache.name,
        exc,
    )
    return True
