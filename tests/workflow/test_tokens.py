"""Tracking tokens cannot be forged, altered or truncated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.tracking.tokens import Claim, TokenSigner

SIGNER = TokenSigner(b"a-key-of-at-least-16-bytes")


def test_round_trip() -> None:
    assert SIGNER.verify(SIGNER.open_token(42)) == Claim("open", 42)
    url = "https://www.contoso.fr/tarifs?utm=mail&x=é"
    assert SIGNER.verify(SIGNER.click_token(7, url)) == Claim("click", 7, url)


def test_other_key_is_refused() -> None:
    other = TokenSigner(b"another-key-of-16-bytes!")
    assert SIGNER.verify(other.open_token(42)) is None
    assert SIGNER.verify(other.click_token(1, "https://x.test")) is None


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        TokenSigner(b"short")


def test_altered_payload_and_swapped_tags_are_refused() -> None:
    good = SIGNER.click_token(7, "https://www.contoso.fr/")
    evil = SIGNER.click_token(7, "https://evil.test/")
    body_good, tag_good = good.split(".")
    body_evil, tag_evil = evil.split(".")
    assert SIGNER.verify(f"{body_evil}.{tag_good}") is None
    assert SIGNER.verify(f"{body_good}.{tag_evil}") is None
    # An open token's tag on a click body (kind confusion) is refused too.
    _, tag_open = SIGNER.open_token(7).split(".")
    assert SIGNER.verify(f"{body_good}.{tag_open}") is None


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "====.====", "x" * 5000,
                                   "b.2.gif", "../../etc/passwd", "%00.%00"])
def test_garbage_is_refused(token: str) -> None:
    assert SIGNER.verify(token) is None


@given(message_id=st.integers(min_value=0, max_value=2**63),
       url=st.text(min_size=1, max_size=200))
def test_every_truncation_and_every_flipped_character_is_refused(message_id: int,
                                                                  url: str) -> None:
    token = SIGNER.click_token(message_id, "https://x.test/" + url)
    assert SIGNER.verify(token) == Claim("click", message_id, "https://x.test/" + url)
    for cut in range(len(token)):
        assert SIGNER.verify(token[:cut]) is None
    for i in range(0, len(token), max(1, len(token) // 25)):
        if token[i] == ".":
            continue
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        assert SIGNER.verify(flipped) is None
