"""
Tests of `wa_perfkit.whatsapp.signature`.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wa_perfkit.errors import ConfigurationError, InvalidSignature, PayloadTooLarge
from wa_perfkit.whatsapp import sign_body, verify_webhook_signature
from wa_perfkit.whatsapp.receiver import WebhookReceiver

SECRET = "app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def _reason(body: bytes, header: str | None, secret: object = SECRET) -> str:
    with pytest.raises(InvalidSignature) as info:
        verify_webhook_signature(body, header, secret)  # type: ignore[arg-type]
    return info.value.reason


class TestVerifyWebhookSignature:
    def test_valid_signature_passes(self) -> None:
        """A header computed with the app secret over the exact body is accepted."""
        expected = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
        assert sign_body(BODY, SECRET) == expected
        verify_webhook_signature(BODY, expected, SECRET)

    def test_bytes_secret_is_equivalent(self) -> None:
        """A bytes secret verifies the same signatures as its UTF-8 string."""
        verify_webhook_signature(BODY, sign_body(BODY, SECRET), SECRET.encode())

    def test_flipped_bit_in_body_is_mismatch(self) -> None:
        """Changing one bit of the body after signing is refused as a mismatch."""
        header = sign_body(BODY, SECRET)
        tampered = bytes([BODY[0] ^ 0x01]) + BODY[1:]
        assert _reason(tampered, header) == "mismatch"

    def test_wrong_secret_is_mismatch(self) -> None:
        """A signature made with another secret is refused as a mismatch."""
        assert _reason(BODY, sign_body(BODY, "other-secret")) == "mismatch"

    @pytest.mark.parametrize("header", [None, "", "   "])
    def test_missing_header(self, header: str | None) -> None:
        """An absent or blank header is refused as missing."""
        assert _reason(BODY, header) == "missing-header"

    @pytest.mark.parametrize(
        "transform",
        [
            lambda h: h.removeprefix("sha256="),
            lambda h: h.replace("sha256=", "sha1="),
            lambda h: h.replace("sha256=", "SHA256="),
            lambda h: h.replace("sha256=", "sha256:"),
        ],
    )
    def test_header_without_sha256_prefix(self, transform: object) -> None:
        """A header not starting with the exact ``sha256=`` prefix is refused as bad-prefix."""
        header = transform(sign_body(BODY, SECRET))  # type: ignore[operator]
        assert _reason(BODY, header) == "bad-prefix"

    @pytest.mark.parametrize("digits", ["", "ab", "a" * 63, "a" * 65, "a" * 128])
    def test_wrong_length(self, digits: str) -> None:
        """A digest that is not 64 characters long is refused as bad-length."""
        assert _reason(BODY, "sha256=" + digits) == "bad-length"

    @pytest.mark.parametrize("bad", ["g", " ", "é", "-", "\x00"])
    def test_non_hex(self, bad: str) -> None:
        """A 64-character digest holding a non-hex character is refused as not-hex."""
        digits = sign_body(BODY, SECRET).removeprefix("sha256=")
        assert _reason(BODY, "sha256=" + bad + digits[1:]) == "not-hex"

    def test_spaced_hex_is_not_hex(self) -> None:
        """Spaces between hex pairs (which bytes.fromhex would allow) are refused."""
        digits = sign_body(BODY, SECRET).removeprefix("sha256=")
        spaced = digits[:30] + " " + digits[31:]
        assert _reason(BODY, "sha256=" + spaced) == "not-hex"

    def test_uppercase_hex_is_accepted(self) -> None:
        """Hex is case-insensitive: an uppercase digest of the right HMAC passes."""
        digits = sign_body(BODY, SECRET).removeprefix("sha256=")
        verify_webhook_signature(BODY, "sha256=" + digits.upper(), SECRET)

    def test_surrounding_whitespace_is_ignored(self) -> None:
        """Leading/trailing whitespace of the header value is not part of it."""
        verify_webhook_signature(BODY, f"  {sign_body(BODY, SECRET)}\t", SECRET)

    def test_empty_body_with_its_signature_passes(self) -> None:
        """The empty body is hashed like any other: its own signature passes."""
        verify_webhook_signature(b"", sign_body(b"", SECRET), SECRET)

    def test_empty_body_with_another_signature_is_mismatch(self) -> None:
        """The empty body does not pass with the signature of a non-empty body."""
        assert _reason(b"", sign_body(BODY, SECRET)) == "mismatch"

    def test_rotation_accepts_every_listed_secret(self) -> None:
        """During a rotation, a signature made with either secret is accepted."""
        secrets = ["old-secret", "new-secret"]
        for secret in secrets:
            verify_webhook_signature(BODY, sign_body(BODY, secret), secrets)
        assert _reason(BODY, sign_body(BODY, "third"), secrets) == "mismatch"

    @pytest.mark.parametrize("secret", ["", b"", [], ["ok", ""], None, 5, [32], ["\ud800"]])
    def test_empty_secret_is_configuration_error(self, secret: object) -> None:
        """An empty, missing or non-text secret is a configuration error, not a pass.

        ``[32]`` used to become 32 zero bytes: a key anyone could sign with.
        """
        with pytest.raises(ConfigurationError):
            verify_webhook_signature(BODY, sign_body(BODY, SECRET), secret)  # type: ignore[arg-type]


class TestBodySize:
    @pytest.mark.parametrize("limit", [0, -1, True, 2.5, float("nan"), "100"])
    def test_an_unusable_limit_fails_at_construction(self, limit: object) -> None:
        """A NaN limit disabled the check; a str one made every delivery a 500."""
        with pytest.raises(ConfigurationError, match="max_body_bytes"):
            WebhookReceiver(app_secret=SECRET, verify_token="t", max_body_bytes=limit)  # type: ignore[arg-type]

    def test_ten_megabyte_body_is_too_large_by_default(self) -> None:
        """A correctly signed 10 MB body exceeds the default 3 MiB limit: 413, not hashed."""
        body = b"x" * (10 * 1024 * 1024)
        with pytest.raises(PayloadTooLarge) as info:
            verify_webhook_signature(body, sign_body(body, SECRET), SECRET)
        assert info.value.size == len(body)

    def test_ten_megabyte_body_passes_without_limit(self) -> None:
        """With the limit disabled, a signed 10 MB body verifies."""
        body = b"x" * (10 * 1024 * 1024)
        verify_webhook_signature(body, sign_body(body, SECRET), SECRET, max_body_bytes=None)

    def test_limit_checked_before_header(self) -> None:
        """An oversized body is refused as too large even with no header at all."""
        with pytest.raises(PayloadTooLarge):
            verify_webhook_signature(b"xx", None, SECRET, max_body_bytes=1)


@settings(max_examples=300, database=None, deadline=None)
@given(body=st.binary(max_size=256), header=st.one_of(st.none(), st.text(max_size=120)))
def test_fuzzed_headers_only_ever_raise_invalid_signature(body: bytes, header: str | None) -> None:
    """Arbitrary headers either verify or raise InvalidSignature, never anything else."""
    try:
        verify_webhook_signature(body, header, SECRET)
    except InvalidSignature as exc:
        assert exc.reason in {"missing-header", "bad-prefix", "bad-length", "not-hex", "mismatch"}


@settings(max_examples=200, database=None, deadline=None)
@given(digits=st.text(alphabet="0123456789abcdefABCDEF \t", min_size=60, max_size=68))
def test_fuzzed_digests_near_valid_shape(digits: str) -> None:
    """Digests close to the valid shape are refused with a reason, never a crash."""
    with pytest.raises(InvalidSignature):
        verify_webhook_signature(BODY, "sha256=" + digits, SECRET)
