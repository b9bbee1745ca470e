"""
ttl_repository: keys, methods, single-flight, policies, stats — on memory and real Redis.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from tests.conftest import FakeClock
from tests.services import eventually
from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError, KeyTemplateError
from wa_perfkit.repository import ttl_repository


class TestKeys:
    def test_spellings_share_one_key(self, cache: Cache) -> None:
        """f(1), f(x=1) and f() with default x=1 share one entry, and invalidate takes each."""
        calls: list[int] = []

        @ttl_repository(ttl=30, cache=cache)
        def f(x: int = 1) -> int:
            calls.append(x)
            return x * 10

        assert f(1) == f(x=1) == f() == 10
        assert calls == [1]
        assert f.cache_key(1) == f.cache_key(x=1) == f.cache_key()
        for spelling in ((1,), (), ()):
            assert f.invalidate(*spelling) is True
            f(1)
        assert f.invalidate(x=1) is True
        assert len(calls) == 4

    def test_types_do_not_collide(self, cache: Cache) -> None:
        """1, True, 1.0, "1" and separator tricks give distinct keys."""

        @ttl_repository(ttl=30, cache=cache)
        def f(*parts: Any) -> int:
            return 0

        keys = {
            f.cache_key(1), f.cache_key(True), f.cache_key(1.0), f.cache_key("1"),
            f.cache_key("a b"), f.cache_key("a", "b"), f.cache_key("a|s1:b"), f.cache_key(None),
            f.cache_key([1]), f.cache_key((1,)), f.cache_key({"a": 1}),
        }
        assert len(keys) == 11

    def test_self_and_cls_never_enter_the_key(self, cache: Cache) -> None:
        """Two instances share entries; Class.method(obj, x) and obj.method(x) too."""
        calls: list[str] = []

        class Repo:
            def __init__(self, name: str) -> None:
                self.name = name

            @ttl_repository(ttl=30, cache=cache)
            def get(self, cid: str) -> str:
                calls.append(self.name)
                return cid.upper()

            @classmethod
            @ttl_repository(ttl=30, cache=cache)
            def by_class(cls, cid: str) -> str:
                calls.append(cls.__name__)
                return cid

            @staticmethod
            @ttl_repository(ttl=30, cache=cache)
            def static(cid: str) -> str:
                calls.append("static")
                return cid

        a, b = Repo("a"), Repo("b")
        assert a.get("c1") == b.get("c1") == Repo.get(b, "c1") == "C1"
        assert calls == ["a"]
        assert a.get.cache_key("c1") == Repo.get.cache_key("c1") == b.get.cache_key("c1")
        assert b.get.invalidate("c1") is True
        assert Repo.by_class("x") == a.by_class("x") == "x"
        assert Repo.static("y") == a.static("y") == "y"
        assert calls == ["a", "Repo", "static"]

    def test_keys_identical_across_processes(self, cache: Cache) -> None:
        """Keys do not depend on hash() randomisation: another interpreter computes the same."""
        code = (
            "import uuid, datetime, decimal\n"
            "from wa_perfkit.backends.memory import MemoryBackend\n"
            "from wa_perfkit.cache import Cache\n"
            "from wa_perfkit.repository import ttl_repository\n"
            "cache = Cache(MemoryBackend(), namespace='ns')\n"
            "@ttl_repository(ttl=1, cache=cache)\n"
            "def f(*a, **k): return 1\n"
            "f.__module__ = 'm'; f.__qualname__ = 'f'\n"
            "print(f.cache_key('s', 1, {'b': {1, 2, 'x'}, 'a': [uuid.UUID(int=5)]},"
            " datetime.date(2026, 1, 2), decimal.Decimal('1.10'), frozenset({'p', 'q'}), k=3))\n"
        )
        outputs = {
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True,
                env={"PYTHONHASHSEED": seed, "PATH": ""},
            ).stdout
            for seed in ("1", "2", "3")
        }
        assert len(outputs) == 1

    def test_unknown_template_field_fails_at_decoration(self, cache: Cache) -> None:
        """A key or tag template naming an unknown argument fails when decorating."""
        with pytest.raises(KeyTemplateError):

            @ttl_repository(ttl=1, cache=cache, key="{nope}")
            def f(x: int) -> int:
                return x

        with pytest.raises(KeyTemplateError):

            @ttl_repository(ttl=1, cache=cache, tags=["account:{account}"])
            def g(x: int) -> int:
                return x

    def test_unkeyable_argument_is_a_clear_error(self, cache: Cache) -> None:
        """An argument with no canonical encoding raises ConfigurationError naming key=."""

        @ttl_repository(ttl=1, cache=cache)
        def f(conn: object) -> int:
            return 1

        with pytest.raises(ConfigurationError, match="key="):
            f(object())

    def test_key_template_picks_identifying_arguments(self, cache: Cache) -> None:
        """key= lets a connection argument stay out of the key."""

        @ttl_repository(ttl=30, cache=cache, key="{cid}")
        def f(conn: object, cid: str) -> str:
            return cid

        assert f(object(), "c") == f(object(), "c") == "c"
        assert f.stats().hits == 1

    def test_bad_arguments(self, cache: Cache) -> None:
        """Bad TTL, jitter, cache or tags fail at decoration time."""
        for kwargs in ({"ttl": 0}, {"ttl": 1, "jitter": 1.5}, {"ttl": 1, "stale_ttl": -1}):
            with pytest.raises(ConfigurationError):
                ttl_repository(cache=cache, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            ttl_repository(ttl=1, cache="redis://")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            ttl_repository(ttl=1, cache=cache, tags="account:{x}")


class TestKeySpellings:
    def test_invalidate_by_keyword_removes_the_one_string_entry(self, cache: Cache) -> None:
        """page("a") is removed by page.invalidate(account_id="a") (limit=50 the default)."""
        calls: list[str] = []

        @ttl_repository(ttl=30, cache=cache)
        def page(account_id: str, limit: int = 50) -> str:
            calls.append(account_id)
            return account_id * limit

        page("a")
        assert page.invalidate(account_id="a") is True
        page("a")
        page("a", 50)
        page(account_id="a")
        assert calls == ["a", "a"]

    def test_factory_functions_never_share_entries(self, cache: Cache) -> None:
        """Factory-made functions share module.qualname: refused unless name= sets them apart."""

        def make(table: str, name: str | None = None) -> Any:
            @ttl_repository(ttl=30, cache=cache, name=name)
            def get(row_id: str) -> str:
                return f"{table}/{row_id}"

            return get

        users = make("users")
        with pytest.raises(ConfigurationError, match="name="):
            make("invoices")
        invoices = make("invoices", name="invoices.get")
        assert users("1") == "users/1"
        assert invoices("1") == "invoices/1"
        assert users.cache_key("1") != invoices.cache_key("1")
        again = ttl_repository(ttl=5, cache=cache)(users.__wrapped__)  # the same function: allowed
        assert again.cache_key("1") == users.cache_key("1")

    def test_factory_refused_even_after_the_first_is_collected(self, cache: Cache) -> None:
        """The first function's entries outlive it: the second is still refused."""

        def make(table: str) -> Any:
            @ttl_repository(ttl=30, cache=cache)
            def get(row_id: str) -> str:
                return f"{table}/{row_id}"

            return get

        assert make("users")("1") == "users/1"  # dropped at once, its entry stays
        with pytest.raises(ConfigurationError, match="name="):
            make("invoices")

    def test_template_naming_self_or_cls_fails_at_decoration(self, cache: Cache) -> None:
        with pytest.raises(KeyTemplateError, match="self"):

            class Repo:
                @ttl_repository(ttl=1, cache=cache, key="{self.tenant}:{cid}")
                def get(self, cid: str) -> str:
                    return cid

        with pytest.raises(KeyTemplateError, match="cls"):

            class Repo2:
                @classmethod
                @ttl_repository(ttl=1, cache=cache, tags=["t:{cls}"])
                def get(cls, cid: str) -> str:
                    return cid

        with pytest.raises(KeyTemplateError, match="cls"):

            class Repo3:
                @ttl_repository(ttl=1, cache=cache, key="{cls}")
                @classmethod
                def get(cls, cid: str) -> str:
                    return cid

    def test_keyword_named_self(self, cache: Cache) -> None:
        """A keyword argument called self reaches the function, as undecorated."""

        @ttl_repository(ttl=30, cache=cache)
        def f(**kw: Any) -> dict[str, Any]:
            return kw

        assert f(self=1) == f(self=1) == {"self": 1}
        assert f.invalidate(self=1) is True
        assert f.cache_key(self=1) != f.cache_key(self=2)

    def test_unkeyable_annotation_fails_at_decoration(self, cache: Cache) -> None:
        """A parameter annotated with a class no key can hold fails when decorating."""

        with pytest.raises(ConfigurationError, match="key="):

            @ttl_repository(ttl=1, cache=cache)
            def f(conn: _Connection, cid: str) -> str:
                return cid

        @ttl_repository(ttl=1, cache=cache, key="{cid}")
        def g(conn: _Connection, cid: str) -> str:
            return cid

        @ttl_repository(ttl=1, cache=cache)
        def h(conn: _Connection | None, items: Sequence[int], when: object) -> int:
            return 1  # unions, generics and object: a call decides

        assert g(_Connection(), "c") == "c"
        assert h(None, [1], 2) == 1


