"""
Friendly configuration: durations as timedelta, caches from URLs and WA_PERFKIT_* variables,
an off switch, and a clear ConfigurationError for every wrong type.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from wa_perfkit import (
    Cache,
    ConfigurationError,
    MemoryBackend,
    MissingExtra,
    Policy,
    RedisBackend,
    ttl_repository,
)
from wa_perfkit.backends.null import NullBackend
from wa_perfkit.config import CacheSettings, backend_from_url, redact


class TestDurations:
    def test_policy_takes_timedelta(self) -> None:
        """Every duration of a Policy is stored in seconds."""
        policy = Policy(timedelta(minutes=2), stale_ttl=timedelta(seconds=30),
                        none_ttl=timedelta(milliseconds=500), cache_none=True)
        assert (policy.ttl, policy.stale_ttl, policy.none_ttl) == (120.0, 30.0, 0.5)

    def test_ttl_repository_takes_timedelta(self) -> None:
        """ttl and stale_ttl as timedelta give the same policy as seconds."""
        cache = Cache(MemoryBackend())
        calls: list[int] = []

        @ttl_repository(timedelta(minutes=1), cache=cache, stale_ttl=timedelta(seconds=5),
                        lock_ttl=timedelta(seconds=3))
        def load(n: int) -> int:
            calls.append(n)
            return n * 2

        assert load(2) == load(2) == 4
        assert calls == [2]

    def test_cache_set_and_get_or_load_take_timedelta(self) -> None:
        """Cache.set, add and get_or_load accept a timedelta."""
        cache = Cache(MemoryBackend())
        assert cache.set("a", 1, timedelta(seconds=10))
        assert cache.add("b", 2, timedelta(seconds=10))
        assert cache.get_or_load("c", lambda: 3, timedelta(seconds=10)) == 3
        assert [cache.get(k) for k in "abc"] == [1, 2, 3]

    async def test_async_twins_take_timedelta(self) -> None:
        """aset, aadd and aget_or_load accept a timedelta."""
        cache = Cache(MemoryBackend())

        async def three() -> int:
            return 3

        assert await cache.aset("a", 1, timedelta(seconds=10))
        assert await cache.aadd("b", 2, timedelta(seconds=10))
        assert await cache.aget_or_load("c", three, timedelta(seconds=10)) == 3

    @pytest.mark.parametrize("bad", ["60", None, True, [60]])
    def test_wrong_ttl_type_is_a_configuration_error(self, bad: Any) -> None:
        """A string, None or a bool is refused with what is accepted."""
        with pytest.raises(ConfigurationError, match="ttl must be"):
            ttl_repository(bad, cache=Cache(MemoryBackend()))
        with pytest.raises(ConfigurationError, match="ttl must be"):
            Cache(MemoryBackend()).set("k", 1, bad)

    def test_nan_is_refused_at_decoration(self) -> None:
        """A NaN TTL is refused when the policy is built."""
        with pytest.raises(ConfigurationError, match="finite"):
            ttl_repository(float("nan"), cache=Cache(MemoryBackend()))

    def test_negative_timedelta_is_refused(self) -> None:
        """A negative timedelta is out of range like a negative number."""
        with pytest.raises(ConfigurationError, match="positive"):
            Policy(timedelta(seconds=-1))

    def test_jitter_is_not_a_duration(self) -> None:
        """jitter is a fraction: a timedelta there is a mistake."""
        with pytest.raises(ConfigurationError, match="fraction"):
            Policy(10, jitter=timedelta(seconds=1))  # type: ignore[arg-type]


class TestFromUrl:
    def test_memory(self) -> None:
        """memory:// with a maxsize gives a bounded MemoryBackend."""
        cache = Cache.from_url("memory://?maxsize=5", namespace="inbox")
        assert isinstance(cache.backend, MemoryBackend)
        assert cache.backend.maxsize == 5
        assert cache.namespace == "inbox"

    def test_redis_round_trip(self, redis_url: str, namespace: str) -> None:
        """redis:// gives a RedisBackend that stores and reads back."""
        cache = Cache.from_url(redis_url, namespace=namespace, socket_timeout=1.0)
        try:
            assert isinstance(cache.backend, RedisBackend)
            assert cache.backend.socket_timeout == 1.0
            cache.set("k", {"a": 1}, timedelta(seconds=30))
            assert cache.get("k") == {"a": 1}
        finally:
            cache.close()

    @pytest.mark.parametrize(
        ("url", "cluster"),
        [("rediss://:pw@example.invalid:6380/0", False),
         ("redis+cluster://127.0.0.1:7000", True),
         ("rediss+cluster://127.0.0.1:7000", True)],
    )
    def test_tls_and_cluster_schemes(self, url: str, cluster: bool) -> None:
        """rediss:// and the +cluster schemes build (lazily connecting) Redis backends."""
        backend = backend_from_url(url)
        assert isinstance(backend, RedisBackend)
        assert backend.cluster is cluster
        assert "pw" not in repr(backend)

    def test_null_disables(self) -> None:
        """null:// stores nothing."""
        cache = Cache.from_url("null://")
        assert isinstance(cache.backend, NullBackend)

    @pytest.mark.parametrize("url", ["http://x", "127.0.0.1:6379", "memcached://x", "redis+x://h"])
    def test_unknown_scheme(self, url: str) -> None:
        """An unknown or missing scheme names the accepted ones."""
        with pytest.raises(ConfigurationError, match="memory://"):
            Cache.from_url(url)

    def test_memory_url_options(self) -> None:
        """memory:// takes maxsize, copy and eviction, each checked."""
        backend = backend_from_url("memory://?maxsize=5&copy=0&eviction=lru")
        assert isinstance(backend, MemoryBackend)
        assert (backend.maxsize, backend.eviction, backend.stores_objects) == (5, "lru", True)
        with pytest.raises(ConfigurationError, match="eviction"):
            backend_from_url("memory://?eviction=lfu")

    def test_bad_options(self) -> None:
        """An unknown option is a ConfigurationError, not a TypeError."""
        with pytest.raises(ConfigurationError, match="unknown memory:// option"):
            Cache.from_url("memory://?size=3")
        with pytest.raises(ConfigurationError, match="MemoryBackend"):
            Cache.from_url("memory://", nonsense=1)

    @pytest.mark.parametrize(
        "url",
        [
            "redis://:secretpw@127.0.0.1:6379/0?socket_timout=1",  # a typo
            "redis://:secretpw@127.0.0.1:6379/0?socket_timeout=abc",
            "redis://:secretpw@127.0.0.1:6379/0?socket_timeout=-1",
            "redis://:secretpw@127.0.0.1:6379/0?socket_timeout=nan",
            "redis://:secretpw@127.0.0.1:99999/0",
            "redis://:secretpw@127.0.0.1:6379/0?health_check_interval=x",
            "redis+cluster://:secretpw@127.0.0.1:7000?socket_timeout=abc",
        ],
    )
    def test_bad_redis_urls_fail_when_built(self, url: str) -> None:
        """redis-py reads URL options at the first connection: checked at start-up instead."""
        with pytest.raises(ConfigurationError) as info:
            Cache.from_url(url)
        assert "secretpw" not in str(info.value) and "***" in str(info.value)

    @pytest.mark.parametrize(
        "options",
        [
            {"socket_timeout": -1},
            {"socket_timeout": float("nan")},
            {"connect_timeout": "1"},
            {"pool_timeout": 0},
            {"max_connections": 0},
            {"confirm_timeout": 0},
            {"confirm_timeout": float("inf")},
        ],
    )
    def test_bad_redis_options_fail_when_built(self, options: dict[str, Any]) -> None:
        """A timeout or pool size no connection could use fails at construction, named."""
        with pytest.raises(ConfigurationError, match=next(iter(options))):
            RedisBackend("redis://127.0.0.1:6379/0", **options)

    def test_url_string_given_to_cache(self) -> None:
        """Cache("redis://...") says to use from_url, without the password."""
        with pytest.raises(ConfigurationError, match="from_url") as info:
            Cache("redis://:secret@127.0.0.1:6379/0")  # type: ignore[arg-type]
        assert "secret" not in str(info.value)

    def test_not_a_backend(self) -> None:
        """Any other object is refused with the accepted kinds."""
        with pytest.raises(ConfigurationError, match="MemoryBackend"):
            Cache(object())  # type: ignore[arg-type]

    def test_redact(self) -> None:
        """Passwords never reach messages."""
        assert redact("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
        assert redact("memory://") == "memory://"


class TestFromEnv:
    def test_defaults(self) -> None:
        """No variable: a memory cache in the default namespace."""
        cache = Cache.from_env({})
        assert isinstance(cache.backend, MemoryBackend)
        assert (cache.namespace, cache.version, cache.enabled) == ("wa_perfkit", "1", True)

    def test_variables(self, redis_url: str, namespace: str) -> None:
        """WA_PERFKIT_CACHE_URL, _NAMESPACE and _CACHE_VERSION are read."""
        cache = Cache.from_env({
            "WA_PERFKIT_CACHE_URL": redis_url,
            "WA_PERFKIT_NAMESPACE": namespace,
            "WA_PERFKIT_CACHE_VERSION": "7",
        })
        try:
            assert isinstance(cache.backend, RedisBackend)
            assert cache.prefix == f"{namespace}:7:"
        finally:
            cache.close()

    def test_redis_url_is_the_fallback(self) -> None:
        """WA_PERFKIT_REDIS_URL (the name the examples use) is read when CACHE_URL is unset."""
        settings = CacheSettings.from_env({"WA_PERFKIT_REDIS_URL": "redis://127.0.0.1:6379/3"})
        assert settings.url == "redis://127.0.0.1:6379/3"

    @pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
    def test_disabled_variable(self, value: str) -> None:
        """WA_PERFKIT_CACHE_DISABLED turns a cache from the environment off."""
        assert not Cache.from_env({"WA_PERFKIT_CACHE_DISABLED": value}).enabled

    def test_bad_boolean(self) -> None:
        """A value that is not a boolean is refused, with the accepted spellings."""
        with pytest.raises(ConfigurationError, match="1/true/yes/on"):
            Cache.from_env({"WA_PERFKIT_CACHE_DISABLED": "maybe"})


class TestDisabled:
    def test_every_call_runs_the_loader(self) -> None:
        """enabled=False: nothing is stored, every call goes to the loader."""
        cache = Cache(MemoryBackend(), enabled=False)
        calls: list[int] = []

        @ttl_repository(60, cache=cache)
        def load(n: int) -> int:
            calls.append(n)
            return n

        assert [load(1), load(1), load(1)] == [1, 1, 1]
        assert calls == [1, 1, 1]
        assert cache.set("k", 1, 60) is True
        assert cache.get("k", None) is None

    async def test_async_calls_run_the_loader(self) -> None:
        """The async path of a disabled cache also always loads."""
        cache = Cache(MemoryBackend(), enabled=False)
        calls: list[int] = []

        @ttl_repository(60, cache=cache)
        async def load(n: int) -> int:
            calls.append(n)
            return n

        assert [await load(1), await load(1)] == [1, 1]
        assert calls == [1, 1]

    def test_environment_switch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """WA_PERFKIT_CACHE_DISABLED=1 disables a Cache built in code, read once at construction."""
        monkeypatch.setenv("WA_PERFKIT_CACHE_DISABLED", "1")
        cache = Cache(MemoryBackend())
        monkeypatch.delenv("WA_PERFKIT_CACHE_DISABLED")
        assert not cache.enabled
        assert cache.get_or_load("k", lambda: 1, 60) == 1
        assert cache.get("k", None) is None
        assert Cache(MemoryBackend(), enabled=True).enabled

    def test_explicit_argument_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """enabled=True keeps a cache on whatever the environment says."""
        monkeypatch.setenv("WA_PERFKIT_CACHE_DISABLED", "1")
        assert Cache(MemoryBackend(), enabled=True).enabled


def _run_without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    blocker = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", blocker + code], capture_output=True, text=True, check=False
    )


