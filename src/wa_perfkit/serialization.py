"""
A versioned JSON envelope that round-trips Python values faithfully.

Stored bytes look like ``b"W1p" + json`` or ``b"W1t" + json``:

* ``W1`` is the envelope version. An upgrade that changes the format bumps it,
  and older entries simply become misses.
* ``p`` means plain JSON: decoding is one ``json.loads`` with no hook.
* ``t`` means the JSON contains tagged objects ``{"__wpk__": tag, "v": ...}``
  for the types JSON cannot carry (datetime, date, UUID, Decimal, bytes,
  tuples, sets, non-string dict keys, registered codecs); only then does the
  decoder pay for an ``object_hook``.

A hit returns a value equal to, and of the same type as, what was stored
(one exception: a driver's subclass of ``uuid.UUID``, such as asyncpg's,
comes back as a plain ``uuid.UUID``, equal to it). A
type the serializer does not know raises `SerializationError` on encode (the
cache then skips storing; the caller still gets its value). Any failure on
decode — foreign bytes, truncated JSON, a pickle payload, an unknown tag —
raises `SerializationError`, which the cache turns into a miss.

Pickle is never used: a shared Redis must not become code execution.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import inspect
import json
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from wa_perfkit.errors import ConfigurationError, SerializationError

__all__ = ["Codec", "JsonSerializer", "Serializer", "dataclass_codec", "pydantic_codec"]

T = TypeVar("T")

_PREFIX_PLAIN = b"W1p"
_PREFIX_TAGGED = b"W1t"
_TAG = "__wpk__"

#: The deepest nesting of containers a value may have to be stored (deeper is refused).
MAX_DEPTH = 200


class Serializer(Protocol):
    """
    Turns values into bytes for remote backends and back.
    """

    def dumps(self, value: Any) -> bytes:
        """
        Encode ``value``; raise `SerializationError` if it cannot be encoded.
        """

    def loads(self, data: bytes) -> Any:
        """
        Decode ``data``; raise `SerializationError` on anything not produced by `dumps`.
        """


@dataclasses.dataclass(frozen=True)
class Codec(Generic[T]):
    """
    Teaches a serializer one extra type.

    Args:
        name: the stable tag written into stored entries; never reuse it for another type.
        type: the exact class handled (subclasses need their own codec).
        encode: turns an instance into JSON-able data (which may itself contain
            supported types such as datetime).
        decode: rebuilds the instance from that data.
    """

    name: str
    type: type[T]
    encode: Callable[[T], Any]
    decode: Callable[[Any], T]


def dataclass_codec(cls: type[T], name: str | None = None) -> Codec[T]:
    """
    Build a `Codec` for a dataclass, field by field.

    Every field is stored, ``field(init=False)`` ones included: they are set
    back after ``__init__`` (and ``__post_init__``) ran, so a hit carries the
    values the miss had, not recomputed defaults.

    Args:
        cls: the dataclass.
        name: the stored tag; defaults to the class's qualified name.

    Returns:
        A codec to pass to `JsonSerializer(codecs=[...])`.

    Raises:
        ConfigurationError: ``cls`` is not a dataclass.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ConfigurationError(f"{cls!r} is not a dataclass")
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    init_names = frozenset(f.name for f in fields if f.init)
    late = tuple(f.name for f in fields if not f.init)

    def encode(obj: T) -> dict[str, Any]:
        return {field: getattr(obj, field) for field in names}

    def decode(data: Any) -> T:
        obj = cls(**{k: v for k, v in data.items() if k in init_names})
        for field in late:
            object.__setattr__(obj, field, data[field])  # frozen dataclasses too
        return obj

    return Codec(name or f"{cls.__module__}.{cls.__qualname__}", cls, encode, decode)


