"""
`SampleDB`: a tiny in-memory stand-in for "your database" in the documentation.

The documentation's examples are complete programs: where your application
would run a query, they call a `SampleDB` method instead, so you can paste
them, run them, and then swap in your own queries (asyncpg, psycopg, the
Supabase client...). Each method is one "query" and is counted, which is how
the examples show the cache at work:

```python
from wa_perfkit.sample_db import SampleDB

db = SampleDB()
assert db.conversation("acc-1", "conv-1") == {
    "id": "conv-1", "account_id": "acc-1", "contact": "+5511999990001", "unread": 2,
}
assert db.queries == 1
```

Sync methods and their ``a``-prefixed async twins sit side by side. Rows are
plain dicts (JSON-friendly, so every backend can cache them). Not for
production: it holds a handful of rows in a dict.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

__all__ = ["SampleDB"]

Row = dict[str, Any]


class SampleDB:
    """
    A few accounts, conversations, messages and users, with counted queries.

    Rows: accounts ``acc-1`` (WhatsApp number id ``106540352242922``) and
    ``acc-2``; conversations ``conv-1``, ``conv-2`` (of ``acc-1``) and
    ``conv-3`` (of ``acc-2``); users ``user-1`` (role ``agent``) and
    ``admin-1`` (roles ``agent`` and ``admin``).

    Attributes:
        queries: how many queries ran.
    """

    def __init__(self) -> None:
        self.queries = 0
        self._ids = itertools.count(1)
        self.accounts: dict[str, Row] = {
            "acc-1": {"id": "acc-1", "phone_number_id": "106540352242922",
                      "name": "Support", "active": True},
            "acc-2": {"id": "acc-2", "phone_number_id": "106540352242923",
                      "name": "Sales", "active": True},
        }
        self.conversations: dict[str, Row] = {
            "conv-1": {"id": "conv-1", "account_id": "acc-1", "contact": "+5511999990001",
                       "unread": 2},
            "conv-2": {"id": "conv-2", "account_id": "acc-1", "contact": "+5511999990002",
                       "unread": 0},
            "conv-3": {"id": "conv-3", "account_id": "acc-2", "contact": "+5511999990003",
                       "unread": 1},
        }
        self.messages: dict[str, list[Row]] = {key: [] for key in self.conversations}
        self.users: dict[str, Row] = {
            "user-1": {"id": "user-1", "email": "agent@example.com", "roles": ["agent"]},
            "admin-1": {"id": "admin-1", "email": "admin@example.com",
                        "roles": ["agent", "admin"]},
        }

    def __repr__(self) -> str:
        return f"SampleDB(queries={self.queries})"

    def _query(self, row: Row | None) -> Row | None:
        self.queries += 1
        return copy.deepcopy(row)

    # -- reads ------------------------------------------------------------------

    def conversation(self, account_id: str, conversation_id: str) -> Row | None:
        """
        ``SELECT * FROM conversations WHERE account_id = $1 AND id = $2``.

        Returns:
            The row, or None.
        """
        row = self.conversations.get(conversation_id)
        return self._query(row if row and row["account_id"] == account_id else None)

    async def aconversation(self, account_id: str, conversation_id: str) -> Row | None:
        """
        Async twin of `conversation`.
        """
        await asyncio.sleep(0)
        return self.conversation(account_id, conversation_id)

    def user(self, user_id: str) -> Row | None:
        """
        ``SELECT id, email, roles FROM app_users WHERE id = $1``.

        Returns:
            ``{"id", "email", "roles"}``, or None.
        """
        return self._query(self.users.get(user_id))

    async def auser(self, user_id: str) -> Row | None:
        """
        Async twin of `user`.
        """
        await asyncio.sleep(0)
        return self.user(user_id)

    def account(self, phone_number_id: str) -> Row | None:
        """
        ``SELECT * FROM whatsapp_accounts WHERE phone_number_id = $1``.

        Returns:
            The row, or None.
        """
        found = [a for a in self.accounts.values() if a["phone_number_id"] == phone_number_id]
        return self._query(found[0] if found else None)

    async def aaccount(self, phone_number_id: str) -> Row | None:
        """
        Async twin of `account`.
        """
        await asyncio.sleep(0)
        return self.account(phone_number_id)

    # -- writes -----------------------------------------------------------------

    def add_message(self, conversation_id: str, text: str) -> Row:
        """
        ``INSERT INTO messages ... RETURNING *`` and bump the conversation's unread count.

        Returns:
            The new message row.
        """
        message = {"id": f"msg-{next(self._ids)}", "conversation_id": conversation_id,
                   "text": text}
        self.messages.setdefault(conversation_id, []).append(message)
        if conversation_id in self.conversations:
            self.conversations[conversation_id]["unread"] += 1
        self.queries += 1
        return dict(message)

    async def aadd_message(self, conversation_id: str, text: str) -> Row:
        """
        Async twin of `add_message`.
        """
        await asyncio.sleep(0)
        return self.add_message(conversation_id, text)

    def set_roles(self, user_id: str, roles: list[str]) -> None:
        """
        ``UPDATE app_user_roles ...`` for ``user_id``.
        """
        self.users[user_id]["roles"] = list(roles)
        self.queries += 1

    async def aset_roles(self, user_id: str, roles: list[str]) -> None:
        """
        Async twin of `set_roles`.
        """
        await asyncio.sleep(0)
        self.set_roles(user_id, roles)
