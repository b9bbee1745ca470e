"""
The one exception tree of wa_perfkit.

Everything the library raises on purpose derives from `WaPerfkitError`, so
``except WaPerfkitError`` catches all of it and nothing else:

```text
WaPerfkitError
├── ConfigurationError          bad arguments at construction/decoration time
│   ├── KeyTemplateError        a key or tag template names an unknown argument
│   └── MissingExtra            an optional dependency is not installed (also an ImportError)
├── BackendError                a cache backend failed (wraps the driver error)
│   └── BackendUnavailable      the circuit breaker is open; the call was not tried
├── SerializationError          a value cannot be encoded, or an entry cannot be decoded
├── AuthError                   base of everything the auth layer refuses
│   ├── InvalidToken            missing, malformed, expired, wrong signature... (401)
│   ├── Forbidden               authenticated but lacking a role/permission (403)
│   └── UserLoaderError         the user loader itself failed (503)
│       └── KeySetUnavailable   no JWKS key set could ever be fetched (503)
├── PaginationError
│   ├── InvalidCursor           a cursor was tampered with, truncated or foreign (400)
│   └── InvalidPageSize         a requested page size is not a whole number (400)
├── WebhookError
│   ├── InvalidSignature        X-Hub-Signature-256 missing or wrong (401)
│   ├── InvalidPayload          the webhook body is not what Meta sends (400)
│   │   └── PayloadTooLarge     the body exceeds the configured limit (413)
│   └── HandshakeRefused        the hub.challenge verification GET is refused (403)
└── SQLToolkitError             migrations / EXPLAIN against a database failed
```

The core never speaks HTTP: the integrations map these errors to status codes.
Backend and serialization errors never reach callers of the cache itself: a
failing backend or a corrupt entry is a miss. They are raised only where the
caller must decide (``Cache.add``, the building block of dedupe and locks).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BackendError",
    "BackendUnavailable",
    "ConfigurationError",
    "Forbidden",
    "HandshakeRefused",
    "InvalidCursor",
    "InvalidPageSize",
    "InvalidPayload",
    "InvalidSignature",
    "InvalidToken",
    "KeySetUnavailable",
    "KeyTemplateError",
    "MissingExtra",
    "PaginationError",
    "PayloadTooLarge",
    "SQLToolkitError",
    "SerializationError",
    "UserLoaderError",
    "WaPerfkitError",
    "WebhookError",
]


class WaPerfkitError(Exception):
    """
    Base of every exception wa_perfkit raises on purpose.
    """


class ConfigurationError(WaPerfkitError, ValueError):
    """
    An argument given at construction or decoration time is invalid.
    """


class KeyTemplateError(ConfigurationError):
    """
    A key or tag template refers to an argument the function does not have, or
    is otherwise unusable (``self``/``cls``, a format spec in a key field).

    Attributes:
        template: the offending template.
        field: the unknown field name.
    """

    def __init__(self, template: str, field: str, reason: str = "") -> None:
        super().__init__(
            f"template {template!r}: {reason}"
            if reason
            else f"template {template!r} names unknown argument {field!r}"
        )
        self.template = template
        self.field = field


class MissingExtra(ConfigurationError, ImportError):
    """
    A feature needs an optional dependency that is not installed.

    The message names the command that fixes it, e.g.
    ``pip install 'wa-perfkit[redis]'``. It is also an `ImportError`, so code
    that guards an optional import with ``except ImportError`` keeps working.

    Attributes:
        extra: the wa-perfkit extra that provides the dependency.
        module: the module that could not be imported.
    """

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(f"{module!r} is not installed: pip install 'wa-perfkit[{extra}]'")
        self.name = module  # ImportError's attribute
        self.extra = extra
        self.module = module


class BackendError(WaPerfkitError):
    """
    A cache backend operation failed.

    Attributes:
        backend: the backend's class name.
        operation: the backend method that failed (``"get"``, ``"set"``...).
    """

    def __init__(self, backend: str, operation: str, message: str = "") -> None:
        super().__init__(f"{backend}.{operation} failed" + (f": {message}" if message else ""))
        self.backend = backend
        self.operation = operation


class BackendUnavailable(BackendError):
    """
    The backend's circuit breaker is open, so the call was not attempted.
    """


class SerializationError(WaPerfkitError):
    """
    A value cannot be encoded for a remote backend, or stored bytes cannot be decoded.

    Attributes:
        reason: a short machine-readable reason (``"unsupported-type"``, ``"bad-envelope"``...).
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


class AuthError(WaPerfkitError):
    """
    Base of every refusal of the authentication layer.
    """


class InvalidToken(AuthError):
    """
    The bearer token is missing, malformed, expired, revoked or badly signed (HTTP 401).

    Attributes:
        reason: a short reason safe to log (never contains the token).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(AuthError):
    """
    The user is authenticated but lacks a required role or permission (HTTP 403).

    Attributes:
        required: the roles or permissions that were required.
    """

    def __init__(self, required: tuple[str, ...]) -> None:
        super().__init__("missing required role or permission: " + ", ".join(required))
        self.required = required


class UserLoaderError(AuthError):
    """
    The user loader raised: the user store is down, not the token (HTTP 503).
    """


class KeySetUnavailable(UserLoaderError):
    """
    No JWKS key set has ever been fetched, so no token can be checked (HTTP 503, not 401).
    """


class PaginationError(WaPerfkitError):
    """
    Base of pagination errors.
    """


class InvalidCursor(PaginationError):
    """
    A pagination cursor is malformed, tampered with, or signed by another key (HTTP 400).

    Attributes:
        reason: a short reason safe to show to clients.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidPageSize(PaginationError):
    """
    A client's requested page size is not a whole number (HTTP 400).

    Attributes:
        reason: a short reason safe to show to clients.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookError(WaPerfkitError):
    """
    Base of WhatsApp webhook errors.
    """


class InvalidSignature(WebhookError):
    """
    The ``X-Hub-Signature-256`` header is missing, malformed or does not match (HTTP 401).

    Attributes:
        reason: a short reason safe to log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidPayload(WebhookError):
    """
    The webhook body is not valid JSON or not shaped like a WhatsApp delivery (HTTP 400).
    """


class PayloadTooLarge(InvalidPayload):
    """
    The webhook body is larger than the configured limit (HTTP 413).

    Attributes:
        size: the body size in bytes (or the announced ``Content-Length``).
        limit: the configured maximum.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"webhook body of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class HandshakeRefused(WebhookError):
    """
    The ``hub.challenge`` verification request is refused (HTTP 403).

    Attributes:
        reason: a short reason safe to log (never contains the token).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SQLToolkitError(WaPerfkitError):
    """
    A migration, status check or EXPLAIN against a database failed.

    Attributes:
        exit_code: the CLI exit code this error maps to.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
