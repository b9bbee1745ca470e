"""
Keys: every spelling of a call is one key, different calls never share one, and every
process computes the same key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import json
import subprocess
import sys
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wa_perfkit.backends.memory import MemoryBackend
from wa_perfkit.cache import Cache
from wa_perfkit.errors import ConfigurationError, KeyTemplateError
from wa_perfkit.keys import MAX_PLAIN_LENGTH, KeyBuilder, encode_argument
from wa_perfkit.repository import ttl_repository


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Level(enum.IntEnum):
    ONE = 1


@dataclasses.dataclass(frozen=True)
class Filter:
    status: str
    limit: int = 10


@dataclasses.dataclass(frozen=True)
class OtherFilter:
    status: str
    limit: int = 10


def keys_of(func: Any, *spellings: tuple[tuple[Any, ...], dict[str, Any]]) -> set[str]:
    builder = KeyBuilder(func)
    return {builder.make(args, kwargs) for args, kwargs in spellings}


class TestSpellings:
    def test_one_string_call_applies_defaults(self) -> None:
        """page("a"), page("a", 50) and page(account_id="a") are one key."""

        def page(account_id: str, limit: int = 50) -> None: ...

        spellings = [
            (("a",), {}),
            (("a", 50), {}),
            ((), {"account_id": "a"}),
            (("a",), {"limit": 50}),
            ((), {"account_id": "a", "limit": 50}),
        ]
        assert len(keys_of(page, *spellings)) == 1
        assert len(keys_of(page, (("a",), {}), (("a", 51), {}))) == 2

    @pytest.mark.parametrize("length", [1, 150, 155, 156, 157, 158, 159, 160, 161, 400])
    def test_any_length_is_one_key_positionally_and_by_keyword(self, length: int) -> None:
        """A single str of any length (the 156-159 boundary too) keys identically both ways."""

        def get(conversation_id: str) -> None: ...

        text = "c" * length
        assert len(keys_of(get, ((text,), {}), ((), {"conversation_id": text}))) == 1

    def test_long_parts_are_hashed(self) -> None:
        """Keys stay short whatever the argument's length."""

        def get(conversation_id: str) -> None: ...

        key = KeyBuilder(get).make(("c" * 10_000,), {})
        assert len(key) < MAX_PLAIN_LENGTH + 100

    def test_remembered_one_string_keys_match_fresh_ones(self) -> None:
        """Keys of one-string calls are as built afresh, past the remembered bound and back."""

        def get(conversation_id: str) -> None: ...

        builder, fresh = KeyBuilder(get), KeyBuilder(get)
        texts = [f"c{i}" for i in range(600)] + ["é", "c" * 400, "c0", "c599"]
        for text in texts + texts:
            assert builder.make((text,), {}) == fresh.make((), {"conversation_id": text})

        class Id(str):
            pass

        with pytest.raises(ConfigurationError):  # equal to a remembered "c0", never its key
            builder.make((Id("c0"),), {})
        assert builder.make((1,), {}) != builder.make((True,), {}) != builder.make(("1",), {})

    def test_positional_only_default_with_kwargs(self) -> None:
        """def f(a=1, /, **kw): f(a=2) puts a=2 in kw; a keeps its default."""

        def f(a: int = 1, /, **kw: Any) -> None: ...

        builder = KeyBuilder(f)
        assert builder.make((), {"a": 2}) == builder.make((1,), {"a": 2})
        assert builder.make((), {"a": 2}) != builder.make((2,), {})


