"""
JWKS: last good keys survive failures, unknown kids refetch within a cooldown, one fetch at a time.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from tests.auth._tokens import AUDIENCE, JWKSServer, KeyPair, claims, make_pair, signed
from wa_perfkit.auth import JWKSCache, JWTVerifier, KeySetUnavailable
from wa_perfkit.errors import ConfigurationError, InvalidToken


def _verifier(jwks: JWKSServer, **options: float) -> JWTVerifier:
    options.setdefault("allow_insecure_http", True)  # the test JWKS is served on loopback
    return JWTVerifier(jwks_url=jwks.url, audience=AUDIENCE, **options)  # type: ignore[arg-type]


class TestJWKS:
    def test_failed_fetch_keeps_last_good_keys(
        self, jwks: JWKSServer, keys: dict[str, KeyPair]
    ) -> None:
        """After the set expires, a 500 or junk from the JWKS URL leaves the known keys working."""
        verifier = _verifier(jwks, jwks_ttl=0.0, jwks_cooldown=0.0)
        token = signed(keys["ES256"], claims())
        verifier.verify(token)
        for status, body in ((500, None), (200, b"not json"), (200, b'{"keys": []}')):
            jwks.status, jwks.body = status, body
            assert verifier.verify(token)["sub"] == "user-1"
        assert jwks.hits >= 4

    async def test_slow_fetch_times_out_and_keeps_keys(
        self, jwks: JWKSServer, keys: dict[str, KeyPair]
    ) -> None:
        """A hung JWKS costs one timeout, keeps the keys, and never blocks the event loop."""
        verifier = _verifier(jwks, jwks_ttl=0.0, jwks_cooldown=0.0, jwks_timeout=0.3)
        token = signed(keys["RS256"], claims())
        await verifier.averify(token)
        jwks.delay = 1.0
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            for _ in range(20):
                await asyncio.sleep(0.01)
                ticks += 1

        started = time.monotonic()
        claims_, _ = await asyncio.gather(verifier.averify(token), ticker())
        assert claims_["sub"] == "user-1"
        assert ticks == 20 and time.monotonic() - started < 0.9

    def test_random_kids_do_not_fetch_per_request(
        self, jwks: JWKSServer, keys: dict[str, KeyPair]
    ) -> None:
        """Tokens with random kids refetch at most once per cooldown."""
        verifier = _verifier(jwks, jwks_cooldown=60.0)
        verifier.verify(signed(keys["RS256"], claims()))
        for _ in range(50):
            with pytest.raises(InvalidToken, match="unknown kid"):
                verifier.verify(signed(keys["RS256"], claims(), kid=uuid.uuid4().hex))
        assert jwks.hits <= 2

    async def test_one_fetch_in_flight(self, jwks: JWKSServer, keys: dict[str, KeyPair]) -> None:
        """Fifty concurrent first requests cause one JWKS fetch."""
        jwks.delay = 0.2
        verifier = _verifier(jwks)
        token = signed(keys["EdDSA"], claims())
        results = await asyncio.gather(*(verifier.averify(token) for _ in range(50)))
        assert {r["sub"] for r in results} == {"user-1"} and jwks.hits == 1

    def test_one_fetch_in_flight_threads(self, jwks: JWKSServer, keys: dict[str, KeyPair]) -> None:
        """Sixteen threads' first requests cause one JWKS fetch."""
        from concurrent.futures import ThreadPoolExecutor

        jwks.delay = 0.2
        verifier = _verifier(jwks)
        token = signed(keys["ES256"], claims())
        with ThreadPoolExecutor(16) as pool:
            subs = set(pool.map(lambda _: verifier.verify(token)["sub"], range(16)))
        assert subs == {"user-1"} and jwks.hits == 1

    def test_rotation_picks_up_new_kid(self, jwks: JWKSServer, keys: dict[str, KeyPair]) -> None:
        """A token signed by a newly published key verifies after the refetch it triggers."""
        verifier = _verifier(jwks, jwks_cooldown=0.0)
        verifier.verify(signed(keys["RS256"], claims()))
        fresh = make_pair("ES256", "kid-rotated")
        jwks.keys = [*jwks.keys, fresh.public_jwk]
        assert verifier.verify(signed(fresh, claims(sub="rotated")))["sub"] == "rotated"
        jwks.keys = [fresh.public_jwk]  # the old key is retired
        time.sleep(0.01)
        with pytest.raises(InvalidToken):
            verifier.verify(signed(keys["RS256"], claims(), kid="kid-gone"))

    async def test_unreachable_from_start_is_unavailable(self, keys: dict[str, KeyPair]) -> None:
        """With no key set ever fetched the answer is KeySetUnavailable (503), not InvalidToken."""
        server = JWKSServer([], status=503).start()
        try:
            verifier = _verifier(server, jwks_cooldown=0.0)
            token = signed(keys["RS256"], claims())
            with pytest.raises(KeySetUnavailable):
                verifier.verify(token)
            with pytest.raises(KeySetUnavailable):
                await verifier.averify(token)
        finally:
            server.stop()

    def test_symmetric_and_encryption_keys_ignored(self, keys: dict[str, KeyPair]) -> None:
        """oct keys and use=enc keys in a JWKS are never used for verification."""
        enc = dict(keys["RS256"].public_jwk, use="enc")
        oct_key = {"kty": "oct", "kid": "kid-oct", "k": "c2VjcmV0", "alg": "HS256"}
        server = JWKSServer([enc, oct_key]).start()
        try:
            verifier = _verifier(server)
            with pytest.raises(KeySetUnavailable):
                verifier.verify(signed(keys["RS256"], claims()))
        finally:
            server.stop()


class TestJWKSDeadline:
    @pytest.mark.parametrize("drip_from", ["body", "status"])
    def test_a_dripping_endpoint_is_cut_at_the_deadline(
        self, jwks: JWKSServer, keys: dict[str, KeyPair], drip_from: str
    ) -> None:
        """An endpoint sending one byte every 100 ms fails the fetch at its total deadline,
        whether it drips the body or the status line and headers."""
        jwks.drip, jwks.drip_from = 0.1, drip_from
        verifier = _verifier(jwks, jwks_timeout=0.5, allow_insecure_http=True)
        token = signed(keys["ES256"], claims())
        outcome: list[BaseException] = []

        def verify() -> None:
            try:
                verifier.verify(token)
            except BaseException as exc:  # recorded for the assertion below
                outcome.append(exc)

        worker = threading.Thread(target=verify, daemon=True)
        worker.start()
        worker.join(30)  # liveness bound only: the deadline is 0.5 s, dripping would take hours
        assert not worker.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], KeySetUnavailable)

    def test_http_jwks_urls_are_refused_unless_allowed(self, jwks: JWKSServer) -> None:
        """``http://`` is for local development only, and must be asked for."""
        with pytest.raises(ConfigurationError, match="allow_insecure_http"):
            JWTVerifier(jwks_url=jwks.url, audience=AUDIENCE)
        with pytest.raises(ConfigurationError):
            JWKSCache(jwks.url, algorithms=["ES256"])
        assert JWTVerifier(jwks_url=jwks.url, audience=AUDIENCE, allow_insecure_http=True).jwks
        assert JWKSCache("https://example.invalid/jwks.json", algorithms=["ES256"])
