"""
The tokens every layer must refuse with 401 (issue 4, "Must hold"), built once per key set.
"""

from __future__ import annotations

import time

from tests.auth._tokens import SECRET, KeyPair, b64, claims, hs_token, raw_token, signed

OVERSIZE = 9000


def bad_tokens(keys: dict[str, KeyPair]) -> dict[str, str]:
    """Name -> token (the raw header-less token string) for each refusal case."""
    rsa = keys["RS256"]
    now = time.time()
    return {
        "garbage": "not-a-token",
        "three dots": "...",
        "two dots": "a.b",
        "alg none": raw_token({"alg": "none", "typ": "JWT"}, claims(), None),
        "alg none signed": raw_token({"alg": "none"}, claims(), b"x"),
        "hs256 with rsa public key": raw_token(
            {"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims(), rsa.public_pem
        ),
        "rs256 header on hs secret": raw_token(
            {"alg": "RS256", "kid": rsa.kid}, claims(), SECRET.encode()
        ),
        "wrong secret": hs_token(claims(), secret="another-secret-that-is-long-enough-012345"),
        "expired": hs_token(claims(ttl=-10)),
        "expired rsa": signed(rsa, claims(ttl=-10)),
        "nbf in the future": hs_token(claims(nbf=int(now + 600))),
        "wrong aud": hs_token(claims(aud="anon-other")),
        "no aud": hs_token(claims(aud=None)),
        "wrong iss": hs_token(claims(iss="https://evil.example/auth/v1")),
        "unknown kid": signed(rsa, claims(), kid="kid-nobody-knows"),
        "kid of another alg": signed(keys["ES256"], claims(), kid=rsa.kid),
        "oversize": hs_token(claims(pad="x" * OVERSIZE)),
        "no sub": hs_token(claims(sub=None)),
        "no exp": hs_token({k: v for k, v in claims().items() if k != "exp"}),
        "exp as string": hs_token(claims(exp="9999999999")),
        "tampered payload": _tamper(hs_token(claims())),
        "hs512 not allowed": hs_token(claims(), alg="HS512"),
    }


def _tamper(token: str) -> str:
    header, _, signature = token.split(".")
    return ".".join((header, b64(b'{"sub":"admin","aud":"authenticated"}'), signature))
