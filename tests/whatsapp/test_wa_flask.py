"""
Tests of `wa_perfkit.integrations.flask.webhook` through a real Flask app.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _wa_samples import APP_SECRET, VERIFY_TOKEN, delivery, encode, signed, status, text_message
from flask import Flask, request
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from wa_perfkit.integrations.flask.webhook import WhatsAppWebhook
from wa_perfkit.whatsapp import WebhookDelivery, sign_body

TEN_MB = 10 * 1024 * 1024
BODY = encode(
    delivery([text_message("wamid.1"), text_message("wamid.2")], [status("wamid.O", "sent")])
)


def make_app(**options: Any) -> Flask:
    webhook = WhatsAppWebhook(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, **options)
    app = Flask(__name__)
    app.add_url_rule("/webhook", "handshake", webhook.handshake, methods=["GET"])

    @app.post("/webhook")
    @webhook.verified
    def receive(parsed: WebhookDelivery) -> dict[str, Any]:
        again = request.get_json()  # the body was read once and cached
        return {
            "messages": list(parsed.message_ids),
            "statuses": [s.dedupe_key for s in parsed.statuses],
            "json_object": again["object"],
        }

    @app.post("/accounts/<account>/webhook")
    @webhook.verified
    def per_account(parsed: WebhookDelivery, account: str) -> dict[str, Any]:
        return {"account": account, "count": len(parsed.messages)}

    @app.post("/raw")
    def raw() -> dict[str, int]:
        return {"size": len(webhook.verified_body())}

    return app


@pytest.fixture(name="client")
def fixture_client() -> FlaskClient:
    return make_app().test_client()


class TestSignature:
    def test_valid_signature(self, client: FlaskClient) -> None:
        """A signed delivery reaches the view parsed, and get_json() still works."""
        response = client.post("/webhook", data=BODY, headers=signed(BODY))
        assert response.status_code == 200
        assert response.json == {
            "messages": ["wamid.1", "wamid.2"],
            "statuses": ["wamid.O:sent"],
            "json_object": "whatsapp_business_account",
        }

    def test_url_arguments_follow_the_delivery(self, client: FlaskClient) -> None:
        """URL arguments still reach the view, after the delivery."""
        response = client.post("/accounts/a1/webhook", data=BODY, headers=signed(BODY))
        assert response.json == {"account": "a1", "count": 2}

    @pytest.mark.parametrize(
        ("body", "headers", "reason"),
        [
            (BODY[:-2] + b" }", signed(BODY), "mismatch"),
            (BODY, signed(BODY, "not-the-secret"), "mismatch"),
            (BODY, {}, "missing-header"),
            (BODY, {"X-Hub-Signature-256": sign_body(BODY, APP_SECRET)[7:]}, "bad-prefix"),
            (BODY, {"X-Hub-Signature-256": "sha256=abc"}, "bad-length"),
            (BODY, {"X-Hub-Signature-256": "sha256=" + "z" * 64}, "not-hex"),
            (b"", {}, "missing-header"),
        ],
    )
    def test_refused_with_401(
        self, client: FlaskClient, body: bytes, headers: dict[str, str], reason: str
    ) -> None:
        """Each bad signature answers 401 naming its reason."""
        response = client.post("/webhook", data=body, headers=headers)
        assert response.status_code == 401
        assert reason in response.get_data(as_text=True)

    def test_flipped_bit(self, client: FlaskClient) -> None:
        """One flipped bit in the body after signing answers 401."""
        tampered = bytes([BODY[0] ^ 0x01]) + BODY[1:]
        assert client.post("/webhook", data=tampered, headers=signed(BODY)).status_code == 401

    def test_uppercase_hex(self, client: FlaskClient) -> None:
        """An uppercase digest is accepted (hex is case-insensitive)."""
        header = "sha256=" + sign_body(BODY, APP_SECRET)[7:].upper()
        assert (
            client.post(
                "/webhook", data=BODY, headers=signed(BODY) | {"X-Hub-Signature-256": header}
            ).status_code
            == 200
        )

    def test_empty_body_signed(self, client: FlaskClient) -> None:
        """An empty body with its valid signature is a 400 payload, not a 500."""
        assert client.post("/webhook", data=b"", headers=signed(b"")).status_code == 400

    def test_ten_megabytes_refused(self, client: FlaskClient) -> None:
        """A signed 10 MB body answers 413 under the default 3 MiB limit."""
        body = b'{"object":"x","entry":[],"pad":"' + b"x" * TEN_MB + b'"}'
        assert client.post("/webhook", data=body, headers=signed(body)).status_code == 413

    def test_ten_megabytes_without_limit(self) -> None:
        """With the limit disabled, a signed 10 MB delivery is accepted."""
        body = b'{"object":"x","entry":[],"pad":"' + b"x" * TEN_MB + b'"}'
        client = make_app(max_body_bytes=None).test_client()
        assert client.post("/webhook", data=body, headers=signed(body)).status_code == 200

    def test_verified_body(self, client: FlaskClient) -> None:
        """verified_body returns the raw bytes of a signed request, 401 otherwise."""
        assert client.post("/raw", data=b"abc", headers=signed(b"abc")).json == {"size": 3}
        assert client.post("/raw", data=b"abc", headers=signed(b"abd")).status_code == 401


class TestPayload:
    @pytest.mark.parametrize(
        "body", [b"{", b"not json", b"[]", b'{"object": "x"}', b'{"object":"x","entry":3}']
    )
    def test_malformed_signed_payload_is_400(self, client: FlaskClient, body: bytes) -> None:
        """A correctly signed body that is not a delivery answers 400."""
        assert client.post("/webhook", data=body, headers=signed(body)).status_code == 400


class TestHandshake:
    def test_valid_handshake(self, client: FlaskClient) -> None:
        """The right token echoes the challenge as text/plain."""
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
        response = client.get("/webhook", query_string=params)
        assert (response.status_code, response.get_data(as_text=True)) == (200, "42")
        assert response.mimetype == "text/plain"

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        ],
    )
    def test_refused_handshake_is_403(self, client: FlaskClient, params: dict[str, str]) -> None:
        """A wrong or incomplete verification request answers 403."""
        assert client.get("/webhook", query_string=params).status_code == 403


_fuzz_client = make_app().test_client()
_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)


@settings(max_examples=150, database=None, deadline=None)
@given(
    header=st.one_of(_header_text, _header_text.map(lambda s: "sha256=" + s)),
    body=st.binary(max_size=200),
)
def test_fuzzed_headers_never_500(header: str, body: bytes) -> None:
    """Arbitrary signature headers and bodies answer 401, never a 500."""
    response = _fuzz_client.post("/webhook", data=body, headers={"X-Hub-Signature-256": header})
    assert response.status_code == 401


@settings(max_examples=100, database=None, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["object", "entry", "changes", "value", "messages", "id"]),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_fuzzed_signed_payloads_never_500(document: object) -> None:
    """Any signed JSON document answers 200 or 400, never a 500."""
    body = json.dumps(document).encode()
    assert _fuzz_client.post("/webhook", data=body, headers=signed(body)).status_code in {200, 400}