class _Connection:
    """A class no key can hold (a database connection)."""


class _Stacked:
    """Every stacking order of classmethod / staticmethod with ttl_repository."""

    calls: ClassVar[list[str]] = []

    @classmethod
    def make(cls, cache: Cache) -> type:
        calls = cls.calls

        class Repo:
            @classmethod
            @ttl_repository(ttl=30, cache=cache, name="outer_cm")
            def outer_cm(klass, cid: str) -> str:
                calls.append(f"outer_cm:{klass.__name__}")
                return cid

            @ttl_repository(ttl=30, cache=cache, name="inner_cm")
            @classmethod
            def inner_cm(klass, cid: str) -> str:
                calls.append(f"inner_cm:{klass.__name__}")
                return cid

            @staticmethod
            @ttl_repository(ttl=30, cache=cache, name="outer_sm")
            def outer_sm(cid: str) -> str:
                calls.append("outer_sm")
                return cid

            @ttl_repository(ttl=30, cache=cache, name="inner_sm")
            @staticmethod
            def inner_sm(cid: str) -> str:
                calls.append("inner_sm")
                return cid

        return Repo


class TestStacking:
    @pytest.mark.parametrize("method", ["outer_cm", "inner_cm", "outer_sm", "inner_sm"])
    def test_every_order_on_every_python(self, cache: Cache, method: str) -> None:
        """classmethod/staticmethod over or under ttl_repository: cls never in the key."""
        _Stacked.calls.clear()
        repo = _Stacked.make(cache)
        through_class, through_instance = getattr(repo, method), getattr(repo(), method)
        assert through_class("c1") == through_instance("c1") == "c1"
        assert len(_Stacked.calls) == 1
        assert through_class.cache_key("c1") == through_instance.cache_key("c1")
        assert through_class.cache_key("c1").endswith(f"{method}:s2:c1")
        assert through_instance.invalidate("c1") is True
        assert through_class("c1") == "c1"
        assert len(_Stacked.calls) == 2
        assert through_class.invalidate(cid="c1") is True

    def test_coroutine_functions_say_so(self, cache: Cache) -> None:
        """inspect.iscoroutinefunction is True for async cached functions and methods only."""

        @ttl_repository(ttl=1, cache=cache)
        async def load(cid: str) -> str:
            return cid

        @ttl_repository(ttl=1, cache=cache)
        def load_sync(cid: str) -> str:
            return cid

        class Repo:
            @ttl_repository(ttl=1, cache=cache)
            async def get(self, cid: str) -> str:
                return cid

        assert inspect.iscoroutinefunction(load)
        assert inspect.iscoroutinefunction(Repo().get)
        assert not inspect.iscoroutinefunction(load_sync)
        assert inspect.signature(load) == inspect.signature(load.__wrapped__)  # type: ignore[attr-defined]