def pydantic_codec(cls: type[T], name: str | None = None) -> Codec[T]:
    """
    Build a `Codec` for a pydantic v2 model.

    Fields are stored under their Python names and validated back by name,
    whatever their aliases. A model that would not come back equal (a model
    nested under an ``Any`` field comes back a dict) is refused at store
    time with `SerializationError`, never silently changed: type such a field
    with the model class instead.

    Args:
        cls: the model class.
        name: the stored tag; defaults to the class's qualified name.

    Returns:
        A codec to pass to `JsonSerializer(codecs=[...])`.

    Raises:
        ConfigurationError: ``cls`` is not a pydantic v2 model.
    """
    if not hasattr(cls, "model_validate") or not hasattr(cls, "model_fields"):
        raise ConfigurationError(f"{cls!r} is not a pydantic v2 model")
    validate = _by_name_validator(cls)

    def encode(obj: T) -> Any:
        data = obj.model_dump(mode="python", by_alias=False)  # type: ignore[attr-defined]
        if validate(data) != obj:
            raise SerializationError(
                "unfaithful",
                f"a {cls.__qualname__} would not come back equal (a model under an Any"
                " field comes back a dict): type such fields with their model class",
            )
        return data

    return Codec(name or f"{cls.__module__}.{cls.__qualname__}", cls, encode, validate)


def _by_name_validator(cls: type[T]) -> Callable[[Any], T]:
    # Validate a dict keyed by field names, whatever the model's aliases.
    model_validate: Callable[..., T] = cls.model_validate  # type: ignore[attr-defined]
    if "by_name" in inspect.signature(model_validate).parameters:  # pydantic >= 2.11
        return lambda data: model_validate(data, by_alias=False, by_name=True)
    rename: dict[str, str] = {}
    for field_name, info in cls.model_fields.items():  # type: ignore[attr-defined]
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        if alias and alias != field_name:
            rename[field_name] = alias
    if not rename:
        return model_validate
    return lambda data: model_validate({rename.get(k, k): v for k, v in data.items()})


