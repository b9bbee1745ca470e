"""
`ttl_repository`: cache a repository function's results, keyed by its arguments.

```text
@ttl_repository(ttl=60, cache=cache, tags=["account:{account_id}"])
async def get_conversation(account_id: str, conversation_id: str) -> dict | None: ...

await get_conversation("a1", "c1")              # miss: runs the function, stores
await get_conversation("a1", "c1")              # hit: one backend read, no call
await get_conversation.invalidate("a1", "c1")   # same arguments as the call
await cache.ainvalidate_tags("account:a1")      # every entry tagged for a1
```

Everything is decided at decoration time — key builder, read function,
policy, which wrapper — so a hit runs: build the key, read, count, return.
The decorated object is an instance of a one-off class whose ``__call__`` is
that specialised core; it carries the original's ``__wrapped__``, name,
docstring and annotations (``inspect.signature`` and FastAPI's ``Depends``
see the original), and `CachedFunction` / `AsyncCachedFunction` give mypy
the original ``ParamSpec``.

Why not ``wrapt``: its C ``FunctionWrapper.__call__`` hands a Python wrapper
``(wrapped, instance, args, kwargs)``, which measured 670 ns per call — more
than half of a whole memory hit. A class ``__call__`` costs about 120 ns.

``self``/``cls`` never enter the key: the object is a descriptor, so a
method access binds the instance (or class) by position through ``__get__``
(never by guessing from the parameter's name), and the key builder of a
bound call skips the first parameter.
"""

from __future__ import annotations

import functools
import gc
import inspect
import sys
import threading
import typing
import weakref
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from logging import DEBUG
from typing import Any, Protocol, TypeVar, overload

from typing_extensions import ParamSpec

from wa_perfkit._engine.lock import LockedFlight
from wa_perfkit._engine.readthrough import Plan
from wa_perfkit._engine.steps import arun, run
from wa_perfkit._log import logger
from wa_perfkit.backends.base import MISS
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.keys import KeyBuilder, check_template, keyable_type, unkeyable_message
from wa_perfkit.metrics import StatsSnapshot
from wa_perfkit.observe import Outcome, current_trace, known_debug, note
from wa_perfkit.policy import Duration, Policy, seconds

__all__ = ["AsyncCachedFunction", "CachedFunction", "ttl_repository"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class CachedFunction(Protocol[P, R_co]):
    """
    What mypy sees of a decorated sync function: the original call, plus cache controls.
    """

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Call through the cache."""

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Remove the entry of the call with these arguments; True if it existed."""

    def cache_key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Return the backend key of the call with these arguments."""

    def stats(self) -> StatsSnapshot:
        """Return this function's counters."""


class AsyncCachedFunction(Protocol[P, R_co]):
    """
    What mypy sees of a decorated async function.
    """

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]:
        """Call through the cache."""

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Remove the entry of the call with these arguments; True if it existed."""

    def cache_key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Return the backend key of the call with these arguments."""

    def stats(self) -> StatsSnapshot:
        """Return this function's counters."""


class _Decorator(Protocol):
    @overload
    def __call__(  # type: ignore[overload-overlap]  # a coroutine function is also a Callable
        self, func: Callable[P, Coroutine[Any, Any, R]]
    ) -> AsyncCachedFunction[P, R]: ...

    @overload
    def __call__(self, func: Callable[P, R]) -> CachedFunction[P, R]: ...