class TestTypes:
    def test_types_never_collide(self) -> None:
        """Equal-looking values of different types are different keys."""
        values: list[Any] = [
            1,
            True,
            1.0,
            "1",
            None,
            "None",
            [1],
            (1,),
            {1},
            frozenset({1}),
            {1: 1},
            b"1",
            Decimal("1"),
            Level.ONE,
            Color.ONE,
            Color.RED,
            "red",
            "T",
            "N",
            "i1",
            Filter("a"),
            OtherFilter("a"),
            ("a", 10),
            {"status": "a", "limit": 10},
        ]
        encodings = [encode_argument(v) for v in values]
        assert len(set(encodings)) == len(values)

    def test_set_and_frozenset_differ(self) -> None:
        assert encode_argument({1, 2}) != encode_argument(frozenset({1, 2}))

    def test_enums_and_dataclasses_are_type_plus_value(self) -> None:
        """Enum members and dataclass instances key by class name and value / fields."""
        assert encode_argument(Color.RED) == encode_argument(Color("red"))
        assert encode_argument(Filter("a")) == encode_argument(Filter("a", 10))
        assert encode_argument(Filter("a")) != encode_argument(Filter("a", 11))
        assert "tests.test_keys.Color" in encode_argument(Color.RED)

    @pytest.mark.skipif(sys.version_info < (3, 11), reason="enum.StrEnum is 3.11+")
    def test_str_enum(self) -> None:
        kind = enum.StrEnum("Kind", {"A": "a"})  # type: ignore[attr-defined, unused-ignore]
        assert encode_argument(kind.A) != encode_argument("a")
        assert encode_argument(kind.A) == encode_argument(kind("a"))

    def test_lone_surrogate_never_raises(self) -> None:
        """json.loads('"\\ud800"') makes a lone surrogate: its key is plain UTF-8."""

        def get(text: str) -> None: ...

        lone = json.loads('"\\ud800"')
        builder = KeyBuilder(get)
        for value in (lone, lone * 200, [lone], {lone: lone}):
            key = builder.make((value,), {})
            key.encode()  # a backend can write it
        assert builder.make((lone,), {}) != builder.make(("\\ud800",), {})
        assert builder.make((lone,), {}) == builder.make((), {"text": lone})

    def test_huge_int_never_raises(self) -> None:
        big = 10**5000
        assert encode_argument(big) != encode_argument(big + 1)

    def test_unkeyable_message_names_the_fix(self) -> None:
        with pytest.raises(ConfigurationError, match="key="):
            encode_argument(object())

        @dataclasses.dataclass(eq=False)
        class Identity:
            x: int

        with pytest.raises(ConfigurationError, match="key="):
            encode_argument(Identity(1))


class TestTemplates:
    def test_fields_are_typed_and_unambiguous(self) -> None:
        """("acme:eu", "5511") vs ("acme", "eu:5511"), 1 vs "1", None vs "None"."""

        def get(account_id: Any, phone: Any) -> None: ...

        builder = KeyBuilder(get, template="{account_id}:{phone}")
        pairs = [
            ("acme:eu", "5511"),
            ("acme", "eu:5511"),
            (1, "x"),
            ("1", "x"),
            (None, "x"),
            ("None", "x"),
        ]
        keys = {builder.make(pair, {}) for pair in pairs}
        assert len(keys) == len(pairs)
        assert builder.make(("a", "b"), {}) == builder.make((), {"phone": "b", "account_id": "a"})

    def test_attribute_fields(self) -> None:
        def get(conn: object, f: Filter) -> None: ...

        builder = KeyBuilder(get, template="{f.status}")
        assert builder.make((object(), Filter("a")), {}) == builder.make(
            (object(), Filter("a", 99)), {}
        )

    @pytest.mark.parametrize("template", ["{nope}", "{}", "{0}", "{x!r}", "{x:>5}", "{x"])
    def test_errors_at_construction(self, template: str) -> None:
        def get(x: str) -> None: ...

        with pytest.raises(KeyTemplateError):
            KeyBuilder(get, template=template)

    def test_first_parameter_of_a_method(self) -> None:
        """A bound call never sees self/cls: a template naming it is refused up front."""

        def get(self: object, x: str) -> None: ...

        with pytest.raises(KeyTemplateError, match="self"):
            KeyBuilder(get, template="{self.tenant}:{x}", skip_first=True)
        KeyBuilder(get, template="{self}", skip_first=False)  # a plain function may


