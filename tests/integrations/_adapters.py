"""
The same apps on FastAPI and on Flask, behind one synchronous client, for one adapter suite.

Each app mounts the WhatsApp webhook (handshake, parsed delivery, raw verified
body, a view with a URL argument) and a `cached_user` (``/auth/me``, ``/admin``,
``/auth/logout`` using the documented ``current_user.token(request)`` recipe,
and ``/boom`` whose loader fails).

No ``from __future__ import annotations``: FastAPI must evaluate the
``Annotated[..., Depends(...)]`` hints, whose objects are locals.
"""

from dataclasses import dataclass
from typing import Annotated, Any

import flask
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from tests.auth._tokens import AUDIENCE, SECRET, SERVER_KEY
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.integrations.asgi import ServerTimingMiddleware
from wa_perfkit.integrations.fastapi.auth import cached_user as fastapi_cached_user
from wa_perfkit.integrations.fastapi.webhook import WhatsAppWebhook as FastAPIWebhook
from wa_perfkit.integrations.flask.auth import cached_user as flask_cached_user
from wa_perfkit.integrations.flask.timing import FlaskTiming
from wa_perfkit.integrations.flask.webhook import WhatsAppWebhook as FlaskWebhook
from wa_perfkit.whatsapp import WebhookDelivery, sign_body

APP_SECRET = "adapter-suite-app-secret"
VERIFY_TOKEN = "adapter-suite-verify-token"
FRAMEWORKS = ("fastapi", "flask")


@dataclass(frozen=True)
class Answer:
    """
    One HTTP response, framework-neutral.
    """

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        import json

        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """
    Headers of a correctly signed POST of ``body``.
    """
    return {"X-Hub-Signature-256": sign_body(body, secret), "Content-Type": "application/json"}


def _load(claims: dict[str, Any]) -> dict[str, Any] | None:
    if claims["sub"] == "boom":
        raise RuntimeError("the user store is down")
    roles = ["admin"] if claims["sub"] == "admin" else []
    return {"id": claims["sub"], "roles": roles}


def _verifier() -> JWTVerifier:
    return JWTVerifier(SECRET, algorithms=["HS256"], audience=AUDIENCE)


def _cache() -> Cache:
    return Cache(MemoryBackend(maxsize=1000), namespace="adapters")


def fastapi_app(**options: Any) -> FastAPI:
    """
    The FastAPI app of the suite.
    """
    webhook = FastAPIWebhook(**{"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, **options})
    current_user = fastapi_cached_user(
        _load, verifier=_verifier(), cache=_cache(), server_key=SERVER_KEY
    )
    app = FastAPI()
    app.add_api_route("/webhook", webhook.handshake, methods=["GET"])

    @app.post("/webhook")
    async def receive(
        request: Request, delivery: Annotated[WebhookDelivery, Depends(webhook.delivery)]
    ) -> dict[str, Any]:
        again = await request.json()  # the body was kept on the request
        return _summary(delivery, again)

    @app.post("/raw")
    async def raw(body: Annotated[bytes, Depends(webhook.verified_body)]) -> dict[str, int]:
        return {"size": len(body)}

    @app.post("/accounts/{account_id}/webhook")
    async def per_account(
        account_id: str, delivery: Annotated[WebhookDelivery, Depends(webhook.delivery)]
    ) -> dict[str, Any]:
        return {"account": account_id, "messages": list(delivery.message_ids)}

    @app.get("/auth/me")
    async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return user

    @app.get("/admin")
    async def admin(
        user: Annotated[dict[str, Any], Depends(current_user.require("admin"))],
    ) -> dict[str, Any]:
        return user

    @app.post("/auth/logout")
    async def logout(request: Request, _: Annotated[Any, Depends(current_user)]) -> dict[str, bool]:
        return {"revoked": await current_user.revoke(current_user.token(request))}

    return app


def flask_app(**options: Any) -> flask.Flask:
    """
    The Flask twin of `fastapi_app`.
    """
    webhook = FlaskWebhook(**{"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, **options})
    current_user = flask_cached_user(
        _load, verifier=_verifier(), cache=_cache(), server_key=SERVER_KEY
    )
    app = flask.Flask(__name__)
    app.add_url_rule("/webhook", "handshake", webhook.handshake, methods=["GET"])

    @app.post("/webhook")
    @webhook.verified
    def receive(delivery: WebhookDelivery) -> dict[str, Any]:
        return _summary(delivery, flask.request.get_json(force=True))

    @app.post("/raw")
    def raw() -> dict[str, int]:
        return {"size": len(webhook.verified_body())}

    @app.post("/accounts/<account_id>/webhook")
    @webhook.verified
    def per_account(delivery: WebhookDelivery, account_id: str) -> dict[str, Any]:
        return {"account": account_id, "messages": list(delivery.message_ids)}

    @app.get("/auth/me")
    @current_user.required
    def me() -> dict[str, Any]:
        return current_user.user

    @app.get("/admin")
    @current_user.required(roles=["admin"])
    def admin() -> dict[str, Any]:
        return current_user.user

    @app.post("/auth/logout")
    @current_user.required
    def logout() -> dict[str, bool]:
        # The documented recipe, as on FastAPI: token(request).
        return {"revoked": current_user.revoke(current_user.token(flask.request))}

    return app


def _latin1_or_utf8(text: str) -> bytes:
    # Servers decode header bytes as latin-1: b"\xb2" arrives as "²".
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _summary(delivery: WebhookDelivery, again: Any) -> dict[str, Any]:
    return {
        "messages": list(delivery.message_ids),
        "statuses": [s.dedupe_key for s in delivery.statuses],
        "json_object": again["object"],
    }


class Client:
    """
    A synchronous client for the suite's app on one framework.

    Args:
        framework: ``"fastapi"`` or ``"flask"``.
        timing: add the framework's Server-Timing middleware or hook.
        options: passed to the webhook adapter (``max_body_bytes=``...).
    """

    def __init__(self, framework: str, *, timing: bool = False, **options: Any) -> None:
        self.framework = framework
        if framework == "fastapi":
            app = fastapi_app(**options)
            if timing:
                app.add_middleware(ServerTimingMiddleware)
            self._fastapi = TestClient(app, raise_server_exceptions=False)
        else:
            flask_application = flask_app(**options)
            if timing:
                FlaskTiming(flask_application)
            self._flask = flask_application.test_client()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content_length: str | None = None,
    ) -> Answer:
        """
        Send one request and return its answer; ``content_length`` forces that header.
        """
        headers = dict(headers or {})
        if self.framework == "fastapi":
            sent: dict[str, str | bytes] = dict(headers)
            if content_length is not None:  # raw bytes: httpx only encodes str as ASCII
                sent["Content-Length"] = _latin1_or_utf8(content_length)
            r = self._fastapi.request(method, path, content=body, headers=sent, params=params)
            return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
        environ = {} if content_length is None else {"CONTENT_LENGTH": content_length}
        f = self._flask.open(
            path, method=method, data=body, headers=headers, query_string=params,
            environ_overrides=environ,
        )
        return Answer(f.status_code, {k.lower(): v for k, v in f.headers.items()}, f.get_data())

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Answer:
        """
        POST ``body`` to ``path``.
        """
        return self.request("POST", path, body=body, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Answer:
        """
        GET ``path``.
        """
        return self.request("GET", path, **kwargs)
