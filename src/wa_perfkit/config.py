"""
Configuration from URLs and environment variables, with one prefix: ``WA_PERFKIT_``.

```python
from wa_perfkit import Cache

cache = Cache.from_env()  # WA_PERFKIT_CACHE_URL, WA_PERFKIT_NAMESPACE, ...
```

- ``WA_PERFKIT_CACHE_URL``: the cache URL of `wa_perfkit.Cache.from_env` and of
  the Flask extension (``memory://``, ``redis://...``, ``rediss://...``,
  ``redis+cluster://...``, ``null://``); ``WA_PERFKIT_REDIS_URL`` when it is unset.
- ``WA_PERFKIT_NAMESPACE``, ``WA_PERFKIT_CACHE_VERSION``: the cache's namespace and version.
- ``WA_PERFKIT_CACHE_DISABLED``: ``1`` turns off every `wa_perfkit.Cache` built
  without ``enabled=``: every call runs its loader.
- ``WA_PERFKIT_DSN``: the PostgreSQL DSN of ``wa-perfkit sql`` (then ``DATABASE_URL``).

Values are read once, when the object is built, never per call.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wa_perfkit.backends.base import Backend
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.secret import redact_url

__all__ = [
    "DEFAULT_URL",
    "ENV_PREFIX",
    "CacheSettings",
    "backend_from_url",
    "enabled_from_env",
    "parse_bool",
    "redact",
]

#: The prefix of every environment variable wa_perfkit reads.
ENV_PREFIX = "WA_PERFKIT_"

#: The cache URL when none is configured: this process's memory.
DEFAULT_URL = "memory://"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def redact(url: str) -> str:
    """
    Return ``url`` with its password replaced by ``***`` (for messages and logs).

    Args:
        url: any URL.

    Returns:
        The URL without its password.
    """
    return redact_url(url)


def parse_bool(value: str | bool, name: str) -> bool:
    """
    Read a boolean setting: ``1/true/yes/on`` or ``0/false/no/off`` (any case).

    Args:
        value: the setting's value (a bool is returned as is).
        name: the setting's name, for the error message.

    Returns:
        The boolean.

    Raises:
        ConfigurationError: any other value.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be 1/true/yes/on or 0/false/no/off, not {value!r}")


def enabled_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """
    Return False when ``WA_PERFKIT_CACHE_DISABLED`` turns caching off.

    Args:
        environ: where to read; ``os.environ`` by default.

    Returns:
        True unless the variable is ``1``, ``true``, ``yes`` or ``on``.

    Raises:
        ConfigurationError: the variable holds something else than a boolean.
    """
    env = os.environ if environ is None else environ
    name = ENV_PREFIX + "CACHE_DISABLED"
    return not parse_bool(env.get(name, ""), name)


