"""
Tests of `wa_perfkit.integrations.fastapi.webhook` through a real FastAPI app.

No ``from __future__ import annotations`` here: FastAPI must evaluate the
``Annotated[..., Depends(webhook.delivery)]`` hints, and ``webhook`` is a local.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from _wa_samples import (
    APP_SECRET,
    VERIFY_TOKEN,
    delivery,
    encode,
    image_message,
    signed,
    status,
    text_message,
)
from fastapi import Depends, FastAPI, Request
from hypothesis import given, settings
from hypothesis import strategies as st

from wa_perfkit.integrations.fastapi.webhook import WhatsAppWebhook
from wa_perfkit.whatsapp import WebhookDelivery, sign_body

TEN_MB = 10 * 1024 * 1024


def make_app(**options: Any) -> FastAPI:
    webhook = WhatsAppWebhook(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, **options)
    app = FastAPI()
    app.add_api_route("/webhook", webhook.handshake, methods=["GET"])

    @app.post("/webhook")
    async def receive(
        request: Request, parsed: Annotated[WebhookDelivery, Depends(webhook.delivery)]
    ) -> dict[str, Any]:
        again = await request.json()  # the body was read once and cached
        return {
            "messages": list(parsed.message_ids),
            "statuses": [s.dedupe_key for s in parsed.statuses],
            "json_object": again["object"],
        }

    @app.post("/raw")
    async def raw(body: Annotated[bytes, Depends(webhook.verified_body)]) -> dict[str, int]:
        return {"size": len(body)}

    return app


@pytest.fixture(name="client")
async def fixture_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def post(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], path: str = "/webhook"
) -> httpx.Response:
    return await client.post(path, content=body, headers=headers)


BODY = encode(
    delivery([text_message("wamid.1"), image_message("wamid.2")], [status("wamid.O", "read")])
)


class TestSignature:
    async def test_valid_signature(self, client: httpx.AsyncClient) -> None:
        """A signed delivery reaches the handler parsed, and request.json() still works."""
        response = await post(client, BODY, signed(BODY))
        assert response.status_code == 200
        assert response.json() == {
            "messages": ["wamid.1", "wamid.2"],
            "statuses": ["wamid.O:read"],
            "json_object": "whatsapp_business_account",
        }

    async def test_flipped_bit(self, client: httpx.AsyncClient) -> None:
        """One flipped bit in the body after signing answers 401."""
        tampered = BODY[:10] + bytes([BODY[10] ^ 0x01]) + BODY[11:]
        response = await post(client, tampered, signed(BODY))
        assert response.status_code == 401
        assert response.json()["detail"] == "invalid webhook signature: mismatch"

    async def test_wrong_secret(self, client: httpx.AsyncClient) -> None:
        """A body signed with another secret answers 401."""
        assert (await post(client, BODY, signed(BODY, "not-the-secret"))).status_code == 401

    async def test_missing_header(self, client: httpx.AsyncClient) -> None:
        """No X-Hub-Signature-256 header answers 401."""
        response = await post(client, BODY, {"Content-Type": "application/json"})
        assert response.status_code == 401
        assert response.json()["detail"].endswith("missing-header")

    async def test_header_without_prefix(self, client: httpx.AsyncClient) -> None:
        """A bare hex digest without ``sha256=`` answers 401."""
        digest = sign_body(BODY, APP_SECRET).removeprefix("sha256=")
        response = await post(client, BODY, {"X-Hub-Signature-256": digest})
        assert response.status_code == 401
        assert response.json()["detail"].endswith("bad-prefix")

    async def test_uppercase_hex(self, client: httpx.AsyncClient) -> None:
        """An uppercase digest is accepted (hex is case-insensitive)."""
        header = "sha256=" + sign_body(BODY, APP_SECRET).removeprefix("sha256=").upper()
        assert (await post(client, BODY, {"X-Hub-Signature-256": header})).status_code == 200

    async def test_empty_body_signed(self, client: httpx.AsyncClient) -> None:
        """An empty body with its valid signature passes the check, then is a 400 payload."""
        response = await post(client, b"", signed(b""))
        assert response.status_code == 400

    async def test_empty_body_unsigned(self, client: httpx.AsyncClient) -> None:
        """An empty body without a signature answers 401."""
        assert (await post(client, b"", {})).status_code == 401

    async def test_ten_megabytes_refused(self, client: httpx.AsyncClient) -> None:
        """A signed 10 MB body answers 413 under the default 3 MiB limit."""
        body = b'{"object":"x","entry":[],"pad":"' + b"x" * TEN_MB + b'"}'
        response = await post(client, body, signed(body))
        assert response.status_code == 413

    async def test_ten_megabytes_without_limit(self) -> None:
        """With the limit disabled, a signed 10 MB delivery is accepted."""
        body = b'{"object":"x","entry":[],"pad":"' + b"x" * TEN_MB + b'"}'
        transport = httpx.ASGITransport(app=make_app(max_body_bytes=None))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await post(client, body, signed(body))).status_code == 200

    async def test_verified_body_dependency(self, client: httpx.AsyncClient) -> None:
        """verified_body hands over the raw bytes of a signed request, 401 otherwise."""
        assert (await post(client, b"abc", signed(b"abc"), "/raw")).json() == {"size": 3}
        assert (await post(client, b"abc", signed(b"abd"), "/raw")).status_code == 401

    async def test_rotation(self) -> None:
        """Both secrets of a rotation are accepted."""
        webhook = WhatsAppWebhook(app_secret=["old", "new"], verify_token=VERIFY_TOKEN)
        app = FastAPI()

        @app.post("/w")
        async def w(parsed: Annotated[WebhookDelivery, Depends(webhook.delivery)]) -> int:
            return len(parsed.messages)

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            for secret in ("old", "new"):
                assert (await c.post("/w", content=BODY, headers=signed(BODY, secret))).json() == 2

    def test_repr_hides_secrets(self) -> None:
        """Neither the secret nor the verify token shows in the repr."""
        text = repr(WhatsAppWebhook(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN))
        assert APP_SECRET not in text and VERIFY_TOKEN not in text


class TestPayload:
    @pytest.mark.parametrize(
        "body",
        [
            b"{",
            b"not json",
            b"[]",
            b'{"object": "x"}',
            encode({"object": "x", "entry": {"changes": []}}),
        ],
    )
    async def test_malformed_signed_payload_is_400(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        """A correctly signed body that is not a delivery answers 400."""
        response = await post(client, body, signed(body))
        assert response.status_code == 400
        assert response.json()["detail"].startswith("invalid webhook payload")

    async def test_bad_content_length_is_400(self) -> None:
        """A non-numeric Content-Length answers 400 before the body is read."""
        app = make_app()
        messages: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/webhook",
            "raw_path": b"/webhook",
            "query_string": b"",
            "headers": [(b"content-length", b"12x")],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("t", 80),
            "client": ("c", 1),
            "root_path": "",
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, send)
        assert messages[0]["status"] == 400


class TestHandshake:
    async def test_valid_handshake(self, client: httpx.AsyncClient) -> None:
        """The right token echoes the challenge as text/plain."""
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        }
        response = await client.get("/webhook", params=params)
        assert response.status_code == 200
        assert response.text == "1158201444"
        assert response.headers["content-type"].startswith("text/plain")

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
    async def test_refused_handshake_is_403(
        self, client: httpx.AsyncClient, params: dict[str, str]
    ) -> None:
        """A wrong or incomplete verification request answers 403."""
        assert (await client.get("/webhook", params=params)).status_code == 403


_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)
_fuzz_app = make_app()


def _post_sync(body: bytes, headers: dict[str, str]) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=_fuzz_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/webhook", content=body, headers=headers)

    return asyncio.run(run())


@settings(max_examples=150, database=None, deadline=None)
@given(
    header=st.one_of(_header_text, _header_text.map(lambda s: "sha256=" + s)),
    body=st.binary(max_size=200),
)
def test_fuzzed_headers_never_500(header: str, body: bytes) -> None:
    """Arbitrary signature headers and bodies answer 401, never a 500."""
    response = _post_sync(body, {"X-Hub-Signature-256": header})
    assert response.status_code == 401


@settings(max_examples=100, database=None, deadline=None)
@given(
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
    )
)
def test_fuzzed_signed_payloads_never_500(document: object) -> None:
    """Any signed JSON document answers 200 or 400, never a 500."""
    body = json.dumps(document).encode()
    response = _post_sync(body, signed(body))
    assert response.status_code in {200, 400}
