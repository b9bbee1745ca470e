"""
`JWTVerifier`: check a JWT's signature and claims with PyJWT, algorithms pinned.

Order of checks, cheapest first, so junk costs almost nothing:

```text
length <= max_token_bytes ─▶ shape b64url.b64url.b64url ─▶ header: alg allowed?
  ├─ HS256/384/512 ─▶ the shared secret (only if one is configured)
  └─ RS*/ES*/EdDSA ─▶ JWKS key by kid, pinned to its own alg (never the header's)
─▶ PyJWT: signature, aud, iss, required claims ─▶ exp / nbf against our clock
```

Algorithm confusion cannot happen: an HS token is only ever checked against
the configured secret (never a public key), an asymmetric token only against
a JWKS key whose own algorithm equals the header's, and ``none`` is never
allowed. Time claims are checked here rather than by PyJWT so that the clock
is injectable (tests) and ``exp`` is required to be a number.

Supabase in one line: ``JWTVerifier.for_supabase("https://<project>.supabase.co")``
(JWKS URL, issuer and audience derived from the project URL; add ``secret=`` for
the legacy HS256 secret).
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

import jwt

from wa_perfkit.auth.jwks import JWKSCache
from wa_perfkit.errors import ConfigurationError, InvalidToken
from wa_perfkit.secret import Secret

__all__ = ["ASYMMETRIC_ALGORITHMS", "HMAC_ALGORITHMS", "MAX_LEEWAY", "JWTVerifier"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_DEFAULT_ASYMMETRIC = ("RS256", "ES256", "EdDSA")

#: The most clock skew (seconds) a verifier tolerates on ``exp`` and ``nbf``: five
#: minutes, Kerberos's default. More would keep expired tokens valid for that long.
MAX_LEEWAY = 300.0
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)


class JWTVerifier:
    """
    Verifies bearer JWTs: signature, algorithm, audience, issuer, time claims, size.

    Args:
        secret: the shared HMAC secret (Supabase's legacy "JWT secret").
        jwks_url: the JWKS URL for RS256/ES256/EdDSA tokens (keys found by ``kid``).
        algorithms: the accepted algorithms; defaults to HS256 with a secret plus
            RS256, ES256 and EdDSA with a JWKS URL. ``none`` is never accepted.
        audience: the required ``aud`` (Supabase: ``"authenticated"``). None
            refuses tokens that carry an ``aud`` (PyJWT's rule): set it.
        issuer: the required ``iss``; None skips the check.
        leeway: seconds of clock skew tolerated on ``exp`` and ``nbf`` (0 to `MAX_LEEWAY`).
        required_claims: claims every token must carry.
        max_token_bytes: longer tokens are refused before any parsing.
        jwks_ttl: seconds before a fetched key set is refreshed.
        jwks_cooldown: minimum seconds between two JWKS fetches.
        jwks_timeout: seconds a whole JWKS fetch may take (connect, TLS, headers, body).
        clock: wall clock for ``exp``/``nbf`` (seconds since the epoch).
        timer: monotonic clock for the JWKS refresh schedule.
        allow_insecure_http: accept an ``http://`` ``jwks_url`` (a JWKS served on
            your own machine during development; never in production).

    Raises:
        ConfigurationError: neither ``secret`` nor ``jwks_url``, an algorithm
            that has no key source (or is ``none``), an ``http://`` JWKS URL
            without ``allow_insecure_http``; an empty audience or issuer; a
            ``leeway`` that is negative, not finite or over `MAX_LEEWAY` (it would
            let expired tokens in); a single string as ``required_claims``; a
            ``max_token_bytes`` that is not a positive int.
    """

    def __init__(
        self,
        secret: str | bytes | Secret | None = None,
        *,
        jwks_url: str | None = None,
        algorithms: Iterable[str] | None = None,
        audience: str | Collection[str] | None = None,
        issuer: str | None = None,
        leeway: float = 0.0,
        required_claims: Iterable[str] = ("exp", "sub"),
        max_token_bytes: int = 8192,
        jwks_ttl: float = 600.0,
        jwks_cooldown: float = 15.0,
        jwks_timeout: float = 3.0,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        allow_insecure_http: bool = False,
    ) -> None:
        if secret is None and jwks_url is None:
            raise ConfigurationError("JWTVerifier needs secret= or jwks_url=")
        self.algorithms = _algorithms(algorithms, secret is not None, jwks_url is not None)
        self._secret = Secret(secret) if secret is not None else None
        self.jwks = (
            JWKSCache(
                jwks_url, algorithms=self.algorithms - HMAC_ALGORITHMS, ttl=jwks_ttl,
                cooldown=jwks_cooldown, timeout=jwks_timeout, timer=timer,
                allow_insecure_http=allow_insecure_http,
            )
            if jwks_url is not None
            else None
        )
        self.audience = _audience(audience)
        if issuer is not None and (not isinstance(issuer, str) or not issuer):
            raise ConfigurationError(f"issuer must be a non-empty str or None, not {issuer!r}")
        self.issuer = issuer
        self.leeway = _leeway(leeway)
        self.required_claims = _claim_names(required_claims)
        if type(max_token_bytes) is not int or max_token_bytes < 1:
            raise ConfigurationError(
                f"max_token_bytes must be a positive int, not {max_token_bytes!r}"
            )
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        self._options: dict[str, Any] = {
            "require": list(self.required_claims),
            "verify_exp": False,  # checked in _check_times with the injectable clock
            "verify_nbf": False,
            "verify_iat": False,
        }
        self._verifications = itertools.count()

    @classmethod
    def for_supabase(
        cls,
        project_url: str,
        *,
        secret: str | bytes | Secret | None = None,
        audience: str | Collection[str] = "authenticated",
        **options: Any,
    ) -> JWTVerifier:
        """
        Build the verifier of a Supabase project's access tokens from its URL.

        The JWKS URL is ``{project_url}/auth/v1/.well-known/jwks.json``, the issuer
        ``{project_url}/auth/v1`` and the audience ``"authenticated"``: tokens
        signed with the project's asymmetric keys (ES256/RS256) are checked against
        the JWKS; with ``secret=`` (the legacy JWT secret), HS256 tokens too.

        Args:
            project_url: the project's URL, ``https://<project-ref>.supabase.co``.
            secret: the legacy HS256 JWT secret, during or instead of the move to
                asymmetric keys.
            audience: the required ``aud``.
            **options: any other `JWTVerifier` argument (``leeway=``, ``jwks_ttl=``...).

        Returns:
            The verifier.

        Raises:
            ConfigurationError: ``project_url`` is not an ``https://`` URL (an
                ``http://`` one needs ``allow_insecure_http=True``).
        """
        base = project_url.strip().rstrip("/")
        if not base.lower().startswith(("https://", "http://")):
            raise ConfigurationError(
                f"project_url must be https://<project-ref>.supabase.co, not {project_url!r}"
            )
        return cls(
            secret, jwks_url=f"{base}/auth/v1/.well-known/jwks.json", audience=audience,
            issuer=f"{base}/auth/v1", **options,
        )

    def __repr__(self) -> str:
        source = "jwks" if self._secret is None else "secret" if self.jwks is None else "both"
        return f"JWTVerifier({source}, algorithms={sorted(self.algorithms)}, aud={self.audience!r})"

    @property
    def verifications(self) -> int:
        """
        How many signatures this verifier has checked (successful or not).
        """
        return int(repr(self._verifications)[6:-1])

    def verify(self, token: str) -> dict[str, Any]:
        """
        Return the claims of a valid token.

        Args:
            token: the raw JWT.

        Returns:
            The verified claims.

        Raises:
            InvalidToken: anything wrong with the token (the reason never contains it).
            KeySetUnavailable: JWKS-signed token but no key set could ever be fetched.
        """
        alg, kid = self._header(token)
        key = self._hmac_key() if alg in HMAC_ALGORITHMS else self._jwks().key(kid, alg)
        return self._decode(token, key, alg)

    async def averify(self, token: str) -> dict[str, Any]:
        """
        Async twin of `verify`: a JWKS fetch never blocks the event loop.
        """
        alg, kid = self._header(token)
        key = self._hmac_key() if alg in HMAC_ALGORITHMS else await self._jwks().akey(kid, alg)
        return self._decode(token, key, alg)

    def _header(self, token: str) -> tuple[str, str | None]:
        if len(token) > self.max_token_bytes:
            raise InvalidToken("token too large")
        if not _SHAPE.fullmatch(token):
            raise InvalidToken("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except Exception:  # PyJWT raises DecodeError, but junk may reach json/base64 too
            raise InvalidToken("malformed header") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("algorithm not allowed")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed kid")
        return alg, kid

    def _hmac_key(self) -> bytes:
        assert self._secret is not None  # HMAC algorithms are only allowed with a secret
        return self._secret.get_secret_value()

    def _jwks(self) -> JWKSCache:
        assert self.jwks is not None  # asymmetric algorithms are only allowed with a JWKS URL
        return self.jwks

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        next(self._verifications)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(_reason(exc)) from None
        except Exception:  # a crafted token must never become a 500
            raise InvalidToken("malformed token") from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is not None:
            if not _is_number(exp):
                raise InvalidToken("exp is not a number")
            if now >= exp + self.leeway:
                raise InvalidToken("token expired")
        if nbf is not None:
            if not _is_number(nbf):
                raise InvalidToken("nbf is not a number")
            if nbf > now + self.leeway:
                raise InvalidToken("token not yet valid")


def _algorithms(chosen: Iterable[str] | None, has_secret: bool, has_jwks: bool) -> frozenset[str]:
    if chosen is None:
        hmac = ("HS256",) if has_secret else ()
        return frozenset(hmac + (_DEFAULT_ASYMMETRIC if has_jwks else ()))
    algorithms = frozenset(chosen)
    for alg in algorithms:
        if alg in HMAC_ALGORITHMS and not has_secret:
            raise ConfigurationError(f"{alg} needs secret=")
        if alg in ASYMMETRIC_ALGORITHMS and not has_jwks:
            raise ConfigurationError(f"{alg} needs jwks_url=")
        if alg not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(f"algorithm {alg!r} is not supported")
    if not algorithms:
        raise ConfigurationError("algorithms must not be empty")
    return algorithms


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"
    return "invalid token"


def _audience(audience: str | Collection[str] | None) -> str | list[str] | None:
    # An empty audience would refuse every token: a configuration error, said now.
    if audience is None:
        return None
    names = [audience] if isinstance(audience, str) else [*audience]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(f"audience must be non-empty strings, not {audience!r}")
    return audience if isinstance(audience, str) else names


def _leeway(leeway: float) -> float:
    # A NaN or infinite leeway makes every exp comparison pass: expired tokens get in.
    if (
        isinstance(leeway, bool)
        or not isinstance(leeway, (int, float))
        or not 0 <= leeway <= MAX_LEEWAY
    ):
        raise ConfigurationError(
            f"leeway must be seconds of clock skew from 0 to {MAX_LEEWAY}, not {leeway!r}"
        )
    return float(leeway)


def _claim_names(claims: Iterable[str]) -> tuple[str, ...]:
    if isinstance(claims, str):
        raise ConfigurationError(f"required_claims is a list of names, not one str: {claims!r}")
    names = tuple(claims)
    if not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(f"required_claims must be non-empty strings, not {names!r}")
    return names
