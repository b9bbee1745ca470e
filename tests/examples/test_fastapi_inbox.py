"""
examples/fastapi_inbox against the real Postgres and Redis: reads after writes are fresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from examples.fastapi_inbox.app import create_app
from examples.fastapi_inbox.settings import Settings
from tests.examples._inbox_db import JWT_SECRET, InboxDB, count, create_inbox_db
from tests.postgres_services import Databases
from tests.whatsapp._samples import APP_SECRET, VERIFY_TOKEN, delivery, encode, signed
from tests.whatsapp._samples import text_message as wa_text
from wa_perfkit import Cache, RedisBackend

pytestmark = pytest.mark.slow


@pytest.fixture(name="inbox", scope="module")
def inbox_fixture(databases: Databases) -> InboxDB:
    return create_inbox_db(databases)


@pytest.fixture(name="client")
def client_fixture(inbox: InboxDB, redis_url: str, namespace: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=inbox.url, redis_url=redis_url, jwt_secret=JWT_SECRET, supabase_url=None,
        fingerprint_key="fingerprint-key-0123456789abcdef",
        cursor_key="cursor-key-0123456789abcdef",
        wa_app_secret=APP_SECRET, wa_verify_token=VERIFY_TOKEN,
    )
    cache = Cache(RedisBackend(redis_url), namespace=namespace)
    with TestClient(create_app(settings, cache)) as client:
        yield client


def auth(inbox: InboxDB, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {inbox.token(user_id)}"}


class TestFastapiInbox:
    def test_auth_me_is_cached_and_timed(self, client: TestClient, inbox: InboxDB) -> None:
        """/auth/me: a miss then a hit, both visible in Server-Timing."""
        user_id, _ = inbox.agent()
        first = client.get("/auth/me", headers=auth(inbox, user_id))
        second = client.get("/auth/me", headers=auth(inbox, user_id))
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json() and first.json()["id"] == user_id
        assert "server-timing" in second.headers
        assert client.get("/auth/me").status_code == 401

    def test_new_message_invalidates_its_conversation(
        self, client: TestClient, inbox: InboxDB
    ) -> None:
        """A read after each write shows the write (the cached conversation was dropped)."""
        user_id, account = inbox.agent()
        conversation = next(c for c in inbox.data.conversations if c["account_id"] == account)
        path, headers = f"/messages/{conversation['id']}", auth(inbox, user_id)
        assert client.get(path, headers=headers).status_code == 200  # cached now
        for number in range(5):
            text = f"reply {number}"
            assert client.post(path, json={"text": text}, headers=headers).status_code == 201
            page = client.get(path, headers=headers).json()
            assert page["conversation"]["last_message"] == text
            assert page["items"][0]["content"] == text

    def test_keyset_pages_return_every_conversation_once(
        self, client: TestClient, inbox: InboxDB
    ) -> None:
        """Walking /conversations by cursor yields each of the account's rows exactly once."""
        user_id, account = inbox.agent()
        seen: list[str] = []
        params: dict[str, str] = {"account_id": account, "limit": "7"}
        for _ in range(100):
            page = client.get("/conversations", params=params, headers=auth(inbox, user_id)).json()
            seen += [item["id"] for item in page["items"]]
            if page["next"] is None:
                break
            params["cursor"] = page["next"]
        total = count(inbox.conninfo, f"SELECT count(*) FROM conversations "
                      f"WHERE account_id = '{account}'")
        assert len(seen) == len(set(seen)) == total

    def test_deactivating_a_user_applies_at_once(self, client: TestClient, inbox: InboxDB) -> None:
        """An admin's write invalidates the user's cached entry: the next request is 401."""
        admin = inbox.data.admins()[0]
        victim = inbox.data.users[-1]["user_id"]
        assert client.get("/auth/me", headers=auth(inbox, victim)).status_code == 200
        path = f"/admin/users/{victim}/active"
        off = client.post(path, params={"active": "false"}, headers=auth(inbox, admin))
        assert off.status_code == 200
        assert client.get("/auth/me", headers=auth(inbox, victim)).status_code == 401
        on = client.post(path, params={"active": "true"}, headers=auth(inbox, admin))
        assert on.status_code == 200
        assert client.get("/auth/me", headers=auth(inbox, victim)).status_code == 200
        assert client.get("/admin/users", headers=auth(inbox, victim)).status_code == 403

    def test_webhook_message_shows_in_the_conversation(
        self, client: TestClient, inbox: InboxDB
    ) -> None:
        """A signed delivery is stored once (redelivery deduped) and read back fresh."""
        account = inbox.data.accounts[0]
        message_id = f"wamid.{uuid.uuid4().hex}"
        document = delivery(
            [wa_text(message_id, "Bonjour")], phone_number_id=account["phone_number_id"]
        )
        body = encode(document)
        for expected in (1, 0):
            answer = client.post("/webhook", content=body, headers=signed(body))
            assert answer.status_code == 200 and answer.json() == {"messages": expected}
        query = f"SELECT count(*) FROM messages WHERE wa_message_id = '{message_id}'"
        assert count(inbox.conninfo, query) == 1
        admin = inbox.data.admins()[0]
        page = client.get(
            "/conversations", params={"account_id": account["id"], "limit": "1"},
            headers=auth(inbox, admin),
        ).json()
        assert page["items"][0]["last_message"] == "Bonjour"
        forged = {"X-Hub-Signature-256": "sha256=00"}
        assert client.post("/webhook", content=body, headers=forged).status_code == 401

    def test_bot_profile_accounts_and_metrics(self, client: TestClient, inbox: InboxDB) -> None:
        """The cached routes answer, and /metrics exports the cache's counters."""
        user_id, account = inbox.agent()
        headers = auth(inbox, user_id)
        assert client.get("/bot/profile", headers=headers).json()["account_id"] == account
        assert [a["id"] for a in client.get("/accounts", headers=headers).json()] == [account]
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and "wa_perfkit" in metrics.text


@pytest.mark.parametrize("kind", ["garbage", "truncated", "non-ascii", "5000-chars"])
def test_a_bad_cursor_is_a_400(client: TestClient, inbox: InboxDB, kind: str) -> None:
    """Garbage, truncated, non-ASCII or 5,000-character cursors: 400, never 500."""
    user_id, account = inbox.agent()
    headers = auth(inbox, user_id)
    params = {"account_id": account, "limit": "2"}
    real = client.get("/conversations", params=params, headers=headers).json()["next"]
    cursor = {
        "garbage": "garbage!",
        "truncated": real[:-7],
        "non-ascii": real[:-3] + "Жé€",
        "5000-chars": "A" * 5000,
    }[kind]
    bad = client.get("/conversations", params={**params, "cursor": cursor}, headers=headers)
    assert bad.status_code == 400
    assert bad.json() == {"detail": "invalid cursor"}