def backend_from_url(url: str, **options: Any) -> Backend:
    """
    Build the backend a cache URL names (see `Cache.from_url` for the schemes).

    Args:
        url: ``memory://``, ``redis://``, ``rediss://``, ``unix://``,
            ``redis+cluster://``, ``rediss+cluster://`` or ``null://``.
        **options: keyword arguments of the backend's constructor.

    Returns:
        The backend.

    Raises:
        ConfigurationError: not a string, an unknown scheme, or a bad option.
        MissingExtra: a Redis URL without ``wa-perfkit[redis]`` installed.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"a cache URL is a string, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigurationError(
            f"not a cache URL: {redact(url)!r} (memory://, redis://host:6379/0, rediss://, "
            "redis+cluster://, null://)"
        )
    if scheme == "memory":
        return _memory(url, options)
    if scheme == "null":
        from wa_perfkit.backends.null import NullBackend

        return NullBackend()
    base, plus, suffix = scheme.partition("+")
    cluster = plus and suffix == "cluster"
    if base in _REDIS_SCHEMES and (not plus or cluster):
        return _redis(base + url[len(scheme):], cluster=bool(cluster), options=options)
    raise ConfigurationError(
        f"unknown cache URL scheme {scheme + '://'!r}: use memory://, redis://, rediss://, "
        "unix://, redis+cluster://, rediss+cluster:// or null://"
    )


def _memory(url: str, options: dict[str, Any]) -> Backend:
    from wa_perfkit.backends.memory import MemoryBackend

    query = dict(parse_qsl(urlsplit(url).query))
    if "maxsize" in query:
        try:
            options.setdefault("maxsize", int(query.pop("maxsize")))
        except ValueError as exc:
            raise ConfigurationError(f"maxsize must be an integer in {url!r}") from exc
    if "copy" in query:
        options.setdefault("copy", parse_bool(query.pop("copy"), "copy"))
    if "eviction" in query:
        options.setdefault("eviction", query.pop("eviction"))  # checked by MemoryBackend
    if query:
        raise ConfigurationError(f"unknown memory:// option(s): {sorted(query)}")
    return _build(MemoryBackend, options)


def _redis(url: str, *, cluster: bool, options: dict[str, Any]) -> Backend:
    from wa_perfkit._extras import require

    require("redis", "redis")
    from wa_perfkit.backends.redis import RedisBackend

    return _build(RedisBackend, {"url": url, "cluster": cluster, **options})


def _build(backend: Any, options: dict[str, Any]) -> Backend:
    try:
        built: Backend = backend(**options)
    except TypeError as exc:
        raise ConfigurationError(f"{backend.__name__}: {exc}") from exc
    return built


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    """
    What a cache is built from: a URL, a namespace, a version, on or off.

    Args:
        url: a cache URL (see `Cache.from_url`).
        namespace: the cache's namespace.
        version: the cache's version.
        enabled: False turns caching off; None leaves the decision to
            ``WA_PERFKIT_CACHE_DISABLED``, read when the cache is built.
    """

    url: str = DEFAULT_URL
    namespace: str = "wa_perfkit"
    version: str = "1"
    enabled: bool | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CacheSettings:
        """
        Read ``WA_PERFKIT_CACHE_URL`` (or ``WA_PERFKIT_REDIS_URL``), ``WA_PERFKIT_NAMESPACE``,
        ``WA_PERFKIT_CACHE_VERSION`` and ``WA_PERFKIT_CACHE_DISABLED``.

        Args:
            environ: where to read; ``os.environ`` by default.

        Returns:
            The settings (defaults for unset variables).

        Raises:
            ConfigurationError: ``WA_PERFKIT_CACHE_DISABLED`` is not a boolean.
        """
        env = os.environ if environ is None else environ
        return cls.from_mapping(env, prefix=ENV_PREFIX)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = ENV_PREFIX) -> CacheSettings:
        """
        Read the settings from any mapping (Flask's ``app.config``, a dict...).

        Args:
            values: the mapping; keys are ``prefix`` + ``CACHE_URL``, ``REDIS_URL``,
                ``NAMESPACE``, ``CACHE_VERSION``, ``CACHE_DISABLED``.
            prefix: the keys' common prefix.

        Returns:
            The settings (defaults for missing keys).

        Raises:
            ConfigurationError: a value of the wrong type.
        """
        def get(key: str) -> Any:
            value = values.get(prefix + key)
            return None if value is None or value == "" else value

        url = get("CACHE_URL") or get("REDIS_URL") or DEFAULT_URL
        disabled = get("CACHE_DISABLED")
        switch = f"{prefix}CACHE_DISABLED"
        settings = cls(
            url=url,
            namespace=get("NAMESPACE") or cls.namespace,
            version=str(get("CACHE_VERSION") or cls.version),
            enabled=None if disabled is None else not parse_bool(disabled, switch),
        )
        if not isinstance(settings.url, str) or not isinstance(settings.namespace, str):
            raise ConfigurationError(
                f"{prefix}CACHE_URL and {prefix}NAMESPACE must be strings, "
                f"not {type(settings.url).__name__} and {type(settings.namespace).__name__}"
            )
        return settings
