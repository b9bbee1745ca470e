"""The entry policies of `CachedUser`: what is stored for a user, and what is accepted back."""

from __future__ import annotations

from typing import Any

import pytest

from wa_perfkit.auth.entries import PlainEntries, SignedEntries
from wa_perfkit.auth.fingerprint import Fingerprinter
from wa_perfkit.backends.base import MISS
from wa_perfkit.serialization import JsonSerializer

NOW = 1_800_000_000.0
KEY = "app:1:auth:u:" + "f" * 64
USER = {"id": "user-1", "roles": ["agent"]}


@pytest.fixture(name="reports")
def _reports() -> list[tuple[str, str]]:
    return []


@pytest.fixture(name="signed")
def _signed(reports: list[tuple[str, str]]) -> SignedEntries:
    return _signed_entries(reports)


def _signed_entries(reports: list[tuple[str, str]], key: bytes = b"k" * 32) -> SignedEntries:
    return SignedEntries(
        120.0, Fingerprinter(key), JsonSerializer(), lambda k, r: reports.append((k, r))
    )


def _stored(entries: PlainEntries, exp_cap: float | None = 3600.0) -> tuple[Any, float]:
    stored = entries.to_store(KEY, USER, exp_cap, NOW)
    assert stored is not None
    return stored


class TestPlainEntries:
    def test_ttl_is_capped_by_the_token_exp(self) -> None:
        """An entry lives ``ttl`` seconds, or less when the token expires sooner."""
        entries = PlainEntries(120.0)
        assert _stored(entries)[1] == 120.0
        entry, ttl = _stored(entries, exp_cap=30.0)
        assert ttl == 30.0 and entry["exp"] == NOW + 30.0
        assert _stored(entries, exp_cap=None)[1] == 120.0

    def test_an_expiring_token_is_not_stored(self) -> None:
        """A token at or past its exp gives nothing to store."""
        assert PlainEntries(120.0).to_store(KEY, USER, 0.0, NOW) is None
        assert PlainEntries(120.0).to_store(KEY, USER, -5.0, NOW) is None

    def test_fresh_expired_and_foreign(self) -> None:
        """A fresh entry gives its user (the same object); an expired or foreign one is MISS."""
        entries = PlainEntries(120.0)
        entry, _ = _stored(entries)
        assert entries.from_store(KEY, entry, NOW + 1) is USER
        assert entries.from_store(KEY, entry, NOW + 120.0) is MISS
        for foreign in ("text", [1, 2], {"user": USER}, None, 7):
            assert entries.from_store(KEY, foreign, NOW) is MISS


class TestSignedEntries:
    def test_round_trip_in_another_instance(self, reports: list[tuple[str, str]]) -> None:
        """An entry written by one instance is accepted by another with the same key."""
        entry, _ = _stored(_signed_entries(reports))
        assert "user" not in entry  # the user travels only as authenticated bytes
        assert _signed_entries(reports).from_store(KEY, entry, NOW + 1) == USER
        assert reports == []

    def test_another_server_key_refuses_it(self, reports: list[tuple[str, str]]) -> None:
        """An entry signed under another server key is a miss, reported."""
        entry, _ = _stored(_signed_entries(reports, b"other-key" * 4))
        assert _signed_entries(reports).from_store(KEY, entry, NOW + 1) is MISS
        assert reports == [(KEY, "bad-mac")]

    def test_an_entry_moved_to_another_key_is_refused(
        self, signed: SignedEntries, reports: list[tuple[str, str]]
    ) -> None:
        """A genuine entry copied under another token's key does not check out there."""
        entry, _ = _stored(signed)
        other = KEY[:-1] + "0"
        assert _signed_entries(reports).from_store(other, entry, NOW + 1) is MISS
        assert reports == [(other, "bad-mac")]

    @pytest.mark.parametrize(
        "edit",
        [
            {"u": 'W1p{"id":"user-1","roles":["admin"]}'},
            {"exp": NOW + 10**6},
            {"mac": "0" * 64},
            {"exp": float("nan")},
            {"exp": "soon"},
        ],
    )
    def test_an_edited_entry_is_refused(
        self, reports: list[tuple[str, str]], edit: dict[str, Any]
    ) -> None:
        """Any edit of the user, the end or the MAC makes the entry a miss."""
        entry, _ = _stored(_signed_entries(reports))
        assert _signed_entries(reports).from_store(KEY, {**entry, **edit}, NOW + 1) is MISS
        assert len(reports) == 1

    def test_a_plain_entry_is_refused(self, signed: SignedEntries) -> None:
        """A plain ``{"exp", "user"}`` entry planted on a shared backend is a miss."""
        planted = {"exp": NOW + 10**6, "user": {"id": "x", "roles": ["admin"]}}
        assert signed.from_store(KEY, planted, NOW) is MISS

    def test_a_checked_entry_is_reused_until_its_end(self, signed: SignedEntries) -> None:
        """Later hits of a checked entry return the object decoded the first time."""
        entry, _ = _stored(_signed_entries([]))
        first = signed.from_store(KEY, entry, NOW + 1)
        assert signed.from_store(KEY, dict(entry), NOW + 2) is first
        assert signed.from_store(KEY, entry, NOW + 120.0) is MISS

    def test_an_unencodable_user_is_not_stored(self, signed: SignedEntries) -> None:
        """A user the serializer refuses is served uncached, never stored unsigned."""
        assert signed.to_store(KEY, {"id": object()}, 3600.0, NOW) is None