class JsonSerializer:
    """
    The default serializer: versioned, JSON-based, faithful, never pickle.

    Args:
        codecs: extra types (dataclasses, pydantic models...) this serializer handles.
    """

    def __init__(self, codecs: Iterable[Codec[Any]] = ()) -> None:
        self._by_type: dict[type, Codec[Any]] = {}
        self._by_name: dict[str, Codec[Any]] = {}
        for codec in codecs:
            if codec.name in self._by_name or codec.type in self._by_type:
                raise ConfigurationError(f"codec {codec.name!r} registered twice")
            self._by_type[codec.type] = codec
            self._by_name["c:" + codec.name] = codec

    def dumps(self, value: Any) -> bytes:
        """
        Encode ``value`` into an envelope.

        Args:
            value: any supported value.

        Returns:
            The stored bytes.

        Raises:
            SerializationError: a value of an unsupported type was found, or a
                value the encoder cannot write (a lone surrogate, an int past
                Python's digit limit, containers nested deeper than `MAX_DEPTH`).
        """
        tagged: list[bool] = []
        try:
            tree = self._to_tree(value, tagged)
            body = json.dumps(tree, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
            return (_PREFIX_TAGGED if tagged else _PREFIX_PLAIN) + body.encode()
        except SerializationError:
            raise
        except Exception as exc:  # any encode failure is a refusal, never a crash
            # A lone surrogate, an int past the digit limit, nesting past the
            # recursion limit, a codec that raised: the value cannot be written.
            raise SerializationError(
                "unwritable", f"cannot encode a {type(value).__qualname__}: {exc!r}"[:300]
            ) from None

    def loads(self, data: bytes) -> Any:
        """
        Decode an envelope made by `dumps`.

        Args:
            data: the stored bytes.

        Returns:
            The original value.

        Raises:
            SerializationError: the bytes are foreign, truncated or corrupt.
        """
        prefix = data[:3]
        try:
            if prefix == _PREFIX_PLAIN:
                return _parse_plain(data)
            if prefix == _PREFIX_TAGGED:
                return json.loads(data[3:], object_hook=self._from_tagged)
        except SerializationError:
            raise
        except Exception as exc:  # any decode failure is a miss, whatever raised it
            raise SerializationError("bad-envelope", f"cannot decode entry: {exc!r}") from None
        raise SerializationError("foreign-entry", "entry was not written by wa_perfkit")

    # -- encoding ---------------------------------------------------------------

    def _to_tree(self, value: Any, tagged: list[bool], depth: int = 0) -> Any:
        kind = type(value)
        if kind is str or kind is int or kind is float or kind is bool or value is None:
            return value
        depth += 1
        if depth > MAX_DEPTH:
            # Explicit, so the answer never depends on the recursion limit in force.
            raise SerializationError("too-deep", f"nesting deeper than {MAX_DEPTH} levels")
        if kind is list:
            return [self._to_tree(item, tagged, depth) for item in value]
        if kind is dict:
            if all(type(k) is str for k in value) and _TAG not in value:
                return {k: self._to_tree(v, tagged, depth) for k, v in value.items()}
            pairs = [
                [self._to_tree(k, tagged, depth), self._to_tree(v, tagged, depth)]
                for k, v in value.items()
            ]
            return self._tag("map", pairs, tagged)
        encoder = _SCALAR_ENCODERS.get(kind)
        if encoder is not None:
            return self._tag(encoder[0], encoder[1](value), tagged)
        if kind is tuple or kind is set or kind is frozenset:
            items = [self._to_tree(item, tagged, depth) for item in value]
            return self._tag(kind.__name__, items, tagged)
        codec = self._by_type.get(kind)
        if codec is not None:
            tree = self._to_tree(codec.encode(value), tagged, depth)
            return self._tag("c:" + codec.name, tree, tagged)
        if isinstance(value, uuid.UUID):
            # Drivers subclass UUID (asyncpg's pgproto.UUID): it comes back a plain UUID.
            return self._tag("uuid", str(value), tagged)
        raise SerializationError(
            "unsupported-type",
            f"cannot cache a {kind.__module__}.{kind.__qualname__}: return plain data"
            " (for a driver row, dict(row)) or register a Codec for it",
        )

    @staticmethod
    def _tag(tag: str, payload: Any, tagged: list[bool]) -> dict[str, Any]:
        if not tagged:
            tagged.append(True)
        return {_TAG: tag, "v": payload}

    # -- decoding ---------------------------------------------------------------

    def _from_tagged(self, obj: dict[str, Any]) -> Any:
        tag = obj.get(_TAG)
        if tag is None:
            return obj
        payload = obj["v"]
        decoder = _SCALAR_DECODERS.get(tag)
        if decoder is not None:
            return decoder(payload)
        codec = self._by_name.get(tag)
        if codec is not None:
            return codec.decode(payload)
        raise SerializationError("unknown-tag", f"unknown tag {tag!r}")


# The C scanner behind json.loads (set by JSONDecoder.__init__, absent from the stubs),
# called directly on a hit: json.loads adds four Python calls (encoding detection,
# decode, raw_decode, two whitespace regexes) per entry.
_scan: Callable[[str, int], tuple[Any, int]]
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _parse_plain(data: bytes) -> Any:
    # The JSON after the 3-byte prefix, as a whole document. What the one scan does not
    # take whole (surrounding whitespace, extra data, a syntax error) is left to
    # json.loads, so every entry is accepted or refused exactly as json.loads does.
    try:
        text = data.decode("utf-8", "surrogatepass")  # as json.loads decodes UTF-8 bytes
        value, end = _scan(text, 3)
        if end == len(text):
            return value
    except (UnicodeDecodeError, StopIteration):
        pass
    return json.loads(data[3:])


def _encode_datetime(value: dt.datetime) -> Any:
    key = getattr(value.tzinfo, "key", None)
    if isinstance(key, str):
        # A zoneinfo zone: keep the zone itself (and fold), not just today's offset,
        # so the hit carries the same tzinfo and compares equal even in a DST fold.
        return [value.replace(tzinfo=None).isoformat(), key, value.fold]
    return value.isoformat()


def _decode_datetime(payload: Any) -> dt.datetime:
    if isinstance(payload, str):
        return dt.datetime.fromisoformat(payload)
    naive, key, fold = payload
    return dt.datetime.fromisoformat(naive).replace(tzinfo=zoneinfo.ZoneInfo(key), fold=fold)


_SCALAR_ENCODERS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    dt.datetime: ("dt", _encode_datetime),
    dt.date: ("date", dt.date.isoformat),
    dt.time: ("time", dt.time.isoformat),
    dt.timedelta: ("td", lambda v: [v.days, v.seconds, v.microseconds]),
    uuid.UUID: ("uuid", str),
    Decimal: ("dec", str),
    bytes: ("b64", lambda v: base64.b64encode(v).decode("ascii")),
}

_SCALAR_DECODERS: dict[str, Callable[[Any], Any]] = {
    "dt": _decode_datetime,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "td": lambda v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "uuid": uuid.UUID,
    "dec": Decimal,
    "b64": lambda v: base64.b64decode(v, validate=True),
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "map": lambda pairs: {k: v for k, v in pairs},
}