class TestWrapper:
    def test_signature_name_doc_preserved(self, cache: Cache) -> None:
        """inspect.signature, name, docstring and annotations are the original's."""

        async def original(conversation_id: str, limit: int = 50) -> dict[str, Any]:
            """Fetch a conversation."""
            return {}

        decorated = ttl_repository(ttl=1, cache=cache)(original)
        assert inspect.signature(decorated) == inspect.signature(original)
        assert decorated.__name__ == "original"
        assert decorated.__doc__ == "Fetch a conversation."
        assert decorated.__wrapped__ is original  # type: ignore[attr-defined]
        assert inspect.iscoroutinefunction(decorated.__call__)

    def test_fastapi_dependency_sees_the_same_parameters(self, namespace: str) -> None:
        """As a FastAPI dependency the decorated function exposes the original's query params."""
        from fastapi import Depends, FastAPI
        from fastapi.testclient import TestClient

        cache = Cache(MemoryBackend(), namespace=namespace)
        calls: list[tuple[str, int]] = []

        async def list_conversations(account_id: str, limit: int = 20) -> dict[str, Any]:
            calls.append((account_id, limit))
            return {"account_id": account_id, "limit": limit}

        cached = ttl_repository(ttl=30, cache=cache)(list_conversations)
        apps = []
        for dependency in (list_conversations, cached):
            app = FastAPI()

            @app.get("/conversations")
            async def route(page: dict[str, Any] = Depends(dependency)) -> dict[str, Any]:  # noqa: B008
                return page

            apps.append(app)
        plain_schema, cached_schema = (a.openapi()["paths"]["/conversations"] for a in apps)
        assert cached_schema["get"]["parameters"] == plain_schema["get"]["parameters"]
        with TestClient(apps[1]) as client:
            for _ in range(3):
                response = client.get("/conversations", params={"account_id": "a1", "limit": 5})
                assert response.json() == {"account_id": "a1", "limit": 5}
            assert client.get("/conversations").status_code == 422
        assert calls == [("a1", 5)]


