"""
wa_perfkit: fast, safe caching for WhatsApp Business inbox backends.

The names here are the public API. Backends that need an extra
(`RedisBackend` and `TieredBackend` need ``wa-perfkit[redis]``) are imported on first use, so
``import wa_perfkit`` works with the core dependencies alone.

The package is built in layers; a module imports only its own layer and the
ones below it (a test walks every import to keep it so, and forbids cycles):

| layer | modules | what lives there |
|---|---|---|
| 6 edges | `integrations`, `fastapi`, `flask`, `cli`, `demo` | frameworks, command line, demo |
| 5 toolkits | `whatsapp`, `pagination`, `sql` | the inbox domain |
| 4 objects users hold | `cache`, `repository`, `auth`, `config`, `testing` | the API |
| 3 engine | `_engine` (steps, drivers, read-through, single-flight, lock) | serving a miss |
| 2 backends | `backends` (`base` declares the contract and every power) | storage |
| 1 pure decisions | `keys`, `policy`, `serialization`, `metrics`, `observe` | no I/O |
| 0 foundations | `errors`, `_log`, `secret`, `_extras` | imported by all |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wa_perfkit._engine.lock import RedisLock
from wa_perfkit._version import __version__
from wa_perfkit.auth import CachedUser, JWTVerifier
from wa_perfkit.backends.base import MISS, Backend, LockStore
from wa_perfkit.backends.breaker import CircuitBreaker
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import (
    AuthError,
    BackendError,
    ConfigurationError,
    InvalidCursor,
    InvalidToken,
    MissingExtra,
    SerializationError,
    WaPerfkitError,
)
from wa_perfkit.metrics import StatsSnapshot
from wa_perfkit.policy import Policy
from wa_perfkit.repository import AsyncCachedFunction, CachedFunction, ttl_repository
from wa_perfkit.secret import Secret
from wa_perfkit.serialization import Codec, JsonSerializer, dataclass_codec, pydantic_codec

if TYPE_CHECKING:
    from wa_perfkit.backends.redis import RedisBackend
    from wa_perfkit.backends.tiered import TieredBackend

__all__ = [
    "__version__",
    # cache core
    "Cache",
    "MISS",
    "Policy",
    "StatsSnapshot",
    "ttl_repository",
    "CachedFunction",
    "AsyncCachedFunction",
    # auth (framework adapters: wa_perfkit.fastapi / wa_perfkit.flask)
    "JWTVerifier",
    "CachedUser",
    "Secret",
    # backends
    "Backend",
    "MemoryBackend",
    "RedisBackend",
    "TieredBackend",
    "CircuitBreaker",
    "RedisLock",
    "LockStore",
    # values
    "Codec",
    "JsonSerializer",
    "dataclass_codec",
    "pydantic_codec",
    # errors
    "WaPerfkitError",
    "ConfigurationError",
    "MissingExtra",
    "BackendError",
    "SerializationError",
    "AuthError",
    "InvalidToken",
    "InvalidCursor",
]

_LAZY = {
    "RedisBackend": "wa_perfkit.backends.redis",
    "TieredBackend": "wa_perfkit.backends.tiered",
}


def __getattr__(name: str) -> Any:
    # Import extras-backed names on first use only.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wa_perfkit' has no attribute {name!r}")
    from wa_perfkit._extras import require

    require("redis", "redis")
    return getattr(require(module, "redis"), name)
