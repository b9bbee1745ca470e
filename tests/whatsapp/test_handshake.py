"""
Tests of `wa_perfkit.whatsapp.handshake`.
"""

from __future__ import annotations

import pytest

from wa_perfkit.errors import ConfigurationError, HandshakeRefused
from wa_perfkit.whatsapp import verify_handshake

TOKEN = "verify-me"


def _params(**overrides: str | None) -> dict[str, str]:
    params = {"hub.mode": "subscribe", "hub.verify_token": TOKEN, "hub.challenge": "1158201444"}
    params.update(overrides)  # type: ignore[arg-type]
    return {k: v for k, v in params.items() if v is not None}


class TestVerifyHandshake:
    def test_valid_request_returns_challenge(self) -> None:
        """The right mode and token return the challenge to echo."""
        assert verify_handshake(_params(), TOKEN) == "1158201444"

    def test_bytes_token(self) -> None:
        """A bytes verify token is compared like its UTF-8 string."""
        assert verify_handshake(_params(), TOKEN.encode()) == "1158201444"

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"hub.mode": None}, "bad-mode"),
            ({"hub.mode": "unsubscribe"}, "bad-mode"),
            ({"hub.verify_token": None}, "missing-token"),
            ({"hub.verify_token": ""}, "missing-token"),
            ({"hub.verify_token": "verify-mE"}, "token-mismatch"),
            ({"hub.verify_token": "verify-me-too"}, "token-mismatch"),
            ({"hub.verify_token": "vérify-me"}, "token-mismatch"),
            ({"hub.challenge": None}, "bad-challenge"),
            ({"hub.challenge": ""}, "bad-challenge"),
            ({"hub.challenge": "<script>alert(1)</script>"}, "bad-challenge"),
            ({"hub.challenge": "1" * 257}, "bad-challenge"),
        ],
    )
    def test_refusals_have_reasons(self, overrides: dict[str, str | None], reason: str) -> None:
        """Each wrong or missing parameter is refused with its own reason."""
        with pytest.raises(HandshakeRefused) as info:
            verify_handshake(_params(**overrides), TOKEN)
        assert info.value.reason == reason

    def test_token_never_in_error(self) -> None:
        """The refusal message never repeats the submitted or expected token."""
        with pytest.raises(HandshakeRefused) as info:
            verify_handshake(_params(**{"hub.verify_token": "guess"}), TOKEN)
        assert "guess" not in str(info.value)
        assert TOKEN not in str(info.value)

    def test_empty_expected_token_is_configuration_error(self) -> None:
        """An empty configured token would accept nothing safely: refuse the configuration."""
        with pytest.raises(ConfigurationError):
            verify_handshake(_params(), "")
