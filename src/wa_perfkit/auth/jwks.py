"""
A JWKS key set that keeps serving its last good keys.

PyJWT's ``PyJWKClient`` (up to 2.12) empties its cache when a fetch fails, so
a JWKS endpoint that blips takes authentication down with it (PyJWT #1162).
`JWKSCache` fetches and parses the set itself:

* a fetch that fails (timeout, HTTP error, bad JSON, no usable key) changes
  nothing: the last good keys keep verifying tokens;
* an unknown ``kid`` triggers a refetch (the issuer rotated its keys), but at
  most once per ``cooldown`` seconds, so tokens with random ``kid`` values
  cannot turn into one fetch per request;
* one fetch is in flight at a time: other callers wait for it (unknown
  ``kid``) or go on with the current keys (routine refresh after ``ttl``);
* the async path fetches in a worker thread (``asyncio.to_thread``), so the
  event loop never blocks on the network;
* a fetch has a total deadline (``timeout``), not only a per-socket timeout:
  an endpoint that drips one byte at a time keeps every read alive, so a
  timer shuts the connection down when the deadline passes, whatever phase
  (TLS handshake, headers, body) the fetch is in;
* ``https://`` only, redirects included: a key set fetched over plain HTTP
  can be replaced by anyone on the path. ``allow_insecure_http=True`` is for
  a JWKS served on your own machine during development.

Each key is pinned to one algorithm: its ``alg`` member, or the one its type
implies (RSA: RS256, EC P-256: ES256, OKP Ed25519: EdDSA). Symmetric
(``oct``) keys and keys whose ``use`` is not ``sig`` are ignored: a public
key set never holds an HMAC secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import math
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from typing import Any

import jwt

from wa_perfkit._log import RateLimitedWarning, logger
from wa_perfkit.errors import ConfigurationError, InvalidToken, KeySetUnavailable

__all__ = ["JWKSCache", "KeySetUnavailable"]

_MAX_JWKS_BYTES = 1 << 20


class JWKSCache:
    """
    The signing keys published at a JWKS URL, fetched lazily and kept on failure.

    Args:
        url: the JWKS URL (``https://``).
        algorithms: the asymmetric algorithms accepted; keys pinned to others are ignored.
        ttl: seconds after a successful fetch before the set is refreshed.
        cooldown: minimum seconds between two fetch attempts.
        timeout: seconds a whole fetch may take (connect, TLS, headers and body).
        timer: a monotonic clock (injectable for tests).
        allow_insecure_http: accept an ``http://`` URL (local development only).

    Raises:
        ConfigurationError: the URL is not HTTPS (or HTTP when allowed), or a
            duration is negative.
    """

    def __init__(
        self,
        url: str,
        *,
        algorithms: Collection[str],
        ttl: float = 600.0,
        cooldown: float = 15.0,
        timeout: float = 3.0,
        timer: Callable[[], float] = time.monotonic,
        allow_insecure_http: bool = False,
    ) -> None:
        if url.startswith("http://") and not allow_insecure_http:
            raise ConfigurationError(
                "jwks_url must be https:// (pass allow_insecure_http=True for a JWKS "
                "served locally during development)"
            )
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"jwks_url must be https://, not {url[:40]!r}")
        for name, value in (("ttl", ttl), ("cooldown", cooldown), ("timeout", timeout)):
            if not (isinstance(value, (int, float)) and 0 <= value < math.inf):
                raise ConfigurationError(f"JWKS {name} must be finite seconds >= 0, not {value!r}")
        if not timeout > 0:
            raise ConfigurationError(f"JWKS timeout must be positive, not {timeout!r}")
        self.url = url
        self.algorithms = frozenset(algorithms)
        self.ttl = ttl
        self.cooldown = cooldown
        self.timeout = timeout
        self.allow_insecure_http = allow_insecure_http
        self._timer = timer
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()
        self._alocks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._warn = RateLimitedWarning()
        #: Fetch attempts so far (successful or not).
        self.fetches = 0

    def __repr__(self) -> str:
        return f"JWKSCache({self.url!r}, keys={len(self._keys)})"

    # -- lookups -----------------------------------------------------------------

    def key(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """
        Return the key for ``kid`` pinned to ``alg``, fetching the set if needed.

        Raises:
            InvalidToken: no such key after a permitted refetch, or pinned to another alg.
            KeySetUnavailable: no key set could ever be fetched.
        """
        found = self._find(kid)
        if found is None or self._stale():
            if self._lock.acquire(blocking=found is None):
                try:
                    # Re-check under the lock: the fetch we waited for may have brought it.
                    if self._due(self._find(kid) is None):
                        self._fetch()
                finally:
                    self._lock.release()
            found = self._find(kid)
        return self._pinned(found, alg)

    async def akey(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """
        Async twin of `key`: the fetch runs in a worker thread.
        """
        found = self._find(kid)
        if found is None or self._stale():
            lock = self._alock()
            if found is None or not lock.locked():
                async with lock:
                    if self._due(self._find(kid) is None):
                        await asyncio.to_thread(self._fetch_locked)
            found = self._find(kid)
        return self._pinned(found, alg)

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is None and kid is None and len(self._keys) == 1:
            # A token without kid may use the only key of a one-key set.
            key = next(iter(self._keys.values()))
        return key

    def _pinned(self, key: jwt.PyJWK | None, alg: str) -> jwt.PyJWK:
        if key is None:
            if self._fetched_at is None:
                raise KeySetUnavailable("the JWKS key set could not be fetched")
            raise InvalidToken("unknown kid")
        if key.algorithm_name != alg:
            raise InvalidToken("algorithm does not match the key")
        return key

    def _stale(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or self._timer() - fetched > self.ttl

    def _due(self, missing: bool) -> bool:
        """Whether to fetch now: something is missing or stale, and the cooldown is over."""
        if not (missing or self._stale()):
            return False
        attempted = self._attempted_at
        return attempted is None or self._timer() - attempted >= self.cooldown

    def _alock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._alocks.get(loop)
        if lock is None:
            self._alocks = {loop: asyncio.Lock()}  # one loop at a time; forget closed ones
            lock = self._alocks[loop]
        return lock

    # -- fetching ----------------------------------------------------------------

    def _fetch_locked(self) -> None:
        with self._lock:
            self._fetch()

    def _fetch(self) -> None:
        """Fetch and install the key set; on any failure keep the current one."""
        self._attempted_at = self._timer()
        self.fetches += 1
        try:
            keys = self._parse(self._download())
        except Exception as exc:  # any failure: keep serving the last good keys
            self._warn.warn(
                "jwks", "wa_perfkit: JWKS fetch from %s failed (%s); keeping %d known keys",
                self.url, type(exc).__name__, len(self._keys),
            )
            return
        self._keys = keys
        self._fetched_at = self._timer()
        logger.debug("wa_perfkit: JWKS fetched, %d keys", len(keys))

    def _download(self) -> Any:
        deadline = _Deadline(self.timeout)
        opener = urllib.request.build_opener(*_handlers(deadline, self.allow_insecure_http))
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked in __init__)
        deadline.start()
        try:
            with opener.open(request, timeout=self.timeout) as response:
                body = response.read(_MAX_JWKS_BYTES + 1)
        finally:
            expired = deadline.stop()
        if expired:
            raise TimeoutError("the JWKS fetch passed its deadline")
        if len(body) > _MAX_JWKS_BYTES:
            raise ValueError("JWKS document too large")
        return json.loads(body)

    def _parse(self, document: Any) -> dict[str | None, jwt.PyJWK]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str | None, jwt.PyJWK] = {}
        for data in document["keys"]:
            key = self._usable(data)
            if key is not None:
                kid = data.get("kid")
                keys[kid if isinstance(kid, str) else None] = key
        if not keys:
            raise ValueError("no usable signing key in the JWKS document")
        return keys

    def _usable(self, data: Any) -> jwt.PyJWK | None:
        if not isinstance(data, dict) or data.get("kty") == "oct":
            return None
        if data.get("use", "sig") != "sig":
            return None
        try:
            key = jwt.PyJWK(data)
        except Exception:  # an unsupported or malformed key is skipped, not fatal
            return None
        return key if key.algorithm_name in self.algorithms else None


class _Deadline:
    """
    Shuts down every socket of one fetch when ``seconds`` have passed.

    A per-socket timeout bounds each read, not the fetch: a server that sends
    one byte every 100 ms never lets a read time out. Shutting the socket down
    from a timer thread wakes whatever read is blocked on it.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> bool:
        """Cancel the timer; return True if the deadline had passed."""
        self._timer.cancel()
        with self._lock:
            return self.expired

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


def _handlers(deadline: _Deadline, allow_http: bool) -> list[urllib.request.BaseHandler]:
    """urllib handlers whose connections register their socket with ``deadline``."""

    def watched(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        class Watched(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                create: Callable[..., socket.socket] = self._create_connection  # type: ignore[has-type]

                def created(*cargs: Any, **ckwargs: Any) -> socket.socket:
                    # The raw socket, before any TLS: the handshake is bounded too.
                    sock: socket.socket = create(*cargs, **ckwargs)
                    deadline.watch(sock)
                    return sock

                self._create_connection = created

        return Watched

    https_connection = watched(http.client.HTTPSConnection)
    http_connection = watched(http.client.HTTPConnection)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            context = getattr(self, "_context", None)
            return self.do_open(https_connection, req, context=context)

    class HTTP(urllib.request.HTTPHandler):
        # Installed in every case, so urllib adds no default handler: without
        # permission, even a redirect from https:// to http:// is refused.
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            if not allow_http:
                raise urllib.error.URLError("http:// JWKS URLs are refused")
            return self.do_open(http_connection, req)

    return [HTTPS(), HTTP()]