class TestSingleFlight:
    async def test_500_tasks_run_the_loader_once(self, cache: Cache) -> None:
        """500 concurrent callers on a cold key run the loader once and all get its value."""
        runs = 0

        @ttl_repository(ttl=30, cache=cache)
        async def load(key: str) -> dict[str, str]:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.05)
            return {"k": key}

        results = await asyncio.gather(*(load("cold") for _ in range(500)))
        assert runs == 1
        assert all(r == {"k": "cold"} for r in results)

    def test_64_threads_run_the_loader_once(self, cache: Cache) -> None:
        """64 threads on a cold key run the loader once."""
        runs = 0
        barrier = threading.Barrier(64)

        @ttl_repository(ttl=30, cache=cache)
        def load(key: str) -> str:
            nonlocal runs
            runs += 1
            time.sleep(0.05)
            return key

        results: list[str] = []

        def worker() -> None:
            barrier.wait()
            results.append(load("cold"))

        threads = [threading.Thread(target=worker) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert runs == 1 and results == ["cold"] * 64

    async def test_loader_error_reaches_every_waiter_and_is_not_cached(self, cache: Cache) -> None:
        """A failing loader's exception reaches all 100 waiters; the next call retries."""
        runs = 0

        @ttl_repository(ttl=30, cache=cache)
        async def load(key: str) -> str:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.02)
            if runs == 1:
                raise LookupError("db down")
            return "ok"

        results = await asyncio.gather(*(load("k") for _ in range(100)), return_exceptions=True)
        assert runs == 1
        assert all(isinstance(r, LookupError) for r in results)
        assert await load("k") == "ok" and runs == 2
        assert load.stats().load_errors == 1

    def test_thread_loader_error_reaches_every_waiter(self, cache: Cache) -> None:
        """In threads too, the error is shared and nothing is cached."""
        runs = 0
        barrier = threading.Barrier(16)
        release = threading.Event()

        @ttl_repository(ttl=30, cache=cache)
        def load(key: str) -> str:
            nonlocal runs
            runs += 1
            release.wait(10)  # until every caller has missed and joined
            raise LookupError("db down")

        errors: list[BaseException] = []

        def worker() -> None:
            barrier.wait()
            try:
                load("k")
            except LookupError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        # A caller scheduled after the failed load ended would start a load of its
        # own (correctly): the load is held until all 16 have missed.
        assert eventually(lambda: cache.stats().misses >= 16, 10.0, 0.001)
        release.set()
        for t in threads:
            t.join(timeout=30)
        assert runs == 1 and len(errors) == 16

    async def test_cancelled_caller_does_not_cancel_the_load(self, cache: Cache) -> None:
        """Cancelling the first caller leaves the shared load running for the others."""
        runs = 0

        @ttl_repository(ttl=30, cache=cache)
        async def load(key: str) -> str:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.05)
            return "v"

        first = asyncio.ensure_future(load("k"))
        second = asyncio.ensure_future(load("k"))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == "v" and runs == 1


