"""
The test apps: a FastAPI and a Flask inbox with a token-keyed user lookup and a
conversation lookup, both cached, timed and exporting ``/metrics``.

No ``from __future__ import annotations``: FastAPI evaluates the route hints.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header
from flask import Flask
from flask import request as flask_request
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from wa_perfkit import Cache, MemoryBackend, ttl_repository
from wa_perfkit.integrations.asgi import ServerTimingMiddleware
from wa_perfkit.integrations.fastapi.metrics import add_metrics_route
from wa_perfkit.integrations.flask.timing import FlaskTiming
from wa_perfkit.integrations.flask.timing import add_metrics_route as add_flask_metrics
from wa_perfkit.integrations.prometheus import CacheCollector
from wa_perfkit.observe import show_cache_details

#: What must never leave the process in a header, a label or a log line.
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LXNlY3JldC11c2VyIn0.c2lnbmF0dXJlLXNlY3JldA"
USER_ID = "u-secret-user"
SECRET_VALUE = "VALUE-7f3a-do-not-leak"
SECRETS = (TOKEN, USER_ID, SECRET_VALUE, "c2lnbmF0dXJl")


@dataclass
class Inbox:
    """An app with its cache, collector, registry and loader call log."""

    app: Any
    cache: Cache
    collector: CacheCollector
    registry: CollectorRegistry
    loads: list[str] = field(default_factory=list)


def new_cache(name: str = "inbox") -> Cache:
    """A memory cache in a namespace of its own."""
    return Cache(MemoryBackend(maxsize=10_000), namespace=f"t{uuid.uuid4().hex[:12]}", name=name)


def fastapi_inbox(registry: CollectorRegistry | None = None, *, sync: bool = False) -> Inbox:
    """The FastAPI inbox: ``/messages/{conversation_id}`` reads two cached lookups."""
    registry = registry or CollectorRegistry()
    cache = new_cache()
    app = FastAPI()
    inbox = Inbox(app, cache, CacheCollector([cache], registry=registry), registry)

    @ttl_repository(ttl=60, cache=cache, name="get_user")
    async def get_user(token: str) -> dict[str, str]:
        inbox.loads.append("get_user")
        return {"id": USER_ID, "token_echo": token[-8:]}

    @ttl_repository(ttl=60, cache=cache, name="get_conversation")
    async def get_conversation(conversation_id: str) -> dict[str, str]:
        inbox.loads.append("get_conversation")
        return {"id": conversation_id, "last": SECRET_VALUE}

    @ttl_repository(ttl=60, cache=cache, name="get_contact")
    def get_contact(contact_id: str) -> dict[str, str]:
        inbox.loads.append("get_contact")
        return {"id": contact_id, "name": SECRET_VALUE}

    @app.get("/messages/{conversation_id}")
    async def messages(conversation_id: str, authorization: str = Header("")) -> dict[str, Any]:
        user = await get_user(authorization.removeprefix("Bearer "))
        show_cache_details()  # "authenticated": this route opts in to cache details
        return {"user": user["id"], "conversation": await get_conversation(conversation_id)}

    @app.get("/public/{conversation_id}")
    async def public(conversation_id: str) -> dict[str, Any]:
        return {"conversation": await get_conversation(conversation_id)}

    if sync:  # a sync endpoint runs in a worker thread with a copy of the context

        @app.get("/contacts/{contact_id}")
        def contact(contact_id: str) -> dict[str, Any]:
            show_cache_details()
            return get_contact(contact_id)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(ServerTimingMiddleware, metrics=inbox.collector)
    add_metrics_route(app, registry)
    return inbox


def flask_inbox(registry: CollectorRegistry | None = None) -> Inbox:
    """The Flask inbox: the same routes, sync."""
    registry = registry or CollectorRegistry()
    cache = new_cache()
    app = Flask(__name__)
    inbox = Inbox(app, cache, CacheCollector([cache], registry=registry), registry)

    @ttl_repository(ttl=60, cache=cache, name="get_user")
    def get_user(token: str) -> dict[str, str]:
        inbox.loads.append("get_user")
        return {"id": USER_ID, "token_echo": token[-8:]}

    @ttl_repository(ttl=60, cache=cache, name="get_conversation")
    def get_conversation(conversation_id: str) -> dict[str, str]:
        inbox.loads.append("get_conversation")
        return {"id": conversation_id, "last": SECRET_VALUE}

    @app.get("/messages/<conversation_id>")
    def messages(conversation_id: str) -> dict[str, Any]:
        token = flask_request.headers.get("Authorization", "").removeprefix("Bearer ")
        user = get_user(token)
        show_cache_details()  # "authenticated": this route opts in to cache details
        return {"user": user["id"], "conversation": get_conversation(conversation_id)}

    @app.get("/public/<conversation_id>")
    def public(conversation_id: str) -> dict[str, Any]:
        return {"conversation": get_conversation(conversation_id)}

    @app.get("/accounts/<int:account_id>")
    def account(account_id: int) -> dict[str, int]:
        return {"id": account_id}

    FlaskTiming(app, metrics=inbox.collector)
    add_flask_metrics(app, registry)
    return inbox


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse an exposition: ``{(sample name, labels): value}``."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    """One sample's value, 0.0 if absent."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


def label_values(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
                 label: str) -> set[str]:
    """Every value ``label`` takes in samples of ``name``."""
    return {dict(labels)[label] for (sample, labels) in scraped if sample == name}
