"""
A worker on plain Redis revokes and invalidates; web instances on a tiered cache obey at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.auth._tokens import SERVER_KEY, claims, hs_token
from tests.auth._users import Users
from tests.services import eventually
from wa_perfkit.auth import CachedUser, JWTVerifier
from wa_perfkit.backends.base import MISS
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.backends.tiered import TieredBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import InvalidToken


@pytest.fixture(name="instances")
async def fixture_instances(
    redis_url: str, namespace: str, verifier: JWTVerifier, users: Users
) -> AsyncIterator[tuple[CachedUser[Any], CachedUser[Any]]]:
    """A web instance (tiered, long L1 TTL) and a worker (plain Redis), one server key."""
    tiered = TieredBackend(l2=RedisBackend(redis_url, socket_timeout=1.0), l1_ttl=600)
    web_cache = Cache(tiered, namespace=namespace)
    assert tiered.wait_ready(5)
    plain = RedisBackend(redis_url, socket_timeout=1.0)
    worker_cache = Cache(plain, namespace=namespace)
    web = CachedUser(users.load, verifier=verifier, cache=web_cache, server_key=SERVER_KEY)
    worker = CachedUser(users.load, verifier=verifier, cache=worker_cache, server_key=SERVER_KEY)
    yield web, worker
    tiered.close()
    await tiered.aclose()
    plain.close()
    await plain.aclose()


def _l1_holds(web: CachedUser[Any], token: str) -> bool:
    l1 = web.cache.backend.l1  # type: ignore[attr-defined]
    return l1.get(web._entries + web.fingerprint(token)) is not MISS


class TestWorkerOnPlainRedis:
    def test_revoke_reaches_the_tiered_l1(
        self, instances: tuple[CachedUser[Any], CachedUser[Any]]
    ) -> None:
        """A token revoked by the worker is refused by the web instance, not served from L1."""
        web, worker = instances
        token = hs_token(claims(sub="nina"))
        web.resolve(token)
        assert _l1_holds(web, token)
        assert worker.revoke(token)
        assert not _l1_holds(web, token)  # confirmed by the web instance before returning
        with pytest.raises(InvalidToken):
            web.resolve(token)

    async def test_invalidate_user_reaches_the_tiered_l1(
        self, instances: tuple[CachedUser[Any], CachedUser[Any]], users: Users
    ) -> None:
        """Roles changed and invalidated by the worker are served by the web instance."""
        web, worker = instances
        token = hs_token(claims(sub="omar"))
        assert (await web.aresolve(token))["roles"] == ["agent"]
        users.roles["omar"] = ["admin"]
        assert await worker.ainvalidate_user("omar") == 1
        assert not _l1_holds(web, token)  # confirmed by the web instance before returning
        assert (await web.aresolve(token))["roles"] == ["admin"]

    def test_revoke_is_false_while_an_instance_does_not_confirm(
        self, instances: tuple[CachedUser[Any], CachedUser[Any]]
    ) -> None:
        """The web instance's listener is held: the worker cannot confirm it dropped the entry."""
        web, worker = instances
        token = hs_token(claims(sub="pia"))
        web.resolve(token)
        worker.cache.backend.confirm_timeout = 0.2  # type: ignore[attr-defined]
        with web.cache.backend.bus.lock:  # type: ignore[attr-defined]
            assert worker.revoke(token) is False
        # Let go, the web instance applies the message; the marker is stored: refused.
        assert eventually(lambda: not _l1_holds(web, token))
        with pytest.raises(InvalidToken):
            web.resolve(token)
