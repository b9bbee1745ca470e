"""
Recipe: a cached ``phone_number_id -> account`` lookup for WhatsApp webhooks.

Every delivery names the business number it concerns
(``value.metadata.phone_number_id``); the receiver needs the account behind it
on every message, which makes it a hot query. `ttl_repository` caches it:

* a hit is one cache read, no database query;
* an unknown number is cached as ``None`` for 30 s (``cache_none``), so a
  misconfigured number cannot turn every delivery into a query;
* every entry is tagged ``account:<phone_number_id>``: after an account
  changes, `update_account` writes the database *then* invalidates the tag,
  on every instance that shares the backend (Redis).

Do not cache secrets here: with Redis, cached values are readable by anyone
with access to that Redis. Keep access tokens in your secret store; cache ids,
names and flags only.

Users who adopted a WhatsApp username may arrive without a phone number:
`customer_key` picks the id to file their messages under.

`AccountStore` stands in for the ``whatsapp_accounts`` table (Postgres or
Supabase); it counts queries so the tests can prove the cache works.
"""

from __future__ import annotations

import asyncio
from typing import TypedDict

from wa_perfkit.cache import Cache
from wa_perfkit.repository import AsyncCachedFunction, CachedFunction, ttl_repository
from wa_perfkit.whatsapp import InboundMessage

ACCOUNT_TTL = 300.0  # seconds; an edit is visible at once anyway, through the tag
UNKNOWN_TTL = 30.0


class Account(TypedDict):
    """
    One row of ``whatsapp_accounts`` (JSON-friendly, so any backend can cache it).
    """

    id: str
    phone_number_id: str
    name: str
    active: bool


class AccountStore:
    """
    An in-memory stand-in for the ``whatsapp_accounts`` table.

    Args:
        accounts: the initial rows.
    """

    def __init__(self, accounts: list[Account]) -> None:
        self.rows = {a["phone_number_id"]: a for a in accounts}
        self.queries = 0

    def fetch(self, phone_number_id: str) -> Account | None:
        """
        ``SELECT ... WHERE phone_number_id = $1`` (sync driver).
        """
        self.queries += 1
        row = self.rows.get(phone_number_id)
        return None if row is None else Account(**row)

    async def afetch(self, phone_number_id: str) -> Account | None:
        """
        The same query on an async driver (asyncpg).
        """
        await asyncio.sleep(0)
        return self.fetch(phone_number_id)

    def save(self, account: Account) -> None:
        """
        ``UPDATE whatsapp_accounts SET ...``.
        """
        self.rows[account["phone_number_id"]] = account


def account_lookup(cache: Cache, store: AccountStore) -> CachedFunction[[str], Account | None]:
    """
    Build the cached sync lookup (Flask, workers).

    Args:
        cache: the shared cache.
        store: where accounts live.

    Returns:
        ``get_account(phone_number_id)``, cached, with ``.invalidate(phone_number_id)``.
    """

    @ttl_repository(
        ttl=ACCOUNT_TTL,
        cache=cache,
        tags=["account:{phone_number_id}"],
        cache_none=True,
        none_ttl=UNKNOWN_TTL,
    )
    def get_account(phone_number_id: str) -> Account | None:
        return store.fetch(phone_number_id)

    return get_account


def async_account_lookup(
    cache: Cache, store: AccountStore
) -> AsyncCachedFunction[[str], Account | None]:
    """
    Build the cached async lookup (FastAPI).

    Args:
        cache: the shared cache.
        store: where accounts live.

    Returns:
        ``await get_account(phone_number_id)``, cached, with ``await .invalidate(...)``.
    """

    @ttl_repository(
        ttl=ACCOUNT_TTL,
        cache=cache,
        tags=["account:{phone_number_id}"],
        cache_none=True,
        none_ttl=UNKNOWN_TTL,
    )
    async def aget_account(phone_number_id: str) -> Account | None:
        return await store.afetch(phone_number_id)

    return aget_account


def update_account(cache: Cache, store: AccountStore, account: Account) -> None:
    """
    Save an account, then drop every cached copy of it (sync and async lookups alike).

    Invalidate *after* the write commits: invalidating first lets a concurrent
    request re-cache the old row between the two steps.

    Args:
        cache: the cache the lookups use.
        store: where accounts live.
        account: the new row.
    """
    store.save(account)
    cache.invalidate_tags(f"account:{account['phone_number_id']}")


async def aupdate_account(cache: Cache, store: AccountStore, account: Account) -> None:
    """
    Async twin of `update_account`.

    Args:
        cache: the cache the lookups use.
        store: where accounts live.
        account: the new row.
    """
    store.save(account)
    await cache.ainvalidate_tags(f"account:{account['phone_number_id']}")


def customer_key(message: InboundMessage) -> str:
    """
    Return the id a customer's messages are filed under.

    A user with a WhatsApp username may arrive without a phone number
    (``message.sender`` is None) but always with a business-scoped user id
    (``message.sender_user_id``, stable within one business portfolio). Prefer
    that id, fall back to the phone number for deliveries that predate it,
    and store both on the contact row so either one finds the customer.

    Args:
        message: an inbound message.

    Returns:
        The business-scoped user id, else the phone-number WhatsApp id, else "".
    """
    return message.sender_user_id or message.sender or ""


def demo_accounts() -> list[Account]:
    """
    Two demo accounts for the runnable examples.
    """
    return [
        Account(id="acc-1", phone_number_id="106540352242922", name="Support", active=True),
        Account(id="acc-2", phone_number_id="106540352242923", name="Sales", active=True),
    ]
