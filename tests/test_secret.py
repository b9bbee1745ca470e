"""
Secret: the value never shows in a repr or a str; empty or non-string values are refused.
"""

from __future__ import annotations

import pytest

from wa_perfkit.secret import Secret


class TestSecret:
    def test_repr_and_str_are_masked(self) -> None:
        """A Secret never shows its value."""
        secret = Secret("hunter2-hunter2")
        assert repr(secret) == str(secret) == f"{secret}" == "Secret('**********')"
        assert secret.get_secret_value() == b"hunter2-hunter2"

    def test_bytes_and_str_give_the_same_key(self) -> None:
        """Construction from str encodes UTF-8."""
        assert Secret("clé").get_secret_value() == "clé".encode()

    def test_empty_and_wrong_types_are_refused(self) -> None:
        """Empty secrets and non-string values raise."""
        with pytest.raises(ValueError):
            Secret("")
        with pytest.raises(TypeError):
            Secret(123)  # type: ignore[arg-type]

    def test_text_that_is_not_utf8_is_refused_without_quoting_it(self) -> None:
        """A lone surrogate cannot be encoded; the message never quotes the secret."""
        with pytest.raises(ValueError, match="UTF-8") as info:
            Secret("hunter2\ud800hunter2")
        assert "hunter2" not in str(info.value) and "\ud800" not in str(info.value)