SUBPROCESS_CODE = """
import dataclasses, enum
from wa_perfkit.keys import KeyBuilder
class Status(enum.Enum):
    OPEN = frozenset({'o', 'p', 'e', 'n'})
@dataclasses.dataclass(frozen=True)
class Filter:
    tags: frozenset
def f(*a, **k): pass
f.__module__ = 'm'; f.__qualname__ = 'f'
value = {frozenset({'a', 'b', 'c', 'd'}): 1, (1, frozenset({'x', 'y', 'z'})): 2,
         frozenset({frozenset({'p', 'q'}), 'r'}): {'s', 't', 'u'}}
args = (value, {'k', 'l', 'm', 'n'}, Status.OPEN, Filter(frozenset({'g', 'h', 'i'})))
print(KeyBuilder(f).make(args, {'z': frozenset({'o', 'w'})}))
"""


def test_frozenset_keyed_dicts_identical_across_hash_seeds() -> None:
    """Dicts keyed by frozensets (or tuples holding one), enums and frozen dataclasses holding
    them: one key under six hash seeds."""
    outputs = {
        subprocess.run(
            [sys.executable, "-c", SUBPROCESS_CODE],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("0", "1", "2", "3", "4", "5")
    }
    assert len(outputs) == 1


def test_datetimes_keep_zone_and_type() -> None:
    utc = dt.timezone.utc
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=utc)
    encodings = {
        encode_argument(moment),
        encode_argument(moment.replace(tzinfo=None)),
        encode_argument(moment.date()),
        encode_argument(moment.time()),
        encode_argument(dt.timedelta(days=1)),
        encode_argument(uuid.UUID(int=1)),
    }
    assert len(encodings) == 6


def test_positional_only_name_in_kwargs_binds_like_a_call() -> None:
    """Signature.bind refuses f(a=2) for def f(a=1, /, **kw) before 3.13; keys do not."""

    def f(a: int = 1, /, **kw: Any) -> None: ...

    builder = KeyBuilder(f)
    assert builder.bind((), {"a": 2}) == {"a": 1, "kw": {"a": 2}}
    assert builder.bind((3,), {"a": 2, "b": 4}) == {"a": 3, "kw": {"a": 2, "b": 4}}


# -- properties over generated values, signatures and call spellings -------------------

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
Call = tuple[tuple[Any, ...], dict[str, Any]]

# Any text (lone surrogates included), and text from an alphabet made to look like keys.
_texts = st.text(st.characters(exclude_categories=()), max_size=12) | st.text(
    st.sampled_from(["a", ":", "|", "s", "1", "i", "N", "\ud800", "\udfff", "é"]), max_size=6
)
_zones = st.sampled_from(
    [None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=2)), dt.timezone(-dt.timedelta(hours=5))]
)
_hashable_scalars = st.one_of(
    _texts,
    st.integers(),
    st.sampled_from([4400, -4500]).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1)),
    st.floats(),
    st.none(),
    st.booleans(),
    st.uuids(),
    st.datetimes(timezones=_zones),
    st.dates(),
    st.decimals(allow_nan=False),
    st.binary(max_size=8),
    st.sampled_from([*Color, *Level]),
    st.builds(Filter, _texts, st.integers()),
)
_hashables = st.recursive(
    _hashable_scalars,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
_values = st.recursive(
    _hashable_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.sets(_hashables, max_size=3),
        st.frozensets(_hashables, max_size=3),
        st.dictionaries(_hashables, inner, max_size=3),
    ),
    max_leaves=8,
)


# Arguments of generated calls: every scalar, and shallow containers (cheaper to draw).
_arguments = st.one_of(
    _hashable_scalars,
    st.lists(_hashable_scalars, max_size=2),
    st.frozensets(_hashable_scalars, max_size=2),
    st.dictionaries(_hashables, _hashable_scalars, max_size=2),
)


