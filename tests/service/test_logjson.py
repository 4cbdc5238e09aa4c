"""Structured logs: one JSON object per line, secrets and tokens masked whoever logs them."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given
from hypothesis import strategies as st

from syncd.service.logjson import MASK, JsonFormatter, fields, redact

token_chars = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                      min_size=12, max_size=60)


@given(token_chars, token_chars, token_chars)
def test_jwts_and_bearer_tokens_never_survive(a: str, b: str, c: str) -> None:
    jwt = f"eyJ{a}.{b}.{c}"
    for text in (f"Authorization: Bearer {a}{b}", f"token {jwt} expired",
                 f"POST client_secret={a}&scope=x", f'{{"access_token": "{b}"}}'):
        out = redact(text)
        assert a + b not in out and jwt not in out and f"={a}" not in out
        assert MASK in out


def test_formatter_writes_one_json_object_with_fields_and_masks_secret_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("syncd.test.logjson")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("poll failed for %s", "alice@contoso.fr",
                    extra=fields(stream="alice@contoso.fr/mail/inbox", items=3,
                                 client_secret="s3cr3t-value", body="Bonjour Jeanne",
                                 detail="401 with Bearer abcdefghijklmnop"))
        try:
            raise RuntimeError("refresh_token=rt-123456789 rejected")
        except RuntimeError:
            log.exception("boom")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["msg"] == "poll failed for alice@contoso.fr"
    assert first["items"] == 3 and first["level"] == "warning"
    assert first["client_secret"] == MASK and first["body"] == MASK
    assert "abcdefghijklmnop" not in first["detail"]
    assert second["error"] == "RuntimeError" and "rt-123456789" not in second["exc"]
