"""
Test keys, token minting and a local JWKS server that can be slow, failing or rotating.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

SECRET = "test-legacy-jwt-secret-that-is-long-enough-for-hs512-0123456789abcdef"
SERVER_KEY = "test-server-key-for-fingerprints-0123456789"
AUDIENCE = "authenticated"
ISSUER = "https://project.supabase.co/auth/v1"


@dataclass
class KeyPair:
    kid: str
    alg: str
    private: Any
    public_jwk: dict[str, Any]

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def make_pair(alg: str, kid: str) -> KeyPair:
    """A fresh key pair for ``alg`` with its public JWK."""
    if alg == "RS256":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk_json = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key())
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk_json = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        jwk_json = jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key())
    jwk = json.loads(jwk_json)
    jwk.update(kid=kid, alg=alg, use="sig")
    return KeyPair(kid, alg, private, jwk)


def claims(
    sub: str = "user-1", ttl: float = 3600, now: float | None = None, **extra: Any
) -> dict[str, Any]:
    """Supabase-like claims valid for ``ttl`` seconds."""
    now = time.time() if now is None else now
    base = {
        "sub": sub,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "exp": int(now + ttl),
        "iat": int(now),
        "role": "authenticated",
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def hs_token(payload: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=alg)


def signed(pair: KeyPair, payload: dict[str, Any], **header: Any) -> str:
    headers = {"kid": pair.kid, **header}
    return jwt.encode(payload, pair.private, algorithm=pair.alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """Hand-made JWS: lets tests sign HS256 with a PEM public key, or forge alg none."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    if key is None:
        return signing_input + "."
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


@dataclass
class JWKSServer:
    """Serves a JWKS document on loopback; tests flip ``status``, ``delay`` and ``keys``."""

    keys: list[dict[str, Any]]
    status: int = 200
    delay: float = 0.0
    hits: int = 0
    body: bytes | None = None
    #: Seconds between two bytes of the response (0: all at once); ``drip_from``
    #: says where the dripping starts: ``"status"`` or ``"body"``.
    drip: float = 0.0
    drip_from: str = "body"
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/auth/v1/.well-known/jwks.json"

    def start(self) -> JWKSServer:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with state.lock:
                    state.hits += 1
                time.sleep(state.delay)
                body = (
                    state.body
                    if state.body is not None
                    else json.dumps({"keys": state.keys}).encode()
                )
                if state.drip:
                    self._drip(body)
                    return
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drip(self, body: bytes) -> None:
                # A response that never ends: one byte per ``drip`` seconds until the
                # client goes away (bounded by the client's deadline).
                head = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000000\r\n\r\n"
                )
                if state.drip_from == "body":
                    self.wfile.write(head)
                    self.wfile.flush()
                    head = b""
                stream = head + body + b" " * 100_000_000
                try:
                    for index in range(len(stream)):
                        self.wfile.write(stream[index : index + 1])
                        self.wfile.flush()
                        time.sleep(state.drip)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
