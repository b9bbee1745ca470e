"""
Fingerprinter: keyed token fingerprints, and the server key they need.
"""

from __future__ import annotations

import pytest

from wa_perfkit.auth.fingerprint import MIN_KEY_BYTES, Fingerprinter
from wa_perfkit.errors import ConfigurationError
from wa_perfkit.secret import Secret


class TestServerKey:
    @pytest.mark.parametrize(
        "key", ["", b"", "short", "k" * (MIN_KEY_BYTES - 1), 5, 3.5, "\ud800" * 20]
    )
    def test_weak_or_unusable_keys_fail_at_construction(self, key: object) -> None:
        """A short key could be guessed by a writer of the shared cache, who then forges entries."""
        with pytest.raises(ConfigurationError, match="server_key") as info:
            Fingerprinter(key)  # type: ignore[arg-type]
        assert "\ud800" not in str(info.value)  # never a character of the key

    @pytest.mark.parametrize("key", ["k" * MIN_KEY_BYTES, b"\x00" * 32, Secret("s" * 40)])
    def test_keys_of_the_minimum_length_or_more_work(self, key: str | bytes | Secret) -> None:
        """Every instance with the same key computes the same fingerprint."""
        assert Fingerprinter(key)("token") == Fingerprinter(key)("token")
        assert Fingerprinter(key).shared

    def test_no_key_is_a_random_process_key(self) -> None:
        """None draws a random key: fingerprints differ between two fingerprinters."""
        first, second = Fingerprinter(), Fingerprinter()
        assert not first.shared
        assert first("token") != second("token")