class TestMissingExtra:
    @pytest.mark.parametrize(
        ("module", "code", "extra"),
        [("redis", "from wa_perfkit import RedisBackend", "redis"),
         ("redis", "from wa_perfkit import Cache; Cache.from_url('redis://h')", "redis"),
         ("fastapi", "import wa_perfkit.fastapi", "fastapi"),
         ("flask", "import wa_perfkit.flask", "flask"),
         ("prometheus_client", "from wa_perfkit.fastapi import add_metrics_route", "prometheus")],
    )
    def test_names_the_extra(self, module: str, code: str, extra: str) -> None:
        """A missing optional dependency is a MissingExtra naming the pip command."""
        out = _run_without(module, code)
        assert out.returncode == 1
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("wa_perfkit.errors.MissingExtra:"), out.stderr
        assert f"pip install 'wa-perfkit[{extra}]'" in last

    def test_is_an_import_error_and_a_configuration_error(self) -> None:
        """Code guarding an optional import with except ImportError keeps working."""
        error = MissingExtra("redis", "redis")
        assert isinstance(error, ImportError)
        assert isinstance(error, ConfigurationError)
        assert error.name == "redis"


class TestFlaskExtension:
    def test_init_app_reads_app_config(self, redis_url: str, namespace: str) -> None:
        """init_app builds each app's cache from app.config, in app.extensions."""
        from flask import Flask

        from wa_perfkit.flask import WaPerfkit

        perfkit = WaPerfkit()
        app = Flask(__name__)
        app.config.update(WA_PERFKIT_CACHE_URL=redis_url, WA_PERFKIT_NAMESPACE=namespace)
        perfkit.init_app(app)
        with app.app_context():
            cache = perfkit.cache
            assert isinstance(cache.backend, RedisBackend)
            assert cache.namespace == namespace
            assert app.extensions["wa_perfkit"] is cache
            cache.set("k", 1, timedelta(seconds=30))
            assert cache.get("k") == 1
        cache.close()

    def test_one_extension_many_apps(self) -> None:
        """An app factory: each app gets its own cache; the context chooses."""
        from flask import Flask

        from wa_perfkit.flask import WaPerfkit

        perfkit = WaPerfkit()
        first, second = Flask("first"), Flask("second")
        first.config["WA_PERFKIT_NAMESPACE"] = "first"
        second.config["WA_PERFKIT_NAMESPACE"] = "second"
        perfkit.init_app(first)
        perfkit.init_app(second)
        with first.app_context():
            assert perfkit.cache.namespace == "first"
        with second.app_context():
            assert perfkit.cache.namespace == "second"

    def test_disabled_in_config(self) -> None:
        """WA_PERFKIT_CACHE_DISABLED in app.config turns the app's cache off."""
        from flask import Flask

        from wa_perfkit.flask import WaPerfkit

        app = Flask(__name__)
        app.config["WA_PERFKIT_CACHE_DISABLED"] = True
        perfkit = WaPerfkit(app)
        with app.app_context():
            assert not perfkit.cache.enabled

    def test_not_initialised(self) -> None:
        """Reading the cache before init_app says what to call."""
        from wa_perfkit.flask import WaPerfkit

        with pytest.raises(ConfigurationError, match="init_app"):
            WaPerfkit().cache  # noqa: B018


