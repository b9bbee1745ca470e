"""
CursorCodec: cursors round-trip with their types, and anything but our own is InvalidCursor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pagination._cursors import KEY, ROW_ID, WHEN
from wa_perfkit.errors import InvalidCursor
from wa_perfkit.pagination import (
    Cursor,
    CursorCodec,
)


class TestCursorCodec:
    @pytest.mark.parametrize(
        ("sort", "ident"),
        [(WHEN, ROW_ID), (17, 42), ("2025-06-01T12:00:00+00:00", "abc"), (WHEN.date(), 7)],
    )
    def test_round_trip_keeps_types(self, codec: CursorCodec, sort: Any, ident: Any) -> None:
        """datetime, date, int, str and UUID come back equal and of the same type."""
        cursor = Cursor("k", "prev", sort, ident)
        decoded = codec.decode(codec.encode(cursor))
        assert decoded == cursor
        assert type(decoded.sort_value) is type(sort)

    def test_tokens_are_url_safe(self, token: str) -> None:
        """No padding, no '+' or '/': a cursor goes into a query string as is."""
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    def test_every_single_bit_flip_is_rejected(self, codec: CursorCodec, token: str) -> None:
        """Flipping any bit of the decoded blob makes the cursor invalid."""
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        for index in range(len(blob)):
            for bit in (0, 3, 7):
                flipped = bytearray(blob)
                flipped[index] ^= 1 << bit
                bad = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
                with pytest.raises(InvalidCursor):
                    codec.decode(bad)

    def test_every_truncation_is_rejected(self, codec: CursorCodec, token: str) -> None:
        """Any prefix of a cursor is invalid."""
        for length in range(len(token)):
            with pytest.raises(InvalidCursor):
                codec.decode(token[:length])

    def test_another_key_is_rejected(self, token: str) -> None:
        """A cursor signed by another key is invalid."""
        with pytest.raises(InvalidCursor, match="signature"):
            CursorCodec("another-key-0123456789abcdef").decode(token)

    @pytest.mark.parametrize(
        "bad",
        ["not base64!", "é" * 10, "abc def", "A", "====", "A" * 1_000_000, "\x00" * 40],
        ids=["punctuation", "non-ascii", "space", "one-char", "padding", "one-megabyte", "nul"],
    )
    def test_garbage_is_rejected(self, codec: CursorCodec, bad: str) -> None:
        """Not base64, too short or 1 MB long: InvalidCursor, nothing else."""
        with pytest.raises(InvalidCursor):
            codec.decode(bad)

    def test_a_one_megabyte_cursor_is_rejected_by_length(self, codec: CursorCodec) -> None:
        """The length cap applies before any decoding."""
        with pytest.raises(InvalidCursor, match="too long"):
            codec.decode("A" * 1_000_000)

    def test_a_signed_but_malformed_payload_is_rejected(self) -> None:
        """Even with a valid MAC (leaked key), a payload we did not write is InvalidCursor."""
        for payload in [b"[]", b'{"k":1}', b'{"k":"x","d":"n","s":["t","nope"],"i":["i",1]}']:
            mac = hmac.new(KEY.encode(), b"\x01" + payload, hashlib.sha256).digest()
            token = base64.urlsafe_b64encode(b"\x01" + mac + payload).rstrip(b"=").decode()
            with pytest.raises(InvalidCursor, match="malformed"):
                CursorCodec(KEY).decode(token)

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(max_size=300))
    def test_arbitrary_text_never_crashes(self, text: str) -> None:
        """Any string either decodes (only our own cursors) or raises InvalidCursor."""
        with pytest.raises(InvalidCursor):
            CursorCodec(KEY).decode(text)

    def test_short_keys_are_refused_and_the_key_is_masked(self) -> None:
        """Keys under 16 bytes are refused; the codec's repr hides the key."""
        with pytest.raises(ValueError):
            CursorCodec("short")
        assert KEY not in repr(CursorCodec(KEY))
