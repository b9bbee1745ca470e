"""
JWTVerifier: every refusal of issue 4, and the accepted Supabase token shapes.
"""

from __future__ import annotations

import pytest

from tests.auth._tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    JWKSServer,
    KeyPair,
    claims,
    hs_token,
    signed,
)
from tests.auth.cases import bad_tokens
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.auth.verifier import MAX_LEEWAY
from wa_perfkit.errors import ConfigurationError, InvalidToken
from wa_perfkit.secret import Secret


class TestJWTVerifier:
    @pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
    async def test_jwks_algorithms_accepted(
        self, verifier: JWTVerifier, keys: dict[str, KeyPair], alg: str
    ) -> None:
        """RS256, ES256 and EdDSA tokens verify against the JWKS by kid, sync and async."""
        token = signed(keys[alg], claims(sub=f"u-{alg}"))
        assert verifier.verify(token)["sub"] == f"u-{alg}"
        assert (await verifier.averify(token))["sub"] == f"u-{alg}"

    def test_legacy_secret_accepted(self, verifier: JWTVerifier) -> None:
        """A Supabase legacy HS256 token verifies with the shared secret."""
        assert verifier.verify(hs_token(claims(sub="legacy")))["sub"] == "legacy"

    async def test_every_bad_token_refused(
        self, verifier: JWTVerifier, keys: dict[str, KeyPair]
    ) -> None:
        """Each case of the issue's 401 list raises InvalidToken, sync and async."""
        for name, token in bad_tokens(keys).items():
            with pytest.raises(InvalidToken):
                verifier.verify(token)
            with pytest.raises(InvalidToken):
                await verifier.averify(token)
            assert name  # keeps the case name in the failure's locals

    def test_reason_never_contains_token(
        self, verifier: JWTVerifier, keys: dict[str, KeyPair]
    ) -> None:
        """Refusal reasons are short and never echo the token."""
        for token in bad_tokens(keys).values():
            with pytest.raises(InvalidToken) as info:
                verifier.verify(token)
            assert token not in info.value.reason and len(info.value.reason) < 60

    def test_leeway(self) -> None:
        """Leeway tolerates small clock skew on exp."""
        token = hs_token(claims(ttl=-5))
        strict = JWTVerifier(SECRET, audience=AUDIENCE)
        lenient = JWTVerifier(SECRET, audience=AUDIENCE, leeway=30)
        with pytest.raises(InvalidToken):
            strict.verify(token)
        assert lenient.verify(token)["sub"] == "user-1"

    def test_injected_clock(self) -> None:
        """exp and nbf are checked against the injected clock."""
        now = [1_000_000.0]
        verifier = JWTVerifier(SECRET, audience=AUDIENCE, clock=lambda: now[0])
        token = hs_token(claims(ttl=10, now=now[0], nbf=int(now[0] + 2)))
        with pytest.raises(InvalidToken, match="not yet valid"):
            verifier.verify(token)
        now[0] += 3
        assert verifier.verify(token)["sub"] == "user-1"
        now[0] += 10
        with pytest.raises(InvalidToken, match="expired"):
            verifier.verify(token)

    def test_verifications_counted(self, verifier: JWTVerifier) -> None:
        """Each signature check is counted, refused or not."""
        verifier.verify(hs_token(claims()))
        with pytest.raises(InvalidToken):
            verifier.verify(hs_token(claims(aud="x")))
        with pytest.raises(InvalidToken):
            verifier.verify("junk")  # refused before any signature check
        assert verifier.verifications == 2

    def test_required_claims_configurable(self) -> None:
        """required_claims replaces the default exp+sub."""
        verifier = JWTVerifier(SECRET, audience=AUDIENCE, required_claims=("exp", "sub", "email"))
        with pytest.raises(InvalidToken, match="email"):
            verifier.verify(hs_token(claims()))
        assert verifier.verify(hs_token(claims(email="a@b.c")))["email"] == "a@b.c"

    def test_issuer_and_audience_list(self) -> None:
        """An audience list accepts any of its members; issuer is enforced."""
        verifier = JWTVerifier(SECRET, audience=["authenticated", "service"], issuer=ISSUER)
        assert verifier.verify(hs_token(claims(aud="service")))["aud"] == "service"

    def test_configuration_errors(self, jwks: JWKSServer) -> None:
        """Impossible configurations fail at construction."""
        with pytest.raises(ConfigurationError):
            JWTVerifier()
        with pytest.raises(ConfigurationError):
            JWTVerifier(SECRET, algorithms=["RS256"])
        with pytest.raises(ConfigurationError):
            JWTVerifier(jwks_url=jwks.url, algorithms=["HS256"])
        with pytest.raises(ConfigurationError):
            JWTVerifier(SECRET, algorithms=["none"])
        with pytest.raises(ConfigurationError):
            JWTVerifier(jwks_url="file:///etc/passwd")

    def test_secret_masked(self) -> None:
        """The secret never shows in repr."""
        verifier = JWTVerifier(Secret(SECRET), audience=AUDIENCE)
        assert SECRET not in repr(verifier) and SECRET not in repr(vars(verifier))


class TestConfiguration:
    @pytest.mark.parametrize(
        "options",
        [
            {"leeway": float("nan")},
            {"leeway": float("inf")},
            {"leeway": -5},
            {"leeway": 10**9},
            {"leeway": True},
            {"audience": ""},
            {"audience": []},
            {"audience": ["ok", ""]},
            {"issuer": ""},
            {"required_claims": "exp"},
            {"required_claims": ["exp", ""]},
            {"max_token_bytes": 0},
            {"jwks_url": "https://example.invalid/jwks.json", "jwks_ttl": float("nan")},
            {"jwks_url": "https://example.invalid/jwks.json", "jwks_timeout": 0},
        ],
    )
    def test_settings_that_would_misjudge_tokens_fail_at_construction(
        self, options: dict[str, object]
    ) -> None:
        """A NaN leeway let expired tokens in; an empty audience refused every token."""
        with pytest.raises(ConfigurationError):
            JWTVerifier(SECRET, **{"audience": AUDIENCE, **options})  # type: ignore[arg-type]

    def test_expired_tokens_stay_out_at_the_largest_leeway(self) -> None:
        """MAX_LEEWAY bounds how long after exp a token is accepted."""
        verifier = JWTVerifier(SECRET, audience=AUDIENCE, leeway=MAX_LEEWAY)
        with pytest.raises(InvalidToken):
            verifier.verify(hs_token(claims(ttl=-int(MAX_LEEWAY) - 5)))
        assert verifier.verify(hs_token(claims(ttl=-int(MAX_LEEWAY) + 30)))["sub"]
