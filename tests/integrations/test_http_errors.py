"""
One suite for the FastAPI and the Flask adapters: every case runs on both frameworks.

Webhook (signature, size, payload, handshake) and auth refusals must answer the
same status, JSON body and headers on both, from the one table of
``wa_perfkit.integrations._http_errors``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.auth._tokens import claims, hs_token
from tests.integrations._adapters import (
    APP_SECRET,
    FRAMEWORKS,
    VERIFY_TOKEN,
    Answer,
    Client,
    signed,
)
from wa_perfkit.whatsapp import sign_body

TEN_MB = 10 * 1024 * 1024
BODY = json.dumps(
    {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "106540352242922"},
                            "messages": [
                                {"id": "wamid.1", "type": "text", "text": {"body": "a"}},
                                {"id": "wamid.2", "type": "image", "image": {"id": "9"}},
                            ],
                            "statuses": [{"id": "wamid.O", "status": "read"}],
                        },
                    }
                ],
            }
        ],
    }
).encode()


@pytest.fixture(name="client", params=FRAMEWORKS, scope="module")
def fixture_client(request: pytest.FixtureRequest) -> Client:
    return Client(request.param)


def refused(answer: Answer, status: int) -> dict[str, Any]:
    """
    Check a refusal is ``status`` with a JSON ``{"detail": ...}`` body; return the body.
    """
    assert answer.status == status, answer.body[:200]
    assert answer.content_type.startswith("application/json"), answer.content_type
    body: dict[str, Any] = answer.json
    assert set(body) == {"detail"}
    return body


class TestSignature:
    def test_valid_signature(self, client: Client) -> None:
        """A signed delivery reaches the handler parsed, and the body can be read again."""
        answer = client.post("/webhook", BODY, signed(BODY))
        assert (answer.status, answer.json) == (
            200,
            {
                "messages": ["wamid.1", "wamid.2"],
                "statuses": ["wamid.O:read"],
                "json_object": "whatsapp_business_account",
            },
        )

    def test_url_arguments(self, client: Client) -> None:
        """A verified view keeps its URL arguments."""
        answer = client.post("/accounts/acc-7/webhook", BODY, signed(BODY))
        assert answer.json == {"account": "acc-7", "messages": ["wamid.1", "wamid.2"]}

    def test_flipped_bit(self, client: Client) -> None:
        """One flipped bit after signing answers 401 with the reason."""
        tampered = BODY[:10] + bytes([BODY[10] ^ 0x01]) + BODY[11:]
        body = refused(client.post("/webhook", tampered, signed(BODY)), 401)
        assert body == {"detail": "invalid webhook signature: mismatch"}

    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            ({"X-Hub-Signature-256": sign_body(BODY, "not-the-secret")}, "mismatch"),
            ({}, "missing-header"),
            ({"X-Hub-Signature-256": sign_body(BODY, APP_SECRET)[7:]}, "bad-prefix"),
            ({"X-Hub-Signature-256": "sha256=abc"}, "bad-length"),
        ],
    )
    def test_refused_with_401(self, client: Client, headers: dict[str, str], reason: str) -> None:
        """Wrong secret, missing or malformed header: 401 naming the reason."""
        assert refused(client.post("/webhook", BODY, headers), 401)["detail"].endswith(reason)

    def test_uppercase_hex(self, client: Client) -> None:
        """An uppercase digest is accepted (hex is case-insensitive)."""
        header = "sha256=" + sign_body(BODY, APP_SECRET)[7:].upper()
        assert client.post("/webhook", BODY, {"X-Hub-Signature-256": header}).status == 200

    def test_empty_body(self, client: Client) -> None:
        """An empty body passes with its signature and is then a 400 payload; unsigned, 401."""
        refused(client.post("/webhook", b"", signed(b"")), 400)
        refused(client.post("/webhook", b"", {}), 401)

    def test_verified_body(self, client: Client) -> None:
        """verified_body hands over the raw bytes of a signed request, 401 otherwise."""
        assert client.post("/raw", b"abc", signed(b"abc")).json == {"size": 3}
        refused(client.post("/raw", b"abc", signed(b"abd")), 401)

    @pytest.mark.parametrize("framework", FRAMEWORKS)
    def test_rotation(self, framework: str) -> None:
        """During a rotation both secrets are accepted, and no other."""
        client = Client(framework, app_secret=["new-secret", APP_SECRET])
        for secret in ("new-secret", APP_SECRET):
            assert client.post("/webhook", BODY, signed(BODY, secret)).status == 200
        refused(client.post("/webhook", BODY, signed(BODY, "third")), 401)


class TestSize:
    def test_ten_megabytes_refused(self, client: Client) -> None:
        """A signed 10 MB body answers 413 under the default 3 MiB limit."""
        body = b'{"object":"x","entry":[],"pad":"' + b"x" * TEN_MB + b'"}'
        assert "limit" in refused(client.post("/webhook", body, signed(body)), 413)["detail"]

    @pytest.mark.parametrize("framework", FRAMEWORKS)
    def test_without_limit(self, framework: str) -> None:
        """With the limit disabled, a signed 10 MB delivery is accepted."""
        body = b'{"object":"x","entry":[],"pad":"' + b"x" * TEN_MB + b'"}'
        answer = Client(framework, max_body_bytes=None).post("/webhook", body, signed(body))
        assert answer.status == 200

    @pytest.mark.parametrize("framework", FRAMEWORKS)
    def test_limit_is_exact(self, framework: str) -> None:
        """A body of exactly the limit passes; one byte more is a 413."""
        client = Client(framework, max_body_bytes=len(BODY))
        assert client.post("/webhook", BODY, signed(BODY)).status == 200
        longer = BODY + b" "
        refused(client.post("/webhook", longer, signed(longer)), 413)

    @pytest.mark.parametrize(
        "length", ["12x", "\u00b2", "9" * 5000, "-1", "1e3", " ", "+5", "0x10", "\u0663"]
    )
    def test_malformed_content_length_is_400(self, client: Client, length: str) -> None:
        """A Content-Length that is not a plain decimal number is a 400, never a 500."""
        answer = client.post("/webhook", BODY, signed(BODY), content_length=length)
        assert "Content-Length" in refused(answer, 400)["detail"]


class TestPayload:
    @pytest.mark.parametrize(
        "body", [b"{", b"not json", b"[]", b'{"object": "x"}', b'{"object":"x","entry":3}']
    )
    def test_malformed_signed_payload_is_400(self, client: Client, body: bytes) -> None:
        """A correctly signed body that is not a delivery answers 400 as JSON."""
        refused(client.post("/webhook", body, signed(body)), 400)

    def test_odd_item_is_accepted(self, client: Client) -> None:
        """A delivery with one malformed message hands over the others (200)."""
        doc = json.loads(BODY)
        doc["entry"][0]["changes"][0]["value"]["messages"].append({"type": "text"})
        body = json.dumps(doc).encode()
        answer = client.post("/webhook", body, signed(body))
        assert answer.json["messages"] == ["wamid.1", "wamid.2"]


class TestHandshake:
    def test_valid_handshake(self, client: Client) -> None:
        """The right token echoes the challenge as text/plain."""
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "11"}
        answer = client.get("/webhook", params=params)
        assert (answer.status, answer.body) == (200, b"11")
        assert answer.content_type.startswith("text/plain")

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            {"hub.mode": "subscribe", "hub.challenge": "1"},
            {"hub.mode": "other", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "<b>"},
        ],
    )
    def test_refused_handshake_is_403(self, client: Client, params: dict[str, str]) -> None:
        """A wrong or incomplete verification request answers 403 as JSON."""
        refused(client.get("/webhook", params=params), 403)


def _bearer(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hs_token(claims(sub))}"}


class TestAuth:
    def test_user(self, client: Client) -> None:
        """A valid token yields the user."""
        assert client.get("/auth/me", headers=_bearer("ana")).json == {"id": "ana", "roles": []}

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.jwt"}])
    def test_bad_token_is_401_with_challenge(
        self, client: Client, headers: dict[str, str]
    ) -> None:
        """No or a bad token: 401 with the RFC 6750 challenge."""
        answer = client.get("/auth/me", headers=headers)
        assert refused(answer, 401) == {"detail": "invalid or expired token"}
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    def test_missing_role_is_403(self, client: Client) -> None:
        """A user without the role: 403 with ``insufficient_scope``."""
        answer = client.get("/admin", headers=_bearer("ana"))
        assert refused(answer, 403) == {"detail": "missing required role"}
        assert answer.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
        assert client.get("/admin", headers=_bearer("admin")).status == 200

    def test_failing_loader_is_503(self, client: Client) -> None:
        """A failing user store: 503 with Retry-After."""
        answer = client.get("/auth/me", headers=_bearer("boom"))
        assert refused(answer, 503)["detail"].startswith("user store unavailable")
        assert answer.headers["retry-after"] == "1"

    def test_logout_recipe(self, client: Client) -> None:
        """The documented ``revoke(token(request))`` logout works; the token is then refused."""
        headers = _bearer(f"logout-{client.framework}-{time.monotonic_ns()}")
        assert client.get("/auth/me", headers=headers).status == 200
        assert client.post("/auth/logout", b"", headers).json == {"revoked": True}
        refused(client.get("/auth/me", headers=headers), 401)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_server_timing_details_only_once_authenticated(framework: str) -> None:
    """cached_user opts an authenticated request in to cache details; others get app time."""
    client = Client(framework, timing=True)
    headers = _bearer(f"timing-{framework}-{time.monotonic_ns()}")
    miss = client.get("/auth/me", headers=headers).headers["server-timing"]
    hit = client.get("/auth/me", headers=headers).headers["server-timing"]
    assert miss.startswith('cache;desc="miss"') and hit.startswith('cache;desc="hit"')
    for answer in (client.get("/auth/me"), client.post("/webhook", BODY, signed(BODY))):
        assert answer.headers["server-timing"].startswith("app;dur=")
        assert "cache" not in answer.headers["server-timing"]


REFUSALS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/webhook", {"body": BODY, "headers": {}}),
    ("POST", "/webhook", {"body": b"{", "headers": signed(b"{")}),
    ("POST", "/webhook", {"body": BODY, "headers": signed(BODY), "content_length": "\u00b2"}),
    ("POST", "/webhook", {"body": b"x" * (4 << 20), "headers": signed(b"x" * (4 << 20))}),
    ("GET", "/webhook", {"params": {"hub.mode": "x"}}),
    ("GET", "/auth/me", {}),
    ("GET", "/admin", {"headers": _bearer("ana")}),
    ("GET", "/auth/me", {"headers": _bearer("boom")}),
]


@pytest.mark.parametrize(("method", "path", "options"), REFUSALS)
def test_both_frameworks_answer_alike(method: str, path: str, options: dict[str, Any]) -> None:
    """Each refusal has the same status, JSON body and headers on FastAPI and Flask."""
    answers = [Client(f).request(method, path, **options) for f in FRAMEWORKS]
    keep = ("content-type", "www-authenticate", "retry-after")
    fastapi, flask = ((a.status, a.json, {k: a.headers.get(k) for k in keep}) for a in answers)
    assert fastapi == flask
    assert fastapi[0] >= 400


_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)
_clients = {f: Client(f) for f in FRAMEWORKS}


@settings(max_examples=100, database=None, deadline=None)
@given(
    framework=st.sampled_from(FRAMEWORKS),
    header=st.one_of(_header_text, _header_text.map(lambda s: "sha256=" + s)),
    body=st.binary(max_size=200),
)
def test_fuzzed_headers_never_500(framework: str, header: str, body: bytes) -> None:
    """Arbitrary signature headers and bodies answer 401, never a 500."""
    answer = _clients[framework].post("/webhook", body, {"X-Hub-Signature-256": header})
    assert answer.status == 401


@settings(max_examples=100, database=None, deadline=None)
@given(
    framework=st.sampled_from(FRAMEWORKS),
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["object", "entry", "changes", "value", "messages", "id", "type"]),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    ),
)
def test_fuzzed_signed_payloads_never_500(framework: str, document: object) -> None:
    """Any signed JSON document answers 200 or 400, never a 500."""
    body = json.dumps(document).encode()
    assert _clients[framework].post("/webhook", body, signed(body)).status in {200, 400}