class _Spec:
    """
    Everything one decorated function decided at decoration time.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        cache: Cache,
        policy: Policy,
        key: str | None,
        tags: Sequence[str],
        name: str | None,
        lock: LockedFlight | None = None,
        method: bool = False,
    ) -> None:
        self.func = func
        self.cache = cache
        self.policy = policy
        self.lock = lock
        self.is_async = inspect.iscoroutinefunction(func)
        self.method = method
        names = list(inspect.signature(func).parameters)
        skipped = names[:1] if method else []
        for template in tags:
            check_template(template, names, skipped)
        self.tags = tuple(tags)
        self.name = name or f"{func.__module__}.{func.__qualname__}"
        self.stats = cache._new_stats(self.name)
        self.plan = Plan(policy, self.stats, lock)
        self._key_template, self._key_name = key, name
        if key is None:
            _check_annotations(func, skip=1 if method else 0)
        self.plain_key = KeyBuilder(func, prefix=cache.prefix, template=key, name=name)
        self._core = _async_core if self.is_async else _sync_core
        self.plain_call = self._core(self, self.plain_key)
        if method:  # a template error naming self/cls shows now, not at the first call
            self.__dict__["bound_key"] = self._bound_key()

    # Built on first use as a method only, unless the function is defined in a
    # class body: a plain function's key template may name its first parameter.
    @functools.cached_property
    def bound_key(self) -> KeyBuilder:
        return self._bound_key()

    def _bound_key(self) -> KeyBuilder:
        if not inspect.signature(self.func).parameters:
            return self.plain_key
        return KeyBuilder(
            self.func,
            prefix=self.cache.prefix,
            skip_first=True,
            template=self._key_template,
            name=self._key_name,
        )

    @functools.cached_property
    def bound_call(self) -> _Core:
        return self._core(self, self.bound_key)

    def builder(self, bound: bool) -> KeyBuilder:
        return self.bound_key if bound else self.plain_key

    def invalidate(self, bound: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key = self.builder(bound).make(args, kwargs)
        flow = self.cache._discard(key, strict=True)
        return arun(flow, self.cache) if self.is_async else run(flow, self.cache)


def _tag_maker(
    spec: _Spec, builder: KeyBuilder
) -> Callable[[tuple[Any, ...], dict[str, Any]], tuple[str, ...]]:
    templates = spec.tags

    def tags(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, ...]:
        if not templates:
            return ()
        arguments = builder.bind(args, kwargs)
        return tuple(template.format_map(arguments) for template in templates)

    return tags


# ``core(owner, /, *args, **kwargs)``: the whole call of a cached function. ``owner`` is
# what was called (the `_Cached` object itself, or a `_Bound`); only a miss asks it for
# the function to run (``owner._loader``), so the plain call's ``__call__`` is the core
# itself, with no wrapper frame on the hit path.
_Core = Callable[..., Any]


def _sync_core(spec: _Spec, builder: KeyBuilder) -> _Core:
    """
    Build the core of a sync cached function.
    """
    cache, plan, stats = spec.cache, spec.plan, spec.stats
    read, count_hit, make_key = cache._read, stats.count_hit, builder.make
    resolve = partial(cache._engine.resolve, plan)
    tags, name, debug = _tag_maker(spec, builder), stats.name, logger.isEnabledFor

    if plan.policy.stale_ttl:  # every read needs the freshness check of `resolve`

        def core_with_stale(owner: Any, /, *args: Any, **kwargs: Any) -> Any:
            key = make_key(args, kwargs)
            loader = partial(owner._loader, *args, **kwargs)
            return resolve(key, read(key), loader, tags(args, kwargs))

        return core_with_stale

    def core(owner: Any, /, *args: Any, **kwargs: Any) -> Any:
        key = make_key(args, kwargs)
        value = read(key)
        if value is not MISS:
            count_hit()
            if current_trace() is not None or (known_debug(DEBUG) is not False and debug(DEBUG)):
                note(name, Outcome.HIT, key)
            return value
        loader = partial(owner._loader, *args, **kwargs)
        return resolve(key, MISS, loader, tags(args, kwargs))

    return core


def _async_core(spec: _Spec, builder: KeyBuilder) -> _Core:
    """
    Build the core, a coroutine function, of an async cached function.
    """
    cache, plan, stats = spec.cache, spec.plan, spec.stats
    count_hit, make_key = stats.count_hit, builder.make
    aresolve = partial(cache._engine.aresolve, plan)
    tags, name, debug = _tag_maker(spec, builder), stats.name, logger.isEnabledFor
    # A local backend's sync read never blocks: skip a coroutine per hit. Nor does the
    # L1 of a tiered backend (`Peekable`): only its misses await the L2.
    local = cache._powers.local
    local_read = cache._read if local else cache._powers.peek
    # A remote read of a key whose load runs misses at once: the caller joins the load.
    aread, stale = cache._engine.aread_or_join, bool(plan.policy.stale_ttl)

    async def core(owner: Any, /, *args: Any, **kwargs: Any) -> Any:
        key = make_key(args, kwargs)
        value = local_read(key) if local_read is not None else MISS
        if value is MISS and not local:
            value = await aread(key)
        if value is not MISS and not stale:
            count_hit()
            if current_trace() is not None or (known_debug(DEBUG) is not False and debug(DEBUG)):
                note(name, Outcome.HIT, key)
            return value
        loader = partial(owner._loader, *args, **kwargs)
        return await aresolve(key, value, loader, tags(args, kwargs))

    return core


class _Cached:
    """
    The runtime object `ttl_repository` returns (its ``__call__`` is set per function).

    It carries the original's ``__wrapped__``, name, docstring and annotations,
    so ``inspect.signature`` and FastAPI see the original, and it is a
    descriptor: bound to an instance or class, calls skip ``self``/``cls`` in the key.
    """

    _spec: _Spec
    _binding: str
    _loader: Callable[..., Any]  # what a miss runs: the original function
    _classmethod: bool | None = None  # wrapped by an outer @classmethod? (found on first use)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if self._binding == "staticmethod":
            return self
        if self._binding == "classmethod":
            return _Bound(self, owner if owner is not None else type(instance), owner)
        return _Bound(self, instance, owner)

    def __repr__(self) -> str:
        return f"<cached {self._spec.func.__qualname__} in {self._spec.cache!r}>"

    @property
    def cache(self) -> Cache:
        """The cache this function stores into."""
        return self._spec.cache

    def invalidate(self, /, *args: Any, **kwargs: Any) -> Any:
        """Remove the entry of the call with these arguments (awaitable for async functions)."""
        return self._spec.invalidate(self._is_classmethod(), args, kwargs)

    def cache_key(self, /, *args: Any, **kwargs: Any) -> str:
        """Return the backend key of the call with these arguments."""
        return self._spec.builder(self._is_classmethod()).make(args, kwargs)

    def _is_classmethod(self) -> bool:
        """
        Say whether an outer ``@classmethod`` wraps this object.

        Python 3.13 no longer chains ``classmethod.__get__`` to ours: ``Class.m(x)``
        then arrives here as ``m(Class, x)``, and ``Class.m.invalidate(x)``
        without the class. Only a function defined in a class body (not
        wrapped by us) asks, once; the answer comes from who holds this object.
        """
        found = self._classmethod
        if found is None:
            found = self._classmethod = self._spec.method and any(
                isinstance(holder, classmethod) and getattr(holder, "__func__", None) is self
                for holder in gc.get_referrers(self)
            )
        return found

    def stats(self) -> StatsSnapshot:
        """Return this function's counters."""
        return self._spec.stats.snapshot()


