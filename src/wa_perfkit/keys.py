"""
Deterministic cache keys from a function's arguments.

A key is ``<qualname>:<arguments>`` (the `Cache` adds ``namespace:version:``).
It is the same in every process and every Python run: arguments are encoded
by type with a length prefix, never through ``hash()`` or ``repr()`` of an
arbitrary object, so ``f("a b")`` and ``f("a", "b")`` cannot collide and
``f(1)``, ``f(True)`` and ``f(1.0)`` are three keys.

Arguments are bound to the signature with defaults applied, so ``f(1)``,
``f(x=1)`` and ``f()`` (with ``x=1`` the default) share one key. Plain
positional calls that fill every parameter skip ``Signature.bind`` entirely:
that is the hot path of a cache hit.

Encodings:

=========================  ===================================
``str``                    ``s<len>:<text>``
``int`` / ``bool``         ``i<digits>`` / ``T`` / ``F``
``float``                  ``f<repr>`` (repr of a float is exact)
``None``                   ``N``
anything else supported    ``j<len>:<canonical tagged JSON>``
=========================  ===================================

Argument parts longer than `MAX_PLAIN_LENGTH` are replaced by a BLAKE2b
digest, so keys stay short whatever the arguments.
"""

from __future__ import annotations

import hashlib
import inspect
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wa_perfkit.errors import ConfigurationError, KeyTemplateError, SerializationError
from wa_perfkit.serialization import Codec, JsonSerializer

__all__ = ["MAX_PLAIN_LENGTH", "KeyBuilder", "digest", "encode_argument"]

#: Argument parts longer than this are hashed.
MAX_PLAIN_LENGTH = 160

class _SortedSet(tuple[Any, ...]):
    """A set's items in encoded order; a private codec keeps it apart from tuples."""


_canonical = JsonSerializer(codecs=[Codec("wa_perfkit.keys.set", _SortedSet, list, _SortedSet)])


def digest(text: str) -> str:
    """
    Return a short, stable digest of ``text`` (32 hex characters of BLAKE2b).

    Args:
        text: any string, typically a long key or a key to log.

    Returns:
        The hex digest.
    """
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def encode_argument(value: Any) -> str:
    """
    Encode one argument value canonically and unambiguously.

    Args:
        value: a str, int, float, bool, None, or any value the default
            serializer supports (UUID, datetime, Decimal, dict, list, ...).

    Returns:
        The encoded part.

    Raises:
        ConfigurationError: the value's type cannot be part of a key; pass
            ``key=`` to the decorator to say which attributes identify it.
    """
    kind = type(value)
    if kind is str:
        return f"s{len(value)}:{value}"
    if kind is int:
        return f"i{value}"
    if value is None:
        return "N"
    if kind is bool:
        return "T" if value else "F"
    if kind is float:
        return f"f{value!r}"
    try:
        text = _canonical.dumps(_sorted(value)).decode()
    except (SerializationError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot build a cache key from a {kind.__qualname__} argument; "
            "pass key='...' naming the arguments that identify the entry"
        ) from exc
    return f"j{len(text)}:{text}"


def _sorted(value: Any) -> Any:
    # Dicts with equal items must give equal keys whatever their insertion order.
    if type(value) is dict:
        items = sorted(value.items(), key=lambda item: encode_argument(item[0]))
        return {k: _sorted(v) for k, v in items}
    if type(value) in (list, tuple):
        return type(value)(_sorted(item) for item in value)
    if type(value) in (set, frozenset):
        # Set order follows hash(), which changes between processes: sort by encoding.
        return _SortedSet(sorted(map(_sorted, value), key=encode_argument))
    return value


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
            (``"{account_id}:{phone}"``) used instead of every argument.

    Attributes:
        make: ``make(args, kwargs) -> key``, specialised at construction so the
            common calls do as little as possible.

    Raises:
        KeyTemplateError: the template names an argument the function lacks.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        prefix: str = "",
        skip_first: bool = False,
        template: str | None = None,
    ) -> None:
        signature = inspect.signature(func)
        params = list(signature.parameters.values())
        if skip_first:
            if not params:
                raise ConfigurationError(f"{func.__qualname__} has no self/cls parameter")
            params = params[1:]
        self._signature = signature.replace(parameters=params)
        self._prefix = f"{prefix}{func.__module__}.{func.__qualname__}:"
        self._template = template
        if template is not None:
            check_template(template, self._signature.parameters)
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
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def _slow(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        arguments = self.bind(args, kwargs)
        if self._template is not None:
            return self._prefix + _shorten(self._template.format_map(arguments))
        return self._prefix + _encode_all(_flatten(arguments, self._signature))

    def _specialise(self, params: list[inspect.Parameter]) -> Callable[..., str]:
        slow, prefix = self._slow, self._prefix
        simple = self._template is None and all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params
        )
        if not simple:
            return slow
        # Plain positional calls need no Signature.bind: the missing tail is
        # filled from the defaults, precomputed here.
        arity = len(params)
        required = sum(p.default is p.empty for p in params)
        defaults = tuple(p.default for p in params[required:])
        str_prefix = prefix + "s"

        def make(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
            if kwargs or not required <= len(args) <= arity:
                return slow(args, kwargs)
            if len(args) == 1 and type(args[0]) is str and len(args[0]) < MAX_PLAIN_LENGTH:
                # The hottest shape: one id string.
                return f"{str_prefix}{len(args[0])}:{args[0]}"
            if len(args) < arity:
                args += defaults[len(args) - required :]
            return prefix + _encode_all(args)

        return make


def _flatten(arguments: Mapping[str, Any], signature: inspect.Signature) -> list[Any]:
    values: list[Any] = []
    for name, param in signature.parameters.items():
        value = arguments[name]
        if param.kind is param.VAR_POSITIONAL:
            values.append(list(value))
        elif param.kind is param.VAR_KEYWORD:
            values.append(dict(value))
        else:
            values.append(value)
    return values


def check_template(template: str, names: Iterable[str]) -> None:
    """
    Check at decoration time that ``template`` only names known arguments.

    Args:
        template: a ``str.format`` template.
        names: the argument names available.

    Raises:
        KeyTemplateError: a field is not an argument name, or is positional (``{}``).
    """
    known = set(names)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise KeyTemplateError(template, str(exc)) from None
    for field in (field for _, field, _, _ in parsed if field is not None):
        root = field.split(".", 1)[0].split("[", 1)[0]
        if root not in known:
            raise KeyTemplateError(template, root or "{}")