class TestPolicies:
    def test_none_not_cached_unless_asked(self, cache: Cache) -> None:
        """None is reloaded every time by default and cached with cache_none=True."""
        runs = {"plain": 0, "cached": 0}

        @ttl_repository(ttl=30, cache=cache)
        def plain(k: str) -> None:
            runs["plain"] += 1

        @ttl_repository(ttl=30, cache=cache, cache_none=True, none_ttl=5)
        def cached(k: str) -> None:
            runs["cached"] += 1

        for _ in range(3):
            assert plain("k") is None and cached("k") is None
        assert runs == {"plain": 3, "cached": 1}

    def test_tag_invalidation(self, cache: Cache) -> None:
        """invalidate_tags drops every entry of the tag and only those."""
        runs: list[str] = []

        @ttl_repository(ttl=30, cache=cache, tags=["account:{account_id}"])
        def conversation(account_id: str, cid: str) -> str:
            runs.append(cid)
            return cid

        for cid in ("c1", "c2"):
            conversation("a1", cid)
        conversation("a2", "c3")
        assert cache.invalidate_tags("account:a1") == 2
        for cid in ("c1", "c2"):
            conversation("a1", cid)
        conversation("a2", "c3")
        assert runs == ["c1", "c2", "c3", "c1", "c2"]

    async def test_tag_invalidation_async(self, cache: Cache) -> None:
        """The async twin invalidates tags too."""
        runs: list[str] = []

        @ttl_repository(ttl=30, cache=cache, tags=["account:{account_id}"])
        async def conversation(account_id: str, cid: str) -> str:
            runs.append(cid)
            return cid

        await conversation("a1", "c1")
        assert await cache.ainvalidate_tags("account:a1") == 1
        await conversation("a1", "c1")
        assert runs == ["c1", "c1"]

    def test_jitter_only_shortens(self, clock: FakeClock, namespace: str) -> None:
        """With jitter=0.5 every TTL lies in [ttl/2, ttl], and they differ."""
        backend = MemoryBackend(timer=clock)
        cache = Cache(backend, namespace=namespace)

        @ttl_repository(ttl=100, cache=cache, jitter=0.5)
        def f(i: int) -> int:
            return i

        for i in range(50):
            f(i)
        ttls = [entry[0] - clock.now for entry in backend._data.values()]
        assert all(50 <= t <= 100 for t in ttls)
        assert len(set(ttls)) > 40

    def test_expiry(self, clock: FakeClock, namespace: str) -> None:
        """After the TTL the function runs again."""
        cache = Cache(MemoryBackend(timer=clock), namespace=namespace, clock=clock)
        runs = 0

        @ttl_repository(ttl=10, cache=cache)
        def f(k: str) -> int:
            nonlocal runs
            runs += 1
            return runs

        assert f("k") == 1
        clock.advance(9)
        assert f("k") == 1
        clock.advance(1)
        assert f("k") == 2

    def test_stale_while_revalidate_threads(self, clock: FakeClock, namespace: str) -> None:
        """After ttl the stale value is served while exactly one refresh runs."""
        cache = Cache(MemoryBackend(timer=clock), namespace=namespace, clock=clock)
        release = threading.Event()
        runs = 0

        @ttl_repository(ttl=10, cache=cache, stale_ttl=60)
        def f(k: str) -> int:
            nonlocal runs
            runs += 1
            if runs > 1:
                release.wait(10)
            return runs

        assert f("k") == 1
        clock.advance(11)
        assert [f("k") for _ in range(20)] == [1] * 20  # stale, while the refresh blocks
        release.set()
        deadline = time.monotonic() + 5
        while f("k") != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert f("k") == 2 and runs == 2
        assert f.stats().stale_hits >= 20
        clock.advance(100)  # past ttl + stale_ttl: a plain miss
        assert f("k") == 3

    async def test_stale_while_revalidate_async(self, clock: FakeClock, namespace: str) -> None:
        """The async path serves stale values while one background refresh runs."""
        cache = Cache(MemoryBackend(timer=clock), namespace=namespace, clock=clock)
        release = asyncio.Event()
        runs = 0

        @ttl_repository(ttl=10, cache=cache, stale_ttl=60)
        async def f(k: str) -> int:
            nonlocal runs
            runs += 1
            if runs > 1:
                await release.wait()
            return runs

        assert await f("k") == 1
        clock.advance(11)
        assert await asyncio.gather(*(f("k") for _ in range(50))) == [1] * 50
        release.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if await f("k") == 2:
                break
        assert await f("k") == 2 and runs == 2


