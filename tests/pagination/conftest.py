"""
Fixtures of the pagination tests: a cursor codec and a next-page cursor it signed.
"""

from __future__ import annotations

import pytest

from tests.pagination._cursors import KEY, ROW_ID, WHEN
from wa_perfkit.pagination import CONVERSATIONS, Cursor, CursorCodec


@pytest.fixture(name="codec")
def codec_fixture() -> CursorCodec:
    return CursorCodec(KEY)


@pytest.fixture(name="token")
def token_fixture(codec: CursorCodec) -> str:
    return codec.encode(Cursor(CONVERSATIONS.name, "next", WHEN, ROW_ID))