def canon(value: Any) -> Any:
    """
    The reference model of "the same value" for keys: type plus contents, order-free for
    sets and dicts. Written independently of wa_perfkit.keys.
    """
    kind = type(value)
    if kind is float:
        return ("float", repr(value))
    if kind in (list, tuple):
        return (kind.__name__, tuple(canon(v) for v in value))
    if kind in (set, frozenset):
        return (kind.__name__, frozenset(canon(v) for v in value))
    if kind is dict:
        return ("dict", frozenset((canon(k), canon(v)) for k, v in value.items()))
    if isinstance(value, enum.Enum):
        return ("enum", kind.__qualname__, canon(value.value))
    if dataclasses.is_dataclass(value):
        fields = tuple((f.name, canon(getattr(value, f.name))) for f in dataclasses.fields(value))
        return ("dataclass", kind.__qualname__, fields)
    if kind is dt.datetime:
        return ("datetime", value.isoformat(), value.fold)
    if kind is Decimal:
        return ("decimal", str(value))
    return (kind.__name__, value)


def respell(value: Any) -> Any:
    """The same value built another way: dicts in reverse insertion order, sets rebuilt."""
    kind = type(value)
    if kind in (list, tuple):
        return kind(respell(v) for v in value)
    if kind in (set, frozenset):
        return kind(respell(v) for v in reversed(list(value)))
    if kind is dict:
        return {respell(k): respell(v) for k, v in reversed(list(value.items()))}
    return value


@PROPERTY_SETTINGS
@given(_values, _values)
def test_values_share_a_key_exactly_when_they_are_the_same(a: Any, b: Any) -> None:
    """Two values get one encoding iff they are of the same types with the same contents."""
    encoded = encode_argument(a)
    encoded.encode()  # always writable by a backend (lone surrogates included)
    assert encode_argument(respell(a)) == encoded
    assert (encoded == encode_argument(b)) == (canon(a) == canon(b))


@dataclasses.dataclass
class _Signature:
    """A generated function (it returns its bound arguments) and its parameters."""

    func: Any
    positional: list[inspect.Parameter]
    keyword_only: list[inspect.Parameter]
    var_positional: bool
    var_keyword: bool


@st.composite
def _signatures(draw: st.DrawFn) -> _Signature:
    n_posonly, n_either, n_kwonly = (
        draw(st.integers(0, 2)),
        draw(st.integers(0, 3)),
        draw(st.integers(0, 2)),
    )
    var_positional, var_keyword = draw(st.booleans()), draw(st.booleans())
    first_default = draw(st.integers(0, n_posonly + n_either))
    namespace: dict[str, Any] = {}
    parts: list[str] = []
    for i in range(n_posonly + n_either):
        if i >= first_default:
            namespace[f"D_p{i}"] = draw(_arguments)
        parts.append(f"p{i}=D_p{i}" if i >= first_default else f"p{i}")
        if i == n_posonly - 1:
            parts.append("/")
    if var_positional or n_kwonly:
        parts.append("*args" if var_positional else "*")
    for i in range(n_kwonly):
        if draw(st.booleans()):
            namespace[f"D_k{i}"] = draw(_arguments)
        parts.append(f"k{i}=D_k{i}" if f"D_k{i}" in namespace else f"k{i}")
    if var_keyword:
        parts.append("**kw")
    exec(f"def f({', '.join(parts)}):\n    return locals()\n", namespace)  # noqa: S102
    func = namespace["f"]
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p for p in params if p.kind is p.KEYWORD_ONLY]
    return _Signature(func, positional, keyword_only, var_positional, var_keyword)


