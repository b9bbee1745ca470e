"""
The WhatsApp examples run, behave as documented, and match docs/whatsapp.md verbatim.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.whatsapp._redis import redis_backend
from tests.whatsapp._samples import (
    APP_SECRET,
    VERIFY_TOKEN,
    delivery,
    encode,
    signed,
    status,
    text_message,
)
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SUPPORT, SALES, UNKNOWN = "106540352242922", "106540352242923", "999"
BSUID = "US.13491208655302741918"
INBOX = [("wamid.1", "16505551234"), ("wamid.2", "16505551234"), ("wamid.U", BSUID)]


@pytest.fixture(name="examples", scope="module")
def fixture_examples() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        names = ["whatsapp_accounts", "whatsapp_fastapi", "whatsapp_flask"]
        yield {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(name="cache")
def fixture_cache() -> Cache:
    return Cache(MemoryBackend(maxsize=1000), namespace="wa-examples")


def _store(examples: dict[str, ModuleType]) -> Any:
    accounts = examples["whatsapp_accounts"]
    return accounts.AccountStore(accounts.demo_accounts())


class TestAccountLookup:
    def test_hit_costs_no_query(self, examples: dict[str, ModuleType], cache: Cache) -> None:
        """The second lookup of a number is served from the cache."""
        store = _store(examples)
        get_account = examples["whatsapp_accounts"].account_lookup(cache, store)
        assert get_account(SUPPORT)["name"] == "Support"
        assert get_account(SUPPORT)["name"] == "Support"
        assert store.queries == 1

    def test_unknown_number_is_cached_briefly(
        self, examples: dict[str, ModuleType], cache: Cache
    ) -> None:
        """An unknown number is looked up once, then answered None from the cache."""
        store = _store(examples)
        get_account = examples["whatsapp_accounts"].account_lookup(cache, store)
        assert get_account(UNKNOWN) is None and get_account(UNKNOWN) is None
        assert store.queries == 1

    def test_update_invalidates(self, examples: dict[str, ModuleType], cache: Cache) -> None:
        """After update_account, the next lookup sees the new row (one more query)."""
        accounts = examples["whatsapp_accounts"]
        store = _store(examples)
        get_account = accounts.account_lookup(cache, store)
        get_account(SUPPORT)
        get_account(SALES)
        accounts.update_account(cache, store, {**store.rows[SUPPORT], "name": "Help desk"})
        assert get_account(SUPPORT)["name"] == "Help desk"
        assert get_account(SALES)["name"] == "Sales"  # other accounts stay cached
        assert store.queries == 3

    def test_invalidate_with_call_arguments(
        self, examples: dict[str, ModuleType], cache: Cache
    ) -> None:
        """The lookup's own invalidate(phone_number_id) drops that entry."""
        store = _store(examples)
        get_account = examples["whatsapp_accounts"].account_lookup(cache, store)
        get_account(SUPPORT)
        store.rows[SUPPORT] = {**store.rows[SUPPORT], "active": False}
        assert get_account.invalidate(SUPPORT) is True
        assert get_account(SUPPORT)["active"] is False

    async def test_async_on_redis_across_instances(
        self, examples: dict[str, ModuleType], redis_url: str, namespace: str
    ) -> None:
        """On Redis, an update made through one instance is seen by another at once."""
        accounts = examples["whatsapp_accounts"]
        store = _store(examples)
        backends = [redis_backend(redis_url), redis_backend(redis_url)]
        caches = [Cache(b, namespace=namespace) for b in backends]
        lookups = [accounts.async_account_lookup(c, store) for c in caches]
        try:
            assert (await lookups[0](SUPPORT))["name"] == "Support"
            assert (await lookups[1](SUPPORT))["name"] == "Support"
            assert store.queries == 1  # instance 2 hit what instance 1 stored
            await accounts.aupdate_account(caches[0], store, {**store.rows[SUPPORT], "name": "New"})
            assert (await lookups[1](SUPPORT))["name"] == "New"
            assert await lookups[1].invalidate(SUPPORT) is True
        finally:
            for backend, cache in zip(backends, caches, strict=True):
                client = backend.async_client()
                await cache.aclose()
                await client.connection_pool.disconnect()
                cache.close()