class _Bound:
    """
    A cached method bound to an instance (or a class): ``self``/``cls`` stay out of the key.
    """

    __slots__ = ("_instance", "_owner", "_parent")

    def __init__(self, parent: _Cached, instance: Any, owner: type | None) -> None:
        self._parent = parent
        self._instance = instance
        self._owner = owner

    def _split(self, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        instance, owner = self._instance, self._owner
        if instance is None and args and isinstance(owner, type) and isinstance(args[0], owner):
            return args[0], args[1:]  # Class.method(obj, ...)
        return instance, args

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        instance, rest = self._split(args)
        bound = self if rest is args else _Bound(self._parent, instance, self._owner)
        return self._parent._spec.bound_call(bound, *rest, **kwargs)

    @property
    def _loader(self) -> Callable[..., Any]:
        # What a miss runs: the original function with the instance (or class) first.
        return partial(self._parent._spec.func, self._instance)

    def invalidate(self, /, *args: Any, **kwargs: Any) -> Any:
        """Remove the entry of the call with these arguments (without ``self``)."""
        return self._parent._spec.invalidate(True, self._split(args)[1], kwargs)

    def cache_key(self, /, *args: Any, **kwargs: Any) -> str:
        """Return the backend key of the call with these arguments (without ``self``)."""
        return self._parent._spec.bound_key.make(self._split(args)[1], kwargs)

    def stats(self) -> StatsSnapshot:
        """Return the method's counters."""
        return self._parent.stats()

    @property
    def __wrapped__(self) -> Any:
        return self._parent._spec.func.__get__(self._instance, self._owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)


def _make_cached(raw: Any, spec: _Spec) -> _Cached:
    """
    Build the runtime object: a one-off subclass whose ``__call__`` is this function's core.
    """
    func, plain_call = spec.func, spec.plain_call

    def unbound_call(self: _Cached, /, *args: Any, **kwargs: Any) -> Any:
        if args and self._is_classmethod():
            return spec.bound_call(_Bound(self, args[0], None), *args[1:], **kwargs)
        return plain_call(self, *args, **kwargs)

    # The core is the plain call's ``__call__`` (the decorated object is its ``owner``).
    call = plain_call
    if spec.method and not isinstance(raw, (classmethod, staticmethod)):
        # Defined in a class body and called unbound: an outer @staticmethod, or an
        # outer @classmethod on Python 3.13+ (``m(Class, x)``): bind the class then.
        call = unbound_call

    cls = type("CachedFunction", (_Cached,), {"__call__": call})
    cached: _Cached = cls()
    functools.update_wrapper(cached, func)  # type: ignore[arg-type]  # any object takes attributes
    cached._spec = spec
    cached._loader = func
    is_descriptor = isinstance(raw, (classmethod, staticmethod))
    cached._binding = type(raw).__name__ if is_descriptor else "function"
    if spec.is_async:
        _mark_coroutine_function(cached, func)
    return cached


def _mark_coroutine_function(cached: _Cached, func: Callable[..., Any]) -> None:
    """
    Make ``inspect.iscoroutinefunction(cached)`` true, as for the original (Flask asks it).
    """
    if sys.version_info >= (3, 12):
        inspect.markcoroutinefunction(cached)
        return
    # Before 3.12, inspect asks a "function-like" object for its code flags.
    for attribute in ("__code__", "__defaults__", "__kwdefaults__"):
        setattr(cached, attribute, getattr(func, attribute, None))


def _in_class_body(func: Callable[..., Any]) -> bool:
    """
    Say whether ``func`` was defined in a class body (then its first parameter is self/cls).
    """
    owner, _, _ = getattr(func, "__qualname__", "").rpartition(".")
    return bool(owner) and not owner.endswith("<locals>")


def _check_annotations(func: Callable[..., Any], skip: int) -> None:
    """
    Refuse at decoration time a parameter annotated with a class no key can hold.
    """
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # an unresolvable forward reference: a call will tell
        return
    for param in list(inspect.signature(func).parameters.values())[skip:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name not in hints:
            continue
        kind = hints[param.name]
        if keyable_type(kind) is False:
            raise ConfigurationError(
                f"{func.__qualname__}: parameter {param.name!r}: " + unkeyable_message(kind)
            )


_claims: weakref.WeakKeyDictionary[Cache, dict[str, tuple[Any, weakref.ref[Any]]]] = (
    weakref.WeakKeyDictionary()
)
_claims_lock = threading.Lock()


def _claim_name(cache: Cache, func: Callable[..., Any]) -> None:
    """
    Refuse a second function object made from the same code under one name (a factory's).

    Functions made by a factory share ``module.qualname``, which is their key prefix:
    ``make("users")`` and ``make("invoices")`` would read each other's entries,
    even after the first is gone (entries outlive it). A function redefined with
    new code (a module reload) keeps its name.
    """
    code = getattr(func, "__code__", None)
    if code is None:
        return
    name = f"{func.__module__}.{func.__qualname__}"
    with _claims_lock:
        claims = _claims.setdefault(cache, {})
        claimed = claims.get(name)
        if claimed is not None and claimed[0] is code and claimed[1]() is not func:
            raise ConfigurationError(
                f"{name} is already cached in this cache by another function made from "
                "the same code (a factory's functions share their module and qualified "
                "name, which prefixes their keys): pass name='...' to ttl_repository, "
                "unique per function, for example name=f'users.get_{table}'"
            )
        claims[name] = (code, weakref.ref(func))


def ttl_repository(
    ttl: Duration,
    *,
    cache: Cache,
    key: str | None = None,
    tags: Sequence[str] = (),
    cache_none: bool = False,
    none_ttl: Duration | None = None,
    stale_ttl: Duration = 0.0,
    jitter: float = 0.0,
    name: str | None = None,
    lock: bool = False,
    lock_ttl: Duration = 10.0,
) -> _Decorator:
    """
    Cache a sync or async function's results for ``ttl`` seconds.

    Every duration is seconds or a `datetime.timedelta`.

    Args:
        ttl: seconds a result stays fresh.
        cache: the `Cache` to store into.
        key: a ``str.format`` template over argument names (``"{account_id}"``)
            when only some arguments identify the result; by default all do.
        tags: templates over argument names (``"account:{account_id}"``);
            `Cache.invalidate_tags` removes every entry carrying a tag.
        cache_none: also cache ``None`` results (for ``none_ttl`` seconds).
        none_ttl: TTL of a cached ``None``; defaults to ``ttl``.
        stale_ttl: serve an expired value for up to this many more seconds
            while one refresh runs in the background.
        jitter: shorten each TTL by a random fraction up to this value.
        name: the function's part of every key and its name in stats and
            metrics; defaults to ``module.qualname``. Unique per function in
            a cache: functions made by a factory need one each.
        lock: also run the loader once across processes on a miss (a Redis
            lock, `wa_perfkit.RedisLock`); on a backend without shared storage
            (memory) the per-process single-flight already is the whole story.
        lock_ttl: seconds a lock lives: the longest a crashed loader blocks
            the others. Keep it above the loader's usual duration.

    Returns:
        A decorator. The decorated function has the original's signature and
        adds ``invalidate(*same args)``, ``cache_key(*same args)`` and ``stats()``.

    Raises:
        ConfigurationError: a bad TTL, jitter, or argument; a parameter
            annotated with a class no key can hold; another function made from
            the same code already cached under this name (at decoration time).
        KeyTemplateError: ``key`` or a tag names an argument the function
            lacks, or a method's ``self``/``cls``.
    """
    policy = Policy(
        ttl, jitter=jitter, stale_ttl=stale_ttl, cache_none=cache_none, none_ttl=none_ttl
    )
    if not isinstance(cache, Cache):
        raise ConfigurationError(f"cache must be a wa_perfkit.Cache, not {type(cache).__name__}")
    if isinstance(tags, str):
        raise ConfigurationError("tags must be a sequence of templates, not a single string")
    if name is not None and (not isinstance(name, str) or not name or not name.isprintable()):
        raise ConfigurationError(f"name must be non-empty printable text, not {name!r}")
    lock_ttl = seconds(lock_ttl, "lock_ttl")
    if lock and not lock_ttl > 0:
        raise ConfigurationError(f"lock_ttl must be positive, not {lock_ttl!r}")
    store = cache._powers.lock_store if lock else None
    flight = LockedFlight(store, lock_ttl) if store is not None else None

    def decorate(func: Callable[..., Any]) -> Any:
        target = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        if not callable(target):
            raise ConfigurationError(f"cannot cache {func!r}: not callable")
        method = isinstance(func, classmethod) or (
            not isinstance(func, staticmethod) and _in_class_body(target)
        )
        spec = _Spec(target, cache, policy, key, tags, name, flight, method=method)
        if name is None:
            _claim_name(cache, target)
        return _make_cached(func, spec)

    return decorate
