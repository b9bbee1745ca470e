"""
Keys: every spelling of a call is one key, different calls never share one, and every
process computes the same key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import subprocess
import sys
import uuid
from decimal import Decimal
from typing import Any

import pytest

from wa_perfkit.errors import ConfigurationError, KeyTemplateError
from wa_perfkit.keys import MAX_PLAIN_LENGTH, KeyBuilder, encode_argument


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
import sys
from wa_perfkit.keys import KeyBuilder
def f(*a, **k): pass
f.__module__ = 'm'; f.__qualname__ = 'f'
value = {frozenset({'a', 'b', 'c', 'd'}): 1, (1, frozenset({'x', 'y', 'z'})): 2,
         frozenset({frozenset({'p', 'q'}), 'r'}): {'s', 't', 'u'}}
print(KeyBuilder(f).make((value, {'k', 'l', 'm', 'n'}), {'z': frozenset({'o', 'w'})}))
"""


def test_frozenset_keyed_dicts_identical_across_hash_seeds() -> None:
    """Dicts keyed by frozensets (or tuples holding one) give one key under six hash seeds."""
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
