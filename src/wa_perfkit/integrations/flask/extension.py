"""
The Flask extension: a cache configured from ``app.config``, as with Flask-Caching.

```python
from flask import Flask

from wa_perfkit.flask import WaPerfkit

perfkit = WaPerfkit()


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["WA_PERFKIT_CACHE_URL"] = "memory://"
    perfkit.init_app(app)
    return app


app = create_app()
with app.app_context():
    assert perfkit.cache.namespace == "wa_perfkit"
```

`init_app` reads these keys of ``app.config``, then the environment variable
of the same name, then the default:

- ``WA_PERFKIT_CACHE_URL``: a `wa_perfkit.Cache.from_url` URL; when it is
  unset, ``WA_PERFKIT_REDIS_URL``; when both are, ``memory://``.
- ``WA_PERFKIT_NAMESPACE``: the namespace (``wa_perfkit``).
- ``WA_PERFKIT_CACHE_VERSION``: the version (``1``).
- ``WA_PERFKIT_CACHE_DISABLED``: ``True`` (or ``"1"``) turns caching off:
  every call runs its loader.

The cache lives in ``app.extensions["wa_perfkit"]``, so one extension object
serves every app an app factory builds (tests build one per test).
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from wa_perfkit.cache import Cache
from wa_perfkit.config import CacheSettings
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.serialization import Serializer

__all__ = ["EXTENSION_KEY", "WaPerfkit"]

#: The key of the cache in ``app.extensions``.
EXTENSION_KEY = "wa_perfkit"


class WaPerfkit:
    """
    Builds each app's `wa_perfkit.Cache` from its configuration.

    Args:
        app: the app to configure now; or call `init_app` later (app factory).
        serializer: the caches' serializer (`wa_perfkit.JsonSerializer` by default).
        **backend_options: keyword arguments of the backend, as in
            `wa_perfkit.Cache.from_url` (e.g. ``socket_timeout=0.5``).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        serializer: Serializer | None = None,
        **backend_options: Any,
    ) -> None:
        self._serializer = serializer
        self._options = backend_options
        self._last: Cache | None = None
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"WaPerfkit(cache={self._last!r})"

    def init_app(self, app: Flask) -> Cache:
        """
        Build ``app``'s cache from ``app.config`` (then the environment).

        Args:
            app: the Flask app.

        Returns:
            The app's cache (also ``app.extensions["wa_perfkit"]``).

        Raises:
            ConfigurationError: a bad setting.
            MissingExtra: a Redis URL without ``wa-perfkit[redis]`` installed.
        """
        config: Mapping[str, Any] = ChainMap(dict(app.config), dict(os.environ))
        settings = CacheSettings.from_mapping(config)
        cache = Cache.from_url(
            settings.url, namespace=settings.namespace, version=settings.version,
            serializer=self._serializer, enabled=settings.enabled, **self._options,
        )
        app.extensions[EXTENSION_KEY] = cache
        self._last = cache
        return cache

    @property
    def cache(self) -> Cache:
        """
        The current app's cache (outside an app context: the last app's).

        Raises:
            ConfigurationError: `init_app` was never called.
        """
        try:
            cache = current_app.extensions.get(EXTENSION_KEY)
        except RuntimeError:  # no app context
            cache = self._last
        if cache is None:
            raise ConfigurationError("WaPerfkit.init_app(app) was not called for this app")
        return cache  # type: ignore[no-any-return]
