"""HMAC-signed tracking tokens: they cannot be guessed, forged or altered.

A token is ``base64url(payload) "." base64url(tag)`` where the payload names what was sent
(``o.<message id>`` for the pixel, ``c.<message id>.<url>`` for a link) and the tag is the first
16 bytes of HMAC-SHA256 over a version label and the payload (128 bits: truncation as in
RFC 2104 section 5 keeps forgery out of reach). The standard library's hmac is the real
implementation; a JWT library would add header parsing and algorithm choice we do not want.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

_LABEL = b"syncd-track-v1\x00"
_TAG_BYTES = 16
MAX_TOKEN_CHARS = 4096  # a link token carries its URL; browsers stop near 8 KB anyway


@dataclass(frozen=True, slots=True)
class Claim:
    kind: Literal["open", "click"]
    message_id: int
    url: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Strict decoding: any character outside the URL-safe alphabet, or a non-canonical
    encoding (which would let two strings carry one payload), is refused."""
    if not text or any(c not in _ALPHABET for c in text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64(data) == text else None


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class TokenSigner:
    """Signs and checks tokens with one key (from the `[tracking] key` secret reference)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the tracking key must be at least 16 bytes")
        self._key = key

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _LABEL + payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def _token(self, payload: bytes) -> str:
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def open_token(self, message_id: int) -> str:
        return self._token(f"o.{message_id}".encode())

    def click_token(self, message_id: int, url: str) -> str:
        return self._token(f"c.{message_id}.{url}".encode())

    def verify(self, token: str) -> Claim | None:
        """The claim of a genuine token, else None (forged, truncated, altered, malformed)."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        body, _, tag_text = token.partition(".")
        payload, tag = _unb64(body), _unb64(tag_text)
        if payload is None or tag is None or len(tag) != _TAG_BYTES:
            return None
        if not hmac.compare_digest(tag, self._tag(payload)):
            return None
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return None
        kind, _, rest = text.partition(".")
        ident, _, url = rest.partition(".")
        if not ident.isdigit():
            return None
        if kind == "o" and not url:
            return Claim("open", int(ident))
        if kind == "c" and url:
            return Claim("click", int(ident), url)
        return None
