"""
What `CachedUser` stores for a token, and what it accepts back: the entry policy.

Like `wa_perfkit.policy.Policy` for a cached function, an entry policy is
pure: ``to_store`` says what to write and for how long, ``from_store`` says
whether what was read is a user. It is chosen once, when the `CachedUser` is
built, from where its cache lives:

```text
                    to_store(key, user, exp_cap, now)          from_store(key, stored, now)
PlainEntries        {"exp": end, "user": user}                 user if end > now
(local backend:     (only this process writes it)
 memory)
SignedEntries       {"exp": end, "u": encoded user,            user if end > now and the MAC
(shared backend:     "mac": HMAC(key ‖ end ‖ encoded user)}    checks out; else MISS, reported
 Redis, tiered)
```

Both bound the entry the same way: ``end = now + Policy(ttl).fresh_ttl(user,
cap=exp - now)``, so an entry never outlives the token's ``exp``, and a copy
of an entry saved by a Redis reader and written back later is dead once its
own TTL has passed. The hit compares ``end`` with the clock, so an entry never
serves past it even if a backend rounds TTLs up.

A signed entry binds its cache key, its end and the exact bytes of the user:
a Redis writer can neither forge one nor move one to another token's key.
The MAC is checked, and the user decoded, the first time an instance reads an
entry; the policy remembers that entry's MAC, user and end per key (bounded),
so a later hit of the same entry costs a string comparison instead of an HMAC
and a decode, and returns the very object decoded then. An entry this
instance signed itself is remembered as it is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from wa_perfkit.auth.fingerprint import Fingerprinter
from wa_perfkit.backends.base import MISS
from wa_perfkit.errors import SerializationError
from wa_perfkit.policy import Policy
from wa_perfkit.serialization import Serializer

__all__ = ["PlainEntries", "SignedEntries"]

# How many checked entries are remembered before the memory is dropped (and rebuilt).
_CHECKED_LIMIT = 10_000


class PlainEntries:
    """
    Entries of a local backend: ``{"exp": end, "user": user}``, the user object itself.

    Only this process writes to a local backend, so its entries need no MAC
    (and its users need not be encodable).

    Args:
        ttl: the most seconds an entry lives.
    """

    __slots__ = ("policy",)

    def __init__(self, ttl: float) -> None:
        self.policy = Policy(ttl)

    def to_store(
        self, key: str, user: Any, exp_cap: float | None, now: float
    ) -> tuple[Any, float] | None:
        """
        Return ``(entry, backend ttl)`` for ``user``, or None if it must not be stored.

        Args:
            key: the entry's full backend key.
            user: what the loader returned (never None).
            exp_cap: seconds until the token's ``exp`` (None: no ``exp``).
            now: the wall clock.
        """
        ttl = self.policy.fresh_ttl(user, cap=exp_cap)
        if ttl is None:  # the token expires now: nothing worth storing
            return None
        entry = self._pack(key, now + ttl, user)
        return None if entry is None else (entry, ttl)

    def _pack(self, key: str, end: float, user: Any) -> Any:
        return {"exp": end, "user": user}

    def from_store(self, key: str, stored: Any, now: float) -> Any:
        """
        Return the user in ``stored`` if it is fresh, else `MISS` (a foreign value too).
        """
        try:
            if stored["exp"] > now:
                return stored["user"]
        except (TypeError, KeyError, IndexError):
            pass
        return MISS


class SignedEntries(PlainEntries):
    """
    Entries of a shared backend: the encoded user, its end and their MAC.

    Args:
        ttl: the most seconds an entry lives.
        macs: the key entries are authenticated under (derived from the server key).
        serializer: encodes users into the authenticated bytes and back.
        report_corrupt: ``report_corrupt(key, reason)`` counts and logs an entry refused.
    """

    __slots__ = ("_checked", "_macs", "_report", "_serializer")

    def __init__(
        self,
        ttl: float,
        macs: Fingerprinter,
        serializer: Serializer,
        report_corrupt: Callable[[str, str], None],
    ) -> None:
        super().__init__(ttl)
        self._macs = macs
        self._serializer = serializer
        self._report = report_corrupt
        # Per key, the MAC of the entry last checked, its user as decoded then, and its end.
        self._checked: dict[str, tuple[str, Any, float]] = {}

    def _pack(self, key: str, end: float, user: Any) -> Any:
        # The user's encoded bytes (as latin-1 text, one character per byte) and their
        # MAC, so a hit checks exactly the bytes that were authenticated and decodes
        # them once, without re-encoding anything.
        try:
            blob = self._serializer.dumps(user)
        except SerializationError:
            return None  # the cache could not store it either
        tag = self._macs.mac(_signed_data(key, end, blob)).hex()
        self._remember(key, tag, user, end)
        return {"exp": end, "u": blob.decode("latin-1"), "mac": tag}

    def from_store(self, key: str, stored: Any, now: float) -> Any:
        """
        Return the user in ``stored`` if it is fresh and genuine, else `MISS`.

        A value that is not a genuine entry is reported (``unsigned-entry``,
        ``bad-mac``, or the serializer's reason); an expired one is simply a miss.
        """
        seen = self._checked.get(key)
        try:
            if seen is not None and stored["mac"] == seen[0]:
                # This key's entry with this MAC was checked and decoded before: serve
                # what was decoded then (whatever else an edited copy carries), until
                # its end.
                return seen[1] if seen[2] > now else MISS
            end, text, tag = stored["exp"], stored["u"], stored["mac"]
        except (TypeError, KeyError, IndexError):
            end = text = tag = None
        if type(end) is not float or type(text) is not str or not math.isfinite(end):
            self._report(key, "unsigned-entry")
            return MISS
        if not end > now:
            return MISS
        try:
            blob = text.encode("latin-1")
        except UnicodeEncodeError:
            blob = b""  # not one we wrote: the MAC check below fails
        if not self._macs.check(_signed_data(key, end, blob), tag):
            self._report(key, "bad-mac")
            return MISS
        try:
            user = self._serializer.loads(blob)
        except SerializationError as exc:  # genuine but unreadable (serializer changed)
            self._report(key, exc.reason)
            return MISS
        self._remember(key, tag, user, end)
        return user

    def _remember(self, key: str, tag: str, user: Any, end: float) -> None:
        checked = self._checked
        if len(checked) >= _CHECKED_LIMIT:
            checked.clear()
        checked[key] = (tag, user, end)

    def forget(self, key: str) -> None:
        """
        Drop what was remembered of ``key``'s entry: its next read is checked again.
        """
        self._checked.pop(key, None)


def _signed_data(key: str, end: float, blob: bytes) -> bytes:
    return b"%s\0%s\0%s" % (key.encode(), repr(end).encode(), blob)
