"""
The inbox's data access: the queries the inbox routes run, one round trip each.

`InboxStore` is what the demo app calls. `MemoryStore` serves the built-in
`SampleData` and pays a simulated remote-database round trip
(``asyncio.sleep``) per query, of the order of a hosted Postgres (Supabase)
reached from another region. ``wa_perfkit.demo.pgstore.PostgresStore`` runs the same queries on a
real Postgres. Every store counts its queries, so the demo can show how many
round trips the cache saved.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Protocol

from wa_perfkit.demo.data import Row, SampleData
from wa_perfkit.pagination import KeysetQuery

__all__ = ["InboxStore", "MemoryStore", "bot_profile_of"]


class InboxStore(Protocol):
    """
    The queries of the inbox; each method is one database round trip.
    """

    queries: int

    async def user(self, user_id: str) -> Row | None:
        """Return the ``app_users`` row of ``user_id``."""

    async def user_roles(self, user_id: str) -> list[Row]:
        """Return ``{"role", "account_id"}`` for each role of ``user_id``."""

    async def accounts(self, account_ids: list[str] | None) -> list[Row]:
        """Return these accounts (None: every account)."""

    async def users_with_roles(self) -> list[Row]:
        """Return every user with its role names (the admin listing)."""

    async def conversation(self, conversation_id: str) -> Row | None:
        """Return one conversation."""

    async def conversations_page(self, account_id: str, query: KeysetQuery) -> list[Row]:
        """Run a keyset page query over an account's conversations."""

    async def messages_page(self, conversation_id: str, query: KeysetQuery) -> list[Row]:
        """Run a keyset page query over a conversation's messages."""

    async def bot_profile(self, account_id: str) -> Row | None:
        """Return the bot profile of an account."""

    async def add_message(self, conversation_id: str, text: str) -> Row:
        """Store an outbound message and bump its conversation."""

    async def aclose(self) -> None:
        """Release connections."""


def _page(rows: list[Row], sort: str, query: KeysetQuery) -> list[Row]:
    """
    What the keyset SQL returns, computed in Python over ``rows``.

    Rows are ordered by ``(sort, id)`` descending; a ``prev`` cursor reads
    the rows after the position in ascending order (the page flips them back).
    """
    ordered = sorted(rows, key=lambda row: (row[sort], str(row["id"])), reverse=True)
    cursor, limit = query.cursor, query.page_size + 1
    if cursor is None:
        return ordered[:limit]
    position = (cursor.sort_value, str(cursor.id_value))
    if cursor.direction == "next":
        return [row for row in ordered if (row[sort], str(row["id"])) < position][:limit]
    before = [row for row in reversed(ordered) if (row[sort], str(row["id"])) > position]
    return before[:limit]


class MemoryStore:
    """
    The built-in inbox in memory, with a simulated round trip per query.

    Args:
        data: the rows to serve (copied per read, as a driver would build new rows).
        latency: seconds each query waits, standing in for the network and the server.
    """

    def __init__(self, data: SampleData, latency: float) -> None:
        self.data = data
        self.latency = latency
        self.queries = 0
        self._users = {row["user_id"]: row for row in data.users}
        self._accounts = {row["id"]: row for row in data.accounts}
        self._roles = {row["id"]: row["name"] for row in data.roles}
        self._conversations = {row["id"]: row for row in data.conversations}
        self._by_account: dict[str, list[Row]] = {}
        for row in data.conversations:
            self._by_account.setdefault(row["account_id"], []).append(row)
        self._messages: dict[str, list[Row]] = {}
        for row in data.messages:
            self._messages.setdefault(row["conversation_id"], []).append(row)

    async def _round_trip(self) -> None:
        self.queries += 1
        await asyncio.sleep(self.latency)

    async def user(self, user_id: str) -> Row | None:
        await self._round_trip()
        row = self._users.get(user_id)
        return dict(row) if row else None

    async def user_roles(self, user_id: str) -> list[Row]:
        await self._round_trip()
        return [
            {"role": self._roles[link["role_id"]], "account_id": link["account_id"]}
            for link in self.data.user_roles
            if link["user_id"] == user_id
        ]

    async def accounts(self, account_ids: list[str] | None) -> list[Row]:
        await self._round_trip()
        wanted = self._accounts if account_ids is None else account_ids
        return [dict(self._accounts[i]) for i in wanted if i in self._accounts]

    async def users_with_roles(self) -> list[Row]:
        await self._round_trip()
        roles: dict[str, list[str]] = {}
        for link in self.data.user_roles:
            roles.setdefault(link["user_id"], []).append(self._roles[link["role_id"]])
        return [{**row, "roles": roles.get(row["user_id"], [])} for row in self.data.users]

    async def conversation(self, conversation_id: str) -> Row | None:
        await self._round_trip()
        row = self._conversations.get(conversation_id)
        return dict(row) if row else None

    async def conversations_page(self, account_id: str, query: KeysetQuery) -> list[Row]:
        await self._round_trip()
        rows = _page(self._by_account.get(account_id, []), "updated_at", query)
        return [dict(row) for row in rows]

    async def messages_page(self, conversation_id: str, query: KeysetQuery) -> list[Row]:
        await self._round_trip()
        rows = _page(self._messages.get(conversation_id, []), "timestamp", query)
        return [dict(row) for row in rows]

    async def bot_profile(self, account_id: str) -> Row | None:
        await self._round_trip()
        account = self._accounts.get(account_id)
        return bot_profile_of(account) if account else None

    async def add_message(self, conversation_id: str, text: str) -> Row:
        await self._round_trip()
        now = datetime.now(timezone.utc)
        row: Row = {
            "id": str(uuid.uuid4()), "conversation_id": conversation_id,
            "direction": "outbound", "content_type": "text", "content": text,
            "wa_message_id": None, "status": "sent", "timestamp": now,
        }
        self._messages.setdefault(conversation_id, []).append(row)
        conversation = self._conversations.get(conversation_id)
        if conversation is not None:
            conversation.update(last_message=text, updated_at=now)
        return dict(row)

    async def aclose(self) -> None:
        return None


def bot_profile_of(account: Row) -> Row:
    """
    Return the bot profile of an account row (the reference schema has no bot table).
    """
    return {
        "account_id": str(account["id"]), "name": f"{account['name']} bot",
        "phone_number_id": account["phone_number_id"], "enabled": bool(account["is_active"]),
        "greeting": f"Bonjour ! Bienvenue chez {account['name']}.",
    }
