"""
The demo's built-in inbox: a few accounts, agents, contacts, ~2,000 conversations.

Generated from a fixed seed, so every run (and the ``--dsn`` mode, which
copies it into Postgres) serves the same rows. Ids are UUID strings, times
are timezone-aware, as the reference schema (``wa_perfkit/sql/schema.sql``) has them.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["Row", "SampleData", "sample_data"]

Row = dict[str, Any]

_EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
_TEXTS = (
    "Bonjour, ma commande n'est pas arrivée",
    "Can I change my delivery address?",
    "Merci beaucoup !",
    "What are your opening hours?",
    "Le lien de paiement ne marche pas",
    "Is the blue one back in stock?",
)


@dataclass
class SampleData:
    """
    Every row of the built-in inbox, table by table (the reference schema's tables).

    Attributes:
        accounts: ``whatsapp_accounts`` rows.
        users: ``app_users`` rows.
        roles: ``app_roles`` rows.
        user_roles: ``app_user_roles`` rows (``account_id`` None: every account).
        contacts: ``contacts`` rows.
        conversations: ``conversations`` rows.
        messages: ``messages`` rows.
    """

    accounts: list[Row] = field(default_factory=list)
    users: list[Row] = field(default_factory=list)
    roles: list[Row] = field(default_factory=list)
    user_roles: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    conversations: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)

    def admins(self) -> list[str]:
        """
        Return the ids of the users holding the ``admin`` role.
        """
        admin = next(role["id"] for role in self.roles if role["name"] == "admin")
        return [link["user_id"] for link in self.user_roles if link["role_id"] == admin]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def sample_data(
    *, accounts: int = 3, agents: int = 8, conversations: int = 2000, seed: int = 2025
) -> SampleData:
    """
    Build the built-in inbox.

    Args:
        accounts: WhatsApp Business accounts (phone numbers).
        agents: users with the ``agent`` role on one account each; one more user is admin.
        conversations: conversations, spread over the accounts (3 to 8 messages each).
        seed: the random seed; the same seed gives the same rows.

    Returns:
        The rows.
    """
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    data = SampleData()
    data.roles = [{"id": _uuid(rng), "name": name} for name in ("admin", "agent")]
    admin_role, agent_role = data.roles[0]["id"], data.roles[1]["id"]
    for number in range(accounts):
        data.accounts.append({
            "id": _uuid(rng), "name": f"Boutique {number + 1}",
            "phone_number_id": f"10{number:013d}", "waba_id": f"20{number:013d}",
            "is_active": True, "created_at": _EPOCH,
        })
    people = [("admin", None)] + [("agent", number % accounts) for number in range(agents)]
    for number, (role, account) in enumerate(people):
        user_id = _uuid(rng)
        data.users.append({
            "user_id": user_id, "email": f"{role}{number}@inbox.example",
            "display_name": f"{role.title()} {number}", "is_active": True, "created_at": _EPOCH,
        })
        data.user_roles.append({
            "user_id": user_id, "role_id": admin_role if role == "admin" else agent_role,
            "account_id": None if account is None else data.accounts[account]["id"],
        })
    for number in range(max(1, conversations // 4)):
        data.contacts.append({
            "id": _uuid(rng), "account_id": data.accounts[number % accounts]["id"],
            "whatsapp_number": f"+3361{number:07d}", "display_name": f"Client {number}",
            "created_at": _EPOCH,
        })
    for number in range(conversations):
        contact = data.contacts[number % len(data.contacts)]
        # Minute resolution on purpose: many conversations share an updated_at,
        # the case where a naive `updated_at < cursor` pagination skips rows.
        updated = _EPOCH + timedelta(minutes=rng.randrange(60 * 24 * 30))
        conversation = {
            "id": _uuid(rng), "account_id": contact["account_id"], "contact_id": contact["id"],
            "client_number": contact["whatsapp_number"], "status": "open",
            "unread_count": rng.randrange(4), "bot_enabled": rng.random() < 0.7,
            "last_message": None, "created_at": _EPOCH, "updated_at": updated,
        }
        data.conversations.append(conversation)
        for index in range(rng.randrange(3, 9)):
            text = rng.choice(_TEXTS)
            data.messages.append({
                "id": _uuid(rng), "conversation_id": conversation["id"],
                "direction": "inbound" if index % 2 == 0 else "outbound",
                "content_type": "text", "content": text, "wa_message_id": f"wamid.{number}.{index}",
                "status": "received",
                "timestamp": updated - timedelta(minutes=10 - index),
            })
            conversation["last_message"] = text
    return data