def _deliveries() -> tuple[bytes, bytes]:
    username_user = text_message("wamid.U", "from a username")
    del username_user["from"]  # a user with a username: only the business-scoped id
    username_user["from_user_id"] = BSUID
    doc = delivery(
        [text_message("wamid.1", "hello"), text_message("wamid.2", "again"), username_user],
        [status("wamid.OUT", "sent"), status("wamid.OUT", "delivered")],
    )
    doc["entry"][0]["changes"][0]["value"]["contacts"].append(
        {"profile": {"name": "Ana", "username": "@ana"}, "user_id": BSUID}
    )
    first = encode(doc)
    unknown = encode(delivery([text_message("wamid.3")], phone_number_id=UNKNOWN))
    return first, unknown


class TestFastAPIExample:
    async def test_receiver(self, examples: dict[str, ModuleType], cache: Cache) -> None:
        """Handshake, signature, dedupe of a redelivery, account lookup: as documented."""
        store = _store(examples)
        app = examples["whatsapp_fastapi"].create_app(
            app_secret=[APP_SECRET], verify_token=VERIFY_TOKEN, cache=cache, store=store
        )
        first, unknown = _deliveries()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            params = {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "7",
            }
            assert (await client.get("/webhook", params=params)).text == "7"
            first_post = await client.post("/webhook", content=first, headers=signed(first))
            assert first_post.json() == {"messages": 3, "statuses": 2}
            redelivery = await client.post("/webhook", content=first, headers=signed(first))
            assert redelivery.json() == {"messages": 0, "statuses": 0}
            assert (
                await client.post("/webhook", content=unknown, headers=signed(unknown))
            ).status_code == 200
            assert (
                await client.post("/webhook", content=first, headers=signed(first, "x"))
            ).status_code == 401
            assert (
                await client.post("/webhook", content=b"{", headers=signed(b"{"))
            ).status_code == 400
        assert [(m["id"], m["customer"]) for m in app.state.inbox] == INBOX
        assert store.queries == 2  # Support once (two messages), the unknown number once


class TestFlaskExample:
    def test_receiver(self, examples: dict[str, ModuleType], cache: Cache) -> None:
        """The Flask twin behaves exactly like the FastAPI receiver."""
        store = _store(examples)
        app = examples["whatsapp_flask"].create_app(
            app_secret=[APP_SECRET], verify_token=VERIFY_TOKEN, cache=cache, store=store
        )
        first, unknown = _deliveries()
        client = app.test_client()
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "7"}
        assert client.get("/webhook", query_string=params).get_data(as_text=True) == "7"
        assert client.post("/webhook", data=first, headers=signed(first)).json == {
            "messages": 3,
            "statuses": 2,
        }
        assert client.post("/webhook", data=first, headers=signed(first)).json == {
            "messages": 0,
            "statuses": 0,
        }
        assert client.post("/webhook", data=unknown, headers=signed(unknown)).status_code == 200
        assert client.post("/webhook", data=first, headers=signed(first, "x")).status_code == 401
        assert client.post("/webhook", data=b"{", headers=signed(b"{")).status_code == 400
        assert [(m["id"], m["customer"]) for m in app.config["INBOX"]] == INBOX
        assert store.queries == 2


@pytest.mark.parametrize(
    "name", ["whatsapp_accounts.py", "whatsapp_fastapi.py", "whatsapp_flask.py"]
)
def test_docs_show_the_examples_verbatim(name: str) -> None:
    """docs/whatsapp.md embeds each example file unchanged, so the docs never rot."""
    docs = (ROOT / "docs" / "whatsapp.md").read_text(encoding="utf-8")
    source = (EXAMPLES / name).read_text(encoding="utf-8")
    assert f"```python\n{source}```" in docs, (
        f"docs/whatsapp.md is out of date with examples/{name}"
    )
