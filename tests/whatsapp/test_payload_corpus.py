"""
Every published payload of ``corpus/`` through the FastAPI and the Flask receiver.

The expected messages and statuses are read from the raw JSON here, independently
of the parser: each message's ``id``, ``type``, ``from`` and ``from_user_id``,
each status's ``id``, ``status``, ``recipient_id`` and ``recipient_user_id``.
See ``corpus/SOURCES.md`` for where each file comes from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.whatsapp._apps import FRAMEWORKS, client_for
from tests.whatsapp._samples import encode, signed
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache

CORPUS = Path(__file__).parent / "corpus"


def _load() -> dict[str, dict[str, Any]]:
    cases = {}
    for path in sorted(CORPUS.glob("*/*.json")):
        for name, payload in json.loads(path.read_text(encoding="utf-8")).items():
            cases[f"{path.parent.name}/{path.stem}:{name}"] = payload
    return cases


CASES = _load()


def _values(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["field"], c["value"]) for e in doc["entry"] for c in e["changes"]]


def expected(doc: dict[str, Any]) -> dict[str, Any]:
    """
    What the handler must receive, read straight from the JSON (first occurrence of each id).
    """
    messages: dict[str, list[Any]] = {}
    statuses: dict[str, list[Any]] = {}
    echoes: dict[str, str] = {}
    for field, value in _values(doc):
        for m in value.get("messages", []):
            messages.setdefault(m["id"], [m["id"], m["type"], m.get("from"), m.get("from_user_id")])
        for s in value.get("statuses", []):
            call = s.get("type") == "call" or field == "calls"
            row = [s["id"], s["status"], s.get("recipient_id"), s.get("recipient_user_id"), call]
            statuses.setdefault(f"{s['id']}:{s['status']}", row)
        for e in value.get("message_echoes", []):
            echoes.setdefault(e["id"], e["id"])
    return {
        "messages": list(messages.values()),
        "statuses": list(statuses.values()),
        "echoes": list(echoes.values()),
        "fields": [field for field, _ in _values(doc)],
        "unparsed": [],
    }


NOTHING_NEW = {"messages": [], "statuses": [], "echoes": [], "unparsed": []}


@pytest.fixture(name="cache")
def fixture_cache() -> Cache:
    return Cache(MemoryBackend(maxsize=10_000), namespace="wa-corpus")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_published_payload(framework: str, case: str, cache: Cache) -> None:
    """Exact items handed over once, a redelivery hands over nothing, a bad signature is 401."""
    doc = CASES[case]
    body = encode(doc)
    post = client_for(framework, cache)
    status, answer = post(body, signed(body))
    assert (status, answer) == (200, expected(doc))
    status, again = post(body, signed(body))
    assert status == 200
    assert {k: again[k] for k in NOTHING_NEW} == NOTHING_NEW
    assert post(body, signed(body, "not-the-app-secret"))[0] == 401
    assert post(body, {"Content-Type": "application/json"})[0] == 401


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_whole_corpus_in_one_delivery(framework: str, cache: Cache) -> None:
    """Every entry of every payload batched in one POST: several entries, changes, messages."""
    batched = {"object": "whatsapp_business_account", "entry": []}
    for doc in CASES.values():
        batched["entry"].extend(doc["entry"])
    # ... and one change holding every text message of the corpus.
    texts = [
        m for _, v in _values(batched) for m in v.get("messages", []) if m["type"] == "text"
    ]
    first = batched["entry"][0]
    first["changes"] = [*first["changes"], {"field": "messages", "value": {"messages": texts}}]
    body = encode(batched)
    post = client_for(framework, cache)
    status, answer = post(body, signed(body))
    assert (status, answer) == (200, expected(batched))
    # Distinct ids only: published samples reuse ids such as "wamid.ID" across cases.
    assert len(batched["entry"]) > 100 and len(answer["messages"]) >= 10
    assert post(body, signed(body))[1]["messages"] == []


def test_corpus_covers_the_documented_cases() -> None:
    """The corpus holds every message type, failed statuses, echoes, updates and username users."""
    docs = list(CASES.values())
    values = [v for doc in docs for _, v in _values(doc)]
    types = {m["type"] for v in values for m in v.get("messages", [])}
    assert types >= {
        "text", "image", "video", "audio", "document", "sticker", "location", "contacts",
        "interactive", "button", "reaction", "order", "system", "unsupported",
    }
    reactions = [m["reaction"] for v in values for m in v.get("messages", []) if "reaction" in m]
    assert any(not r.get("emoji") for r in reactions)  # a removed reaction
    assert any(m.get("referral") for v in values for m in v.get("messages", []))
    failed = [s for v in values for s in v.get("statuses", []) if s["status"] == "failed"]
    assert failed and all(s.get("errors") for s in failed)
    fields = {f for doc in docs for f, _ in _values(doc)}
    assert fields >= {
        "messages", "smb_message_echoes", "account_update", "calls",
        "message_template_status_update",
    }
    assert any("from" not in m for v in values for m in v.get("messages", []))
    assert any("recipient_id" not in s for v in values for s in v.get("statuses", []))
    assert any(len(doc["entry"][0]["changes"]) > 1 for doc in docs)


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if "username" in c or "bsuid" in c])
def test_username_users_deduplicated_across_instances_on_redis(
    case: str, redis_cache: Cache
) -> None:
    """Two receivers sharing the real Redis: a username user's items are handed over once."""
    doc = CASES[case]
    body = encode(doc)
    first, second = client_for("flask", redis_cache), client_for("flask", redis_cache)
    status, answer = first(body, signed(body))
    assert (status, answer) == (200, expected(doc))
    assert answer["messages"] or answer["statuses"]
    status, again = second(body, signed(body))
    assert status == 200 and {k: again[k] for k in NOTHING_NEW} == NOTHING_NEW
