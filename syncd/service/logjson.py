"""Structured logs: one JSON object per line on stderr (journald keeps each line as one entry).

Built on the standard library's logging (every library we use already logs through it) with
orjson for the encoding; a formatter of thirty lines does not justify another dependency.

What is never logged: message bodies and subjects (we log counts, stream keys and addresses
only), secrets and tokens. As a second line of defence `redact` masks anything shaped like a
bearer token, a JWT, a client secret or a password in every message and field, whoever logged it
(msal, urllib3 and SQLAlchemy messages included).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

# Fields passed as `extra={"fields": {...}}` are merged into the JSON object.
FIELDS = "fields"

_PATTERNS = [
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(
        r"(?i)\b(client_secret|password|passwd|secret|access_token|refresh_token|id_token|"
        r"client_assertion|code|token|authorization|sig|signature|\$skiptoken|\$deltatoken)"
        r"([\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"
    ),
]
_SECRET_KEYS = re.compile(r"(?i)secret|password|token|authorization|credential|body|content")
MASK = "[redacted]"


def redact(text: str) -> str:
    """Mask bearer tokens, JWTs and ``key=value`` secrets in free text."""
    text = _PATTERNS[0].sub(r"\1 " + MASK, text)
    text = _PATTERNS[1].sub(MASK, text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def _clean(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...fields, "exc"}``, one line, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in data:
                    data[key] = _clean(str(key), value)
        if record.exc_info and record.exc_info[0] is not None:
            data["error"] = record.exc_info[0].__name__
            data["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(data).decode()


class TextFormatter(logging.Formatter):
    """Human lines for a terminal, with the same redaction and the fields appended."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict) and fields:
            line += " " + " ".join(f"{k}={_clean(str(k), v)}" for k, v in fields.items())
        return line


def setup_logging(fmt: str, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route all logging to `stream` (stderr) as JSON or text. ``auto``: JSON unless stderr is
    a terminal (under systemd it is the journal)."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter at INFO would log URLs (with paging tokens) per request.
    for noisy in ("urllib3", "msal", "O365", "requests_oauthlib", "exchangelib", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fields(**values: Any) -> dict[str, Any]:
    """``log.info("...", extra=fields(mailbox=..., items=...))``."""
    return {FIELDS: values}
