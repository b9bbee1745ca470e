"""
The import paths users look for: wa_perfkit.fastapi, wa_perfkit.flask, and public names
for every type in a public signature.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import wa_perfkit


def test_fastapi_names() -> None:
    """wa_perfkit.fastapi gathers the FastAPI adapter: auth, webhook, timing, metrics."""
    from wa_perfkit import fastapi as public
    from wa_perfkit.integrations import asgi, prometheus
    from wa_perfkit.integrations.fastapi import auth, metrics, webhook

    assert public.cached_user is auth.cached_user
    assert public.CurrentUser is auth.CurrentUser
    assert public.WhatsAppWebhook is webhook.WhatsAppWebhook
    assert public.ServerTimingMiddleware is asgi.ServerTimingMiddleware
    assert public.add_metrics_route is metrics.add_metrics_route
    assert public.CacheCollector is prometheus.CacheCollector
    for name in public.__all__:
        assert getattr(public, name) is not None


def test_flask_names() -> None:
    """wa_perfkit.flask gathers the Flask adapter, timing and the extension."""
    from wa_perfkit import flask as public
    from wa_perfkit.integrations import prometheus
    from wa_perfkit.integrations.flask import auth, extension, timing, webhook

    assert public.cached_user is auth.cached_user
    assert public.WhatsAppWebhook is webhook.WhatsAppWebhook
    assert public.FlaskTiming is timing.FlaskTiming
    assert public.add_metrics_route is timing.add_metrics_route
    assert public.WaPerfkit is extension.WaPerfkit
    assert public.CacheCollector is prometheus.CacheCollector
    for name in public.__all__:
        assert getattr(public, name) is not None


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_framework_import_is_not_shadowed(framework: str) -> None:
    """Importing wa_perfkit.<framework> leaves `import <framework>` meaning the framework."""
    code = (
        f"import wa_perfkit.{framework} as ours\n"
        f"import {framework}\n"
        f"assert {framework}.__name__ == {framework!r}, {framework}.__file__\n"
        f"assert 'wa_perfkit' not in {framework}.__file__, {framework}.__file__\n"
        f"assert ours.__name__ == 'wa_perfkit.{framework}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name() -> None:
    """A typo is an AttributeError naming the module, not a silent import."""
    from wa_perfkit import fastapi, flask

    with pytest.raises(AttributeError, match=r"wa_perfkit\.fastapi"):
        fastapi.cached_usr  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"wa_perfkit\.flask"):
        flask.cached_usr  # type: ignore[attr-defined]  # noqa: B018


def test_types_in_signatures_are_public() -> None:
    """Secret, CircuitBreaker and the lock are importable from wa_perfkit."""
    from wa_perfkit import CircuitBreaker, LockStore, RedisLock, Secret

    assert repr(Secret("x")) == "Secret('**********')"
    assert CircuitBreaker("redis", failure_threshold=3, reset_timeout=1.0).state == "closed"
    assert RedisLock.__name__ == "RedisLock"
    assert LockStore.__name__ == "LockStore"
    assert {"Secret", "CircuitBreaker", "RedisLock", "LockStore"} <= set(wa_perfkit.__all__)
