"""
Deterministic cache keys from a function's arguments.

A key is ``<name>:<arguments>`` (the `Cache` adds ``namespace:version:``),
where ``<name>`` is the decorator's ``name=`` or the function's
``module.qualname``. It is the same in every process and every Python run:
arguments are encoded by type with a length prefix, never through ``hash()``
or ``repr()`` of an arbitrary object, so ``f("a b")`` and ``f("a", "b")``
cannot collide and ``f(1)``, ``f(True)``, ``f(1.0)`` and ``f("1")`` are four
keys.

Arguments are bound to the signature with defaults applied, so ``f(1)``,
``f(x=1)`` and ``f()`` (with ``x=1`` the default) share one key. Plain
positional calls skip ``Signature.bind`` entirely (the missing tail is filled
from the defaults): that is the hot path of a cache hit.

Encodings (parts are joined with ``|``; strings, containers and other values
carry their length, so a sequence of them is unambiguous):

==============================  ============================================
``str``                         ``s<len>:<text>`` (``w<len>:<hex>`` when the
                                text holds a lone surrogate)
``int`` / ``bool`` / ``None``   ``i<digits>`` (``x<hex>`` past 4,000 digits) /
                                ``T`` / ``F`` / ``N``
``float``                       ``f<repr>`` (repr of a float is exact)
containers, other values        ``<tag><len>:<body>``: ``l`` list, ``t``
                                tuple, ``z`` set, ``Z`` frozenset, ``m``
                                dict (items sorted by encoded key), ``e``
                                enum, ``c`` dataclass, ``u`` UUID, ``D``
                                Decimal, ``d`` datetime, ``a`` date, ``h``
                                time, ``r`` timedelta, ``b`` bytes
==============================  ============================================

Sets and dicts are ordered by their items' encodings, never by ``hash()``, so
a dict keyed by frozensets gives one key in every process. An enum member is
its class's ``module.qualname`` plus its value; a dataclass instance (with
``eq=True``) its class's name plus its compared fields.

Argument parts longer than `MAX_PLAIN_LENGTH` are replaced by a BLAKE2b
digest, so keys stay short whatever the arguments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import inspect
import string
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from wa_perfkit.errors import ConfigurationError, KeyTemplateError

__all__ = ["MAX_PLAIN_LENGTH", "KeyBuilder", "check_template", "digest", "encode_argument"]

#: Argument parts longer than this are hashed.
MAX_PLAIN_LENGTH = 160

#: Ints longer than this many digits are written in hex (``str(int)`` refuses
#: more than 4,300 digits by default).
_MAX_DECIMAL_DIGITS = 4000
_DECIMAL_LIMIT = 10**_MAX_DECIMAL_DIGITS  # computed once: a per-call power costs 300 µs


def digest(text: str) -> str:
    """
    Return a short, stable digest of ``text`` (32 hex characters of BLAKE2b).

    Args:
        text: any string, typically a long key or a key to log; a lone
            surrogate is digested as its code point, never an error.

    Returns:
        The hex digest.
    """
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def encode_argument(value: Any) -> str:
    """
    Encode one argument value canonically, unambiguously and by type.

    Args:
        value: a str, int, float, bool, None, bytes, UUID, Decimal, datetime,
            date, time, timedelta, enum member, dataclass instance, or a
            list, tuple, set, frozenset or dict of those.

    Returns:
        The encoded part: equal for equal values of the same types, in every
        process.

    Raises:
        ConfigurationError: the value's type cannot be part of a key; the
            message says how to name the identifying arguments with ``key=``.
    """
    kind = type(value)
    if kind is str:
        return f"s{len(value)}:{value}" if value.isascii() else _encode_str(value)
    if kind is int:
        return f"i{value}" if -_DECIMAL_LIMIT < value < _DECIMAL_LIMIT else f"x{value:x}"
    if value is None:
        return "N"
    if kind is bool:
        return "T" if value else "F"
    if kind is float:
        return f"f{value!r}"
    encoder = _ENCODERS.get(kind)
    if encoder is not None:
        tag, body = encoder(value)
    elif isinstance(value, enum.Enum):
        tag, body = "e", _type_name(kind) + "|" + encode_argument(value.value)
    elif _is_keyable_dataclass(kind):
        fields = (f.name for f in dataclasses.fields(value) if f.compare)
        tag = "c"
        body = "|".join(
            [_type_name(kind)]
            + [f"{_encode_str(name)}|{encode_argument(getattr(value, name))}" for name in fields]
        )
    elif isinstance(value, uuid.UUID):  # a driver's subclass (asyncpg's) keys as a UUID
        tag, body = "u", value.hex
    else:
        raise ConfigurationError(unkeyable_message(kind))
    return f"{tag}{len(body)}:{body}"


def unkeyable_message(kind: type) -> str:
    """
    Return the error message for an argument type that cannot be part of a key.
    """
    return (
        f"cannot build a cache key from a {kind.__qualname__} argument: pass "
        "key='{...}' to ttl_repository naming the arguments (or their attributes, "
        "'{user.id}') that identify the result, or pass a keyable value (str, int, "
        "UUID, an enum, a frozen dataclass...)"
    )


def _encode_str(value: str) -> str:
    if value.isascii():
        return f"s{len(value)}:{value}"
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate (json.loads makes them): write it as hex
        text = value.encode("utf-8", "surrogatepass").hex()
        return f"w{len(text)}:{text}"
    return f"s{len(value)}:{value}"


def _type_name(kind: type) -> str:
    return _encode_str(f"{kind.__module__}.{kind.__qualname__}")


def _is_keyable_dataclass(kind: type) -> bool:
    params = getattr(kind, "__dataclass_params__", None)
    return params is not None and bool(params.eq) and dataclasses.is_dataclass(kind)


def _items(values: Iterable[Any]) -> str:
    return "|".join(map(encode_argument, values))


def _sorted_items(values: Iterable[Any]) -> str:
    # Set order follows hash(), which changes between processes: sort by encoding.
    return "|".join(sorted(map(encode_argument, values)))


def _dict_items(value: dict[Any, Any]) -> str:
    return "|".join(sorted(f"{encode_argument(k)}|{encode_argument(v)}" for k, v in value.items()))


def _datetime(value: dt.datetime) -> str:
    zone = getattr(value.tzinfo, "key", None)  # a ZoneInfo's name, not just its offset
    return (
        value.isoformat()
        + (f"[{zone}]" if isinstance(zone, str) else "")
        + ("f" if value.fold else "")
    )


_ENCODERS: dict[type, Callable[[Any], tuple[str, str]]] = {
    list: lambda v: ("l", _items(v)),
    tuple: lambda v: ("t", _items(v)),
    set: lambda v: ("z", _sorted_items(v)),
    frozenset: lambda v: ("Z", _sorted_items(v)),
    dict: lambda v: ("m", _dict_items(v)),
    uuid.UUID: lambda v: ("u", v.hex),
    Decimal: lambda v: ("D", str(v)),
    dt.datetime: lambda v: ("d", _datetime(v)),
    dt.date: lambda v: ("a", v.isoformat()),
    dt.time: lambda v: ("h", v.isoformat() + ("f" if v.fold else "")),
    dt.timedelta: lambda v: ("r", f"{v.days},{v.seconds},{v.microseconds}"),
    bytes: lambda v: ("b", v.hex()),
}


def keyable_type(kind: Any) -> bool | None:
    """
    Say whether values annotated as ``kind`` can be part of a key.

    Args:
        kind: a parameter's resolved annotation.

    Returns:
        True if they can, False if no instance can be keyed (a concrete class
        with no encoding, such as a connection), None if it cannot be told
        (a union, a generic, ``Any``, an abstract class, ``object``).
    """
    if not isinstance(kind, type) or kind is object or typing.get_origin(kind) is not None:
        return None
    if kind in _ENCODERS or kind in (str, int, float, bool, type(None)):
        return True
    if issubclass(kind, enum.Enum) or issubclass(kind, uuid.UUID) or _is_keyable_dataclass(kind):
        return True
    if inspect.isabstract(kind) or getattr(kind, "_is_protocol", False):
        return None
    if any(issubclass(kind, base) for base in (*_ENCODERS, str, int, float)):
        return False  # a subclass of str, dict, tuple...: its type would be lost
    if kind.__module__ == "builtins" or kind.__module__ == "typing":
        return None  # callables, type itself, ...: let a call decide
    return False


def _encode_all(values: Iterable[Any]) -> str:
    return _shorten("|".join(map(encode_argument, values)))


def _shorten(part: str) -> str:
    return part if len(part) <= MAX_PLAIN_LENGTH else "#" + digest(part)


class KeyBuilder:
    """
    Builds the key of one function's calls.

    Args:
        func: the function whose arguments make the key.
        prefix: prepended to every key (the cache's ``namespace:version:``).
        skip_first: drop the first parameter (``self``/``cls``); decided by
            the caller through the descriptor protocol, never by the name.
        template: an optional ``str.format`` template over argument names
            (``"{account_id}:{phone}"``) whose fields, each encoded by type
            like any argument, make the key instead of every argument.
        name: the key's function part; defaults to ``module.qualname``.

    Attributes:
        make: ``make(args, kwargs) -> key``, specialised at construction so the
            common calls do as little as possible.

    Raises:
        KeyTemplateError: the template is malformed or names an argument the
            function lacks (or, with ``skip_first``, its first parameter).
        ConfigurationError: ``skip_first`` on a function without parameters.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        prefix: str = "",
        skip_first: bool = False,
        template: str | None = None,
        name: str | None = None,
    ) -> None:
        signature = inspect.signature(func)
        params = list(signature.parameters.values())
        if skip_first:
            if not params or params[0].kind not in _POSITIONAL:
                raise ConfigurationError(f"{func.__qualname__} has no self/cls parameter")
            params = params[1:]
        self._signature = signature.replace(parameters=params)
        var_keyword = [p.name for p in params if p.kind is p.VAR_KEYWORD]
        self._var_keyword = var_keyword[0] if var_keyword else ""
        self._spill = frozenset(
            p.name for p in params if var_keyword and p.kind is p.POSITIONAL_ONLY
        )
        self._prefix = f"{prefix}{name or f'{func.__module__}.{func.__qualname__}'}:"
        self._fields: tuple[str, ...] | None = None
        if template is not None:
            skipped = list(signature.parameters)[:1] if skip_first else []
            self._fields = check_template(template, self._signature.parameters, skipped)
        self.make = self._specialise(params)

    def __call__(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        """
        Return the key for a call with ``args`` and ``kwargs``.
        """
        return self.make(args, kwargs)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """
        Bind a call to the signature with defaults applied.

        Raises:
            TypeError: the arguments do not match the signature (as a call would).
        """
        spill = self._spill
        if spill and not spill.isdisjoint(kwargs):
            # f(a=2) for def f(a=1, /, **kw) puts a=2 in kw, but Signature.bind
            # refuses it before Python 3.13: bind without, then add it to **kw.
            extra = {name: kwargs[name] for name in spill.intersection(kwargs)}
            kwargs = {name: value for name, value in kwargs.items() if name not in extra}
            arguments = self.bind(args, kwargs)
            arguments[self._var_keyword] = {**arguments[self._var_keyword], **extra}
            return arguments
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def _slow(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        arguments = self.bind(args, kwargs)
        if self._fields is not None:
            formatter = _FORMATTER
            values = (formatter.get_field(field, (), arguments)[0] for field in self._fields)
            return self._prefix + _encode_all(values)
        return self._prefix + _encode_all(_flatten(arguments, self._signature))

    def _specialise(self, params: list[inspect.Parameter]) -> Callable[..., str]:
        slow, prefix = self._slow, self._prefix
        simple = self._fields is None and all(p.kind in _POSITIONAL for p in params)
        if not simple:
            return slow
        # Plain positional calls need no Signature.bind: the missing tail is
        # filled from the defaults, precomputed here.
        arity = len(params)
        required = sum(p.default is p.empty for p in params)
        defaults = tuple(p.default for p in params[required:])

        if arity == 1 and required == 1:
            # The hottest shape: one id string (ASCII and short enough to stay plain).
            str_prefix, limit = prefix + "s", MAX_PLAIN_LENGTH - 2 - len(str(MAX_PLAIN_LENGTH))
            # The keys of the strings seen last: a hit on a hot id then builds no string
            # (and hashes none: the backend's lookup reuses the key's cached hash).
            # Bounded: emptied when full, so it holds a few KB whatever the traffic.
            recent: dict[str, str] = {}
            known = recent.get

            def make_one(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
                if kwargs or len(args) != 1:
                    return slow(args, kwargs)
                arg = args[0]
                if type(arg) is not str:
                    return prefix + _encode_all(args)
                key = known(arg)
                if key is None:
                    if len(arg) <= limit and arg.isascii():
                        key = f"{str_prefix}{len(arg)}:{arg}"
                    else:
                        key = prefix + _encode_all(args)
                    if len(recent) >= _RECENT_KEYS:
                        recent.clear()
                    recent[arg] = key
                return key

            return make_one

        def make(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
            if kwargs or not required <= len(args) <= arity:
                return slow(args, kwargs)
            if len(args) < arity:
                args += defaults[len(args) - required :]
            return prefix + _encode_all(args)

        return make


#: How many one-string calls' keys a `KeyBuilder` remembers (the hot ids of a hit path).
_RECENT_KEYS = 256

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_FORMATTER = string.Formatter()


def _flatten(arguments: Mapping[str, Any], signature: inspect.Signature) -> list[Any]:
    values: list[Any] = []
    for name, param in signature.parameters.items():
        value = arguments[name]
        if param.kind is param.VAR_POSITIONAL:
            values.append(tuple(value))
        elif param.kind is param.VAR_KEYWORD:
            values.append(dict(value))
        else:
            values.append(value)
    return values


def check_template(
    template: str, names: Iterable[str], skipped: Iterable[str] = ()
) -> tuple[str, ...]:
    """
    Check at decoration time that ``template`` only names known arguments.

    Args:
        template: a ``str.format`` template.
        names: the argument names available.
        skipped: names the call never sees (a method's ``self``/``cls``).

    Returns:
        The template's fields (``"account_id"``, ``"user.id"``) in order.

    Raises:
        KeyTemplateError: a field is not an argument name, names a skipped
            parameter, is positional (``{}``) or the template is malformed.
    """
    known, hidden = set(names), set(skipped)
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise KeyTemplateError(template, str(exc)) from None
    fields: list[str] = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if spec or conversion:
            raise KeyTemplateError(
                template, field, "a key field takes no !conversion or :spec (it is encoded by type)"
            )
        root = field.split(".", 1)[0].split("[", 1)[0]
        if root in hidden:
            raise KeyTemplateError(
                template, root, f"{root!r} is the instance or class, which never enters a key "
                "(for a static method, put @ttl_repository above @staticmethod)"
            )
        if root not in known:
            raise KeyTemplateError(template, root or "{}")
        fields.append(field)
    return tuple(fields)
