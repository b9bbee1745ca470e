"""
Checked by ``mypy --strict`` (make test and tests/typing/test_typing.py): decorated
functions keep their signatures for the type checker.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from typing_extensions import assert_type

from wa_perfkit import Cache, MemoryBackend, StatsSnapshot, ttl_repository

cache = Cache(MemoryBackend(), namespace="typing")


@ttl_repository(ttl=60, cache=cache)
def get_account(phone_number_id: str, *, active: bool = True) -> dict[str, int] | None:
    return None


@ttl_repository(ttl=60, cache=cache, tags=["conversation:{conversation_id}"])
async def get_conversation(conversation_id: str, limit: int = 20) -> list[str]:
    return []


def check_sync() -> None:
    assert_type(get_account("p1"), dict[str, int] | None)
    assert_type(get_account("p1", active=False), dict[str, int] | None)
    assert_type(get_account.invalidate("p1"), bool)
    assert_type(get_account.stats(), StatsSnapshot)
    assert_type(get_account.cache_key("p1"), str)


async def check_async() -> None:
    pending = assert_type(get_conversation("c1"), Coroutine[Any, Any, list[str]])
    assert_type(await pending, list[str])
    assert_type(await get_conversation("c1", limit=5), list[str])
    assert_type(await get_conversation.invalidate("c1"), bool)


# Durations: seconds or a timedelta; caches from a URL or the environment.
from datetime import timedelta  # noqa: E402

url_cache = Cache.from_url("memory://", namespace="typing")
env_cache = Cache.from_env({})
assert_type(url_cache, Cache)
assert_type(env_cache, Cache)


@ttl_repository(ttl=timedelta(minutes=1), cache=url_cache, stale_ttl=timedelta(seconds=5))
def get_contact(contact_id: str) -> dict[str, str]:
    return {}


def check_durations() -> None:
    assert_type(get_contact("c1"), dict[str, str])
    assert_type(url_cache.set("k", 1, timedelta(seconds=30)), bool)


# A user loader returns the user or None ("no such user"): the user type is without None.
from wa_perfkit import JWTVerifier  # noqa: E402
from wa_perfkit.flask import FlaskCurrentUser  # noqa: E402
from wa_perfkit.flask import cached_user as flask_cached_user  # noqa: E402


def load_user_or_none(claims: dict[str, Any]) -> dict[str, str] | None:
    return None


flask_user = flask_cached_user(
    load_user_or_none, verifier=JWTVerifier(secret="s" * 32), cache=url_cache
)
assert_type(flask_user, FlaskCurrentUser[dict[str, str]])
