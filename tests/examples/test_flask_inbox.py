"""
examples/flask_inbox against the real Postgres and Redis: sync path, fresh reads after writes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from examples.flask_inbox.app import create_app
from tests.examples._inbox_db import JWT_SECRET, InboxDB, create_inbox_db
from tests.postgres_services import Databases
from wa_perfkit import Cache, RedisBackend

pytestmark = pytest.mark.slow


@pytest.fixture(name="inbox", scope="module")
def inbox_fixture(databases: Databases) -> InboxDB:
    return create_inbox_db(databases)


@pytest.fixture(name="client")
def client_fixture(inbox: InboxDB, redis_url: str, namespace: str) -> Iterator[FlaskClient]:
    backend = RedisBackend(redis_url)
    app = create_app(
        inbox.conninfo, Cache(backend, namespace=namespace), jwt_secret=JWT_SECRET,
        fingerprint_key="fingerprint-key-0123456789abcdef",
        cursor_key="cursor-key-0123456789abcdef",
    )
    yield app.test_client()
    app.extensions["inbox_db"].close()
    backend.close()


class TestFlaskInbox:
    def test_auth_me_and_refusal(self, client: FlaskClient, inbox: InboxDB) -> None:
        """/auth/me answers the user twice (miss, hit); no token is 401."""
        user_id, _ = inbox.agent()
        headers = {"Authorization": f"Bearer {inbox.token(user_id)}"}
        first = client.get("/auth/me", headers=headers)
        second = client.get("/auth/me", headers=headers)
        assert first.status_code == second.status_code == 200
        assert first.json == second.json and first.json["id"] == user_id
        assert "Server-Timing" in second.headers
        assert client.get("/auth/me").status_code == 401

    def test_write_then_read_is_fresh(self, client: FlaskClient, inbox: InboxDB) -> None:
        """Each POST invalidates the cached conversation: the next GET shows it."""
        user_id, account = inbox.agent()
        headers = {"Authorization": f"Bearer {inbox.token(user_id)}"}
        conversation = next(c for c in inbox.data.conversations if c["account_id"] == account)
        path = f"/messages/{conversation['id']}"
        assert client.get(path, headers=headers).status_code == 200
        for number in range(5):
            text = f"flask reply {number}"
            assert client.post(path, json={"text": text}, headers=headers).status_code == 201
            page = client.get(path, headers=headers).json
            assert page["conversation"]["last_message"] == text
            assert page["items"][0]["content"] == text

    def test_pages_and_cached_routes(self, client: FlaskClient, inbox: InboxDB) -> None:
        """Keyset pages return every conversation once; accounts and bot profile answer."""
        user_id, account = inbox.agent()
        headers = {"Authorization": f"Bearer {inbox.token(user_id)}"}
        seen: list[str] = []
        params = {"account_id": account, "limit": "9"}
        for _ in range(100):
            page = client.get("/conversations", query_string=params, headers=headers).json
            seen += [item["id"] for item in page["items"]]
            if page["next"] is None:
                break
            params["cursor"] = page["next"]
        expected = sum(1 for c in inbox.data.conversations if c["account_id"] == account)
        assert len(seen) == len(set(seen)) == expected
        assert client.get("/bot/profile", headers=headers).json["account_id"] == account
        assert [a["id"] for a in client.get("/accounts", headers=headers).json] == [account]
        bad = client.get("/conversations", query_string={"cursor": "x"}, headers=headers)
        assert bad.status_code == 400


@pytest.mark.parametrize("kind", ["garbage", "truncated", "non-ascii", "5000-chars"])
def test_a_bad_cursor_is_a_400(client: FlaskClient, inbox: InboxDB, kind: str) -> None:
    """Garbage, truncated, non-ASCII or 5,000-character cursors: 400, never 500."""
    user_id, account = inbox.agent()
    headers = {"Authorization": f"Bearer {inbox.token(user_id)}"}
    params = {"account_id": account, "limit": "2"}
    real = client.get("/conversations", query_string=params, headers=headers).json["next"]
    cursor = {
        "garbage": "garbage!",
        "truncated": real[:-7],
        "non-ascii": real[:-3] + "Жé€",
        "5000-chars": "A" * 5000,
    }[kind]
    bad = client.get("/conversations", query_string={**params, "cursor": cursor}, headers=headers)
    assert bad.status_code == 400