class TestCachedUserDurations:
    def test_cached_user_takes_timedelta(self) -> None:
        """CachedUser and both adapters take ttl as a timedelta, stored in seconds."""
        from wa_perfkit import CachedUser, JWTVerifier
        from wa_perfkit.fastapi import cached_user as fastapi_cached_user
        from wa_perfkit.flask import cached_user as flask_cached_user

        verifier = JWTVerifier(secret="s" * 32, audience="authenticated")
        cache = Cache(MemoryBackend())
        core = CachedUser(dict, verifier=verifier, cache=cache, ttl=timedelta(minutes=2),
                          lock_ttl=timedelta(seconds=5), revocation_ttl=timedelta(hours=1))
        assert (core.ttl, core.revocation_ttl) == (120.0, 3600.0)
        assert fastapi_cached_user(dict, verifier=verifier, cache=cache,
                                   ttl=timedelta(seconds=30)).core.ttl == 30.0
        assert flask_cached_user(dict, verifier=verifier, cache=cache,
                                 ttl=timedelta(seconds=30)).core.ttl == 30.0

    def test_cached_user_wrong_ttl(self) -> None:
        """A string ttl is a ConfigurationError, not a TypeError."""
        from wa_perfkit import CachedUser, JWTVerifier

        verifier = JWTVerifier(secret="s" * 32, audience="authenticated")
        with pytest.raises(ConfigurationError, match="ttl must be"):
            CachedUser(dict, verifier=verifier, cache=Cache(MemoryBackend()), ttl="120")  # type: ignore[arg-type]