class TestStats:
    async def test_per_function_and_cache_totals(self, cache: Cache) -> None:
        """Each function counts its own hits/misses/loads; the cache adds them up."""

        @ttl_repository(ttl=30, cache=cache)
        def f(k: str) -> str:
            return k

        @ttl_repository(ttl=30, cache=cache)
        async def g(k: str) -> str:
            return k

        for k in ("a", "a", "b"):
            f(k)
            await g(k)
        for fn in (f, g):
            snap = fn.stats()
            assert (snap.hits, snap.misses, snap.loads) == (1, 2, 2)
            assert snap.load_time >= 0
        total = cache.stats()
        assert (total.hits, total.misses, total.loads) == (2, 4, 4)
        assert total.hit_ratio == pytest.approx(2 / 6)

    def test_exact_under_64_threads(self, namespace: str) -> None:
        """64 threads × 500 hits lose no count."""
        cache = Cache(MemoryBackend(), namespace=namespace)

        @ttl_repository(ttl=30, cache=cache)
        def f(k: str) -> str:
            return k

        f("k")

        def worker() -> None:
            for _ in range(500):
                f("k")

        threads = [threading.Thread(target=worker) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert f.stats().hits == 64 * 500


class TestKeyTemplates:
    def test_template_may_name_the_first_parameter(self, cache: Cache) -> None:
        """key= can name a plain function's first parameter."""

        @ttl_repository(ttl=30, cache=cache, key="{user_id}")
        def f(user_id: str, conn: object) -> str:
            return user_id

        assert f("u1", object()) == f("u1", object()) == "u1"
        assert f.stats().hits == 1


class TestTags:
    TEXTS: ClassVar[list[str]] = ["plain", "\ud800 lone surrogate", "é ü 中文 🙂", "x" * 400]

    @pytest.mark.parametrize("text", TEXTS, ids=["ascii", "surrogate", "unicode", "long"])
    def test_any_argument_text_renders_a_usable_tag(self, cache: Cache, text: str) -> None:
        """Whatever the argument's text, the call is cached and its tag invalidates it."""
        calls: list[str] = []

        @ttl_repository(ttl=30, cache=cache, tags=["account:{account_id}"])
        def f(account_id: str) -> int:
            calls.append(account_id)
            return len(calls)

        assert f(text) == f(text) == 1
        assert cache.invalidate_tags(f"account:{text}") == 1
        assert f(text) == 2

    @pytest.mark.parametrize("text", TEXTS, ids=["ascii", "surrogate", "unicode", "long"])
    async def test_any_argument_text_renders_a_usable_tag_async(
        self, cache: Cache, text: str
    ) -> None:
        """The async twin: cached, and `ainvalidate_tags` with the rendered text drops it."""
        calls: list[str] = []

        @ttl_repository(ttl=30, cache=cache, tags=["account:{account_id}"])
        async def f(account_id: str) -> int:
            calls.append(account_id)
            return len(calls)

        assert await f(text) == await f(text) == 1
        assert await cache.ainvalidate_tags(f"account:{text}") == 1
        assert await f(text) == 2

    @pytest.mark.parametrize("bad", ["", "\ud800", "a\nb", 5])
    def test_unusable_names_fail_at_decoration(self, cache: Cache, bad: object) -> None:
        """name= prefixes keys and labels metrics: unwritable or unprintable text is refused."""
        with pytest.raises(ConfigurationError, match="name"):
            ttl_repository(ttl=30, cache=cache, name=bad)  # type: ignore[arg-type]

    def test_tags_render_as_text_so_alike_renderings_share_a_tag(self, cache: Cache) -> None:
        """Unlike key= fields, tag fields are text: alike renderings are invalidated together."""
        calls: list[tuple[Any, Any]] = []

        @ttl_repository(ttl=30, cache=cache, tags=["t:{a}:{b}"])
        def f(a: Any, b: Any) -> int:
            calls.append((a, b))
            return len(calls)

        f("acme:eu", "5511"), f("acme", "eu:5511"), f(1, None), f("1", "None")
        assert f.cache_key("acme:eu", "5511") != f.cache_key("acme", "eu:5511")  # two entries
        assert cache.invalidate_tags("t:acme:eu:5511") == 2  # one tag: more dropped, never fewer
        assert cache.invalidate_tags("t:1:None") == 2
        assert len(calls) == 4