def _spell(draw: st.DrawFn, sig: _Signature, bound: dict[str, Any]) -> Call:
    """
    One spelling of the call Python binds to ``bound``: a random cut between positional
    and keyword arguments, defaults omitted or passed, keywords in random order.
    """
    extra_args, extra_kwargs = list(bound.get("args", ())), dict(bound.get("kw", {}))
    named = (*sig.positional, *sig.keyword_only)
    cut = len(sig.positional) if extra_args else draw(st.integers(0, len(sig.positional)))
    if any(p.kind is p.POSITIONAL_ONLY and bound[p.name] is not p.default for p in named[cut:]):
        cut = len(sig.positional)  # a positional-only value after the cut: pass it positionally
    omitted = {
        p.name
        for p in named[cut:]
        if p.default is not p.empty and bound[p.name] is p.default and draw(st.booleans())
    }
    args = [bound[p.name] for p in sig.positional[:cut]]
    kwargs = {p.name: bound[p.name] for p in named[cut:] if p.name not in omitted}
    kwargs = {k: v for k, v in kwargs.items() if not _positional_only(sig, k)}
    kwargs.update(extra_kwargs)
    order = draw(st.permutations(list(kwargs)))
    return (*args, *extra_args), {name: kwargs[name] for name in order}


def _positional_only(sig: _Signature, name: str) -> bool:
    return any(p.name == name and p.kind is p.POSITIONAL_ONLY for p in sig.positional)


@st.composite
def _logical_call(draw: st.DrawFn, sig: _Signature) -> dict[str, Any]:
    """A random logical call, as the bound arguments Python would give the function."""
    bound: dict[str, Any] = {}
    for p in (*sig.positional, *sig.keyword_only):
        use_default = p.default is not p.empty and draw(st.booleans())
        bound[p.name] = p.default if use_default else draw(_arguments)
    if sig.var_positional:
        bound["args"] = tuple(draw(st.lists(_arguments, max_size=2)))
    if sig.var_keyword:
        # Extra keywords, the names of positional-only parameters included (f(a=2)).
        names = [p.name for p in sig.positional if p.kind is p.POSITIONAL_ONLY] + ["x0", "x1"]
        bound["kw"] = {n: draw(_arguments) for n in names if draw(st.booleans())}
    return bound


@st.composite
def _cases(draw: st.DrawFn) -> tuple[_Signature, list[Call]]:
    sig = draw(_signatures())
    calls: list[Call] = []
    for _ in range(2):
        bound = draw(_logical_call(sig))
        calls.extend(_spell(draw, sig, bound) for _ in range(3))
    return sig, calls


@PROPERTY_SETTINGS
@given(_cases())
def test_spellings_of_one_call_share_a_key_and_different_calls_never(
    case: tuple[_Signature, list[Call]],
) -> None:
    """
    Over generated signatures (positional-only, keyword-only, defaults, *args, **kwargs)
    and generated spellings: two calls share a key exactly when Python binds them to the
    same values (the function itself says how it binds them).
    """
    sig, calls = case
    builder = KeyBuilder(sig.func)
    seen: list[tuple[str, Any]] = []
    for args, kwargs in calls:
        bound = canon(sig.func(*args, **kwargs))
        key = builder.make(args, kwargs)
        key.encode()
        for other_key, other_bound in seen:
            assert (key == other_key) == (bound == other_bound), (args, kwargs)
        seen.append((key, bound))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_decorated_spellings_hit_and_invalidate_one_entry(
    case: tuple[_Signature, list[Call]],
) -> None:
    """Through ttl_repository: any spelling hits what another cached, and invalidates it."""
    sig, calls = case
    loads: list[Any] = []

    def load(*args: Any, **kwargs: Any) -> Any:
        loads.append(sig.func(*args, **kwargs))
        return len(loads)  # a value every backend stores

    load.__signature__ = inspect.signature(sig.func)  # type: ignore[attr-defined]
    cached = ttl_repository(ttl=60, cache=Cache(MemoryBackend(), namespace="p"))(load)
    first, *respelled = calls[:3]  # three spellings of one logical call
    cached(*first[0], **first[1])
    for args, kwargs in respelled:
        cached(*args, **kwargs)
    assert len(loads) == 1
    assert cached.invalidate(*respelled[-1][0], **respelled[-1][1]) is True
    assert cached.invalidate(*first[0], **first[1]) is False