class TestSupabaseVerifier:
    def test_derived_from_the_project_url(self) -> None:
        """JWKS URL, issuer and audience come from the project URL (trailing slash or not)."""
        from wa_perfkit import JWTVerifier

        verifier = JWTVerifier.for_supabase("https://abcd.supabase.co/")
        assert verifier.jwks is not None
        assert verifier.jwks.url == "https://abcd.supabase.co/auth/v1/.well-known/jwks.json"
        assert verifier.issuer == "https://abcd.supabase.co/auth/v1"
        assert verifier.audience == "authenticated"

    def test_legacy_secret_verifies_supabase_tokens(self) -> None:
        """With secret=, an HS256 token of the project (aud, iss) verifies; another iss does not."""
        import time

        import jwt

        from wa_perfkit import InvalidToken, JWTVerifier

        secret = "legacy-secret-0123456789abcdef-0123456789"
        verifier = JWTVerifier.for_supabase("https://abcd.supabase.co", secret=secret)
        claims = {"sub": "u1", "aud": "authenticated", "exp": int(time.time()) + 60,
                  "iss": "https://abcd.supabase.co/auth/v1"}
        assert verifier.verify(jwt.encode(claims, secret, algorithm="HS256"))["sub"] == "u1"
        other = jwt.encode({**claims, "iss": "https://other.supabase.co/auth/v1"}, secret,
                           algorithm="HS256")
        with pytest.raises(InvalidToken):
            verifier.verify(other)

    def test_not_a_url(self) -> None:
        """A project ref alone is refused with the expected shape."""
        from wa_perfkit import JWTVerifier

        with pytest.raises(ConfigurationError, match=r"supabase\.co"):
            JWTVerifier.for_supabase("abcd")
