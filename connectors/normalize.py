"""Normalisation shared by every connector: addresses, message ids, dates, subjects.

Keys produced here are natural keys across mailboxes and connectors (DESIGN.md, contract 3), so
any change to their form needs a data migration. Every function here takes hostile input (raw
header values from 25 years of mailers) and must never raise on it: bad input becomes ``None``,
``""`` or ``[]`` and the caller records a rejected item (contract 5).

Decisions worth knowing (the tests pin each of them):

* Address keys are the *whole* address lower-cased (local part included: no real mail system our
  users talk to has case-sensitive mailboxes, and treating ``Jane@X`` and ``jane@x`` as two
  people would split the graph). Domains are Unicode NFC lower-case, IDNA A-labels decoded, so
  ``xn--caf-dma.fr`` and ``café.fr`` are one key.
* The local part is validated loosely on purpose: the Enron corpus (and real Exchange exports)
  carries ``k..allen@enron.com`` and ``.ward@enron.com``; those are real recipients.
* Exchange legacy DNs, in every wrapping we have seen (bare, ``EX:``, ``<...>``, Enron's
  ``/o=.../cn=x@enron.com``, ``IMCEAEX-...@domain``), become ``x500:/o=...`` in lower case, so the
  resolver can later map them to SMTP addresses.
* Dates are aware UTC; a missing zone means UTC; years outside 1970..2100 are rejected.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import inspect
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses, parsedate_to_datetime

__all__ = [
    "AUTOMATED_LOCAL_PARTS",
    "decode_header_text",
    "is_automated_address",
    "normalize_address",
    "normalize_message_id",
    "parse_address_list",
    "parse_date",
    "thread_subject",
]

# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

# Lone surrogates reach us from the stdlib's compat32 policy, which smuggles raw 8-bit header
# bytes through as U+DC80..U+DCFF ("surrogateescape"). They cannot be stored (UTF-8 encoders
# refuse them), so every public function turns them back into text.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# C0/C1 controls (other than whitespace, which is collapsed anyway) become spaces: PostgreSQL
# text refuses NUL, and a stray \x1b in a CRM name field helps nobody.
_CONTROL_TABLE = {c: " " for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode bytes of a declared (possibly wrong, possibly unknown) charset; never raises.

    Mail lies about charsets: "iso-8859-1" text is usually windows-1252 (curly quotes, the
    French "œ" and "€" live in 0x80-0x9F), "utf-8" labels sit on Latin-1 bytes, and labels like
    "unknown-8bit" name nothing. Try the label, then UTF-8, then windows-1252, and only then
    accept replacement characters.
    """
    candidates: list[str] = []
    label = (charset or "").strip().lower().split("*", 1)[0]  # RFC 2231 language: utf-8*fr
    if label:
        candidates.append(_CHARSET_ALIASES.get(label, label))
    candidates += ["utf-8", "cp1252"]
    for codec in candidates:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    try:
        return data.decode(candidates[0], errors="replace")
    except (LookupError, ValueError):
        return data.decode("utf-8", errors="replace")


_CHARSET_ALIASES = {
    # Latin-1 labels almost always mean windows-1252 (the WHATWG rule).
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "ascii",
    # Supersets that decode everything the narrower label can.
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",  # Outlook's name for Korean
    "euc-kr": "cp949",
}


def _repair_surrogates(value: str) -> str:
    """Turn surrogate-escaped raw bytes back into text (UTF-8 first, then windows-1252)."""
    if value.isascii() or not _SURROGATE_RE.search(value):
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Surrogates outside the escape range (e.g. from broken JSON) carry no byte: drop them.
        raw = value.encode("utf-8", "replace")
    return _decode_bytes(raw, "utf-8")


def _clean_text(value: str) -> str:
    """Controls to spaces, then collapse every whitespace run (this also unfolds CRLF + WSP)."""
    if not value.isascii() or not value.isprintable():
        value = value.translate(_CONTROL_TABLE)
    return " ".join(value.split())


# --------------------------------------------------------------------------------------------
# RFC 2047 encoded words
# --------------------------------------------------------------------------------------------

# Deliberately looser than RFC 2047: sloppy mailers put spaces inside encoded text, so the
# payload is anything up to the next "?=" (non-greedy, no "?" inside).
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")


def _encoded_word_payload(encoding: str, text: str) -> bytes | None:
    """Bytes of one encoded word, or None when the payload is broken (then kept literally)."""
    try:
        if encoding in "qQ":
            # header=True maps "_" to a space, as RFC 2047 Q encoding requires.
            return binascii.a2b_qp(text.encode("utf-8", "replace"), header=True)
        compact = "".join(text.split())
        compact += "=" * (-len(compact) % 4)  # missing padding is common and harmless
        # strict: characters outside the alphabet mean a broken word, not bytes to skip.
        return binascii.a2b_base64(compact.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _decode_encoded_words(value: str) -> str:
    """Decode every encoded word of `value`, leaving plain text and broken words alone.

    Whitespace between two adjacent encoded words is dropped (RFC 2047 section 6.2), and the
    bytes of adjacent words in the same charset are decoded together, because some mailers split
    a multi-byte UTF-8 character across two words.
    """
    parts: list[str] = []
    pending = bytearray()
    pending_charset = ""
    previous_was_word = False
    position = 0

    def flush() -> None:
        if pending:
            parts.append(_decode_bytes(bytes(pending), pending_charset))
            pending.clear()

    for match in _ENCODED_WORD_RE.finditer(value):
        gap = value[position : match.start()]
        charset, encoding, text = match.groups()
        payload = _encoded_word_payload(encoding, text)
        position = match.end()
        if payload is None:
            flush()
            parts.append(gap)
            parts.append(match.group(0))
            previous_was_word = False
            continue
        if not (previous_was_word and (not gap or gap.isspace())):
            flush()
            parts.append(gap)
        elif charset.lower() != pending_charset.lower():
            flush()
        pending += payload
        pending_charset = charset
        previous_was_word = True
    flush()
    parts.append(value[position:])
    return "".join(parts)


def decode_header_text(value: str | None) -> str:
    """Decode RFC 2047 encoded words and unfold; never raises.

    The result is display text for a CRM (subjects, display names): encoded words decoded with
    charset fallbacks, raw 8-bit bytes repaired, controls removed, whitespace runs collapsed to
    one space and the ends stripped. Unknown charsets and broken payloads degrade to replacement
    characters or the literal encoded word, never to an exception.
    """
    if value is None:
        return ""
    if not isinstance(value, str):  # e.g. an email.header.Header from the compat32 policy
        try:
            value = str(value)
        except Exception:
            return ""
    value = _repair_surrogates(value)
    if "=?" in value:
        # Unfold first: folding may sit between two encoded words, and must then vanish.
        value = _decode_encoded_words(" ".join(value.split()))
    return _clean_text(value)


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------

_MAX_ADDRESS_LEN = 254  # RFC 5321 path limit, minus the brackets
_MAX_DN_LEN = 1024  # legacy DNs are ~100-200 characters; anything far beyond is junk
_MAX_RAW_LEN = 4096  # do not even look at (or cache) longer "addresses"

# Wrapping we strip from both ends of a bare address: whitespace, angle brackets, quotes.
_WRAPPING = " \t\r\n\f\v\xa0\u200b\ufeff<>\"'`"

# Characters that cannot appear in an unquoted local part (RFC 5322 specials, whitespace,
# controls). Dots are *not* checked: "k..allen" and ".ward" are real Enron recipients.
_LOCAL_BAD_RE = re.compile(r"[\s\x00-\x1f\x7f<>()\[\],;:\\\"@\ud800-\udfff]")

# A domain label: anything but separators, specials, whitespace and controls. Unicode letters
# and combining marks are allowed (IDNA U-labels); "_" is tolerated (seen on real hosts).
_LABEL = r"[^\s\x00-\x1f\x7f-\x9f.@<>()\[\],;:\\\"'/?#%&*+=|{}~!$^`\ud800-\udfff]+"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")

# IDNA treats these as label separators too (ideographic and full-width full stops).
_DOT_TABLE = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# A legacy DN starts at "/o=". What may precede it: nothing, the Exchange address type "EX:",
# our own key prefix "x500:" (so keys are fixed points), or stray quotes.
_DN_PREFIXES = ("", "ex:", "x500:")
_DN_BAD_RE = re.compile(r"[\x00-\x1f\x7f<>\"\ud800-\udfff]")
_IMCEA_ESCAPE_RE = re.compile(r"\+([0-9a-f]{2})")


def _nfc_lower(value: str) -> str:
    """Lower case in Unicode NFC; NFC again afterwards because lowering can decompose."""
    if value.isascii():
        return value.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def _canonical_dn(dn: str) -> str | None:
    """`x500:` key of a lower-cased legacy DN starting at "/o=", or None."""
    # Enron (and some gateways) glued an SMTP domain onto the DN: "/o=.../cn=abc@enron.com",
    # also "'/o=.../cn=abc'@enron.com". Any trailing "@<no slash>" is such a suffix; strip them
    # all, so that the key is a fixed point.
    while True:
        head, at, tail = dn.rpartition("@")
        if not at or "/" in tail:
            break
        dn = head.rstrip("'\"")
    dn = " ".join(dn.split()).strip("'\" ")
    if len(dn) <= 3 or len(dn) > _MAX_DN_LEN or _DN_BAD_RE.search(dn):
        return None
    return "x500:" + dn


def _decode_imcea(encoded: str) -> str:
    """Undo IMCEA encapsulation ([MS-OXCMAIL] 2.1.3.1.8): "_" is "/", "+XX" is the byte XX."""
    raw = _IMCEA_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), encoded.replace("_", "/"))
    # "+XX" escapes are octets; non-ASCII ones are UTF-8 in every sample we know of.
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


def _decode_idna_label(label: str) -> str:
    """Decode one "xn--" A-label to its U-label; keep it as-is when it is not valid punycode.

    An undecodable or odd label is kept verbatim (still a usable, stable key) rather than
    rejected: we would lose the participant, and a wrong guess here is a wrong key forever.
    """
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label
    decoded = _nfc_lower(decoded)
    # Only accept what is itself a stable, non-ASCII label, otherwise normalising the output
    # again would give something else (the key must be a fixed point).
    if decoded.isascii() or decoded.startswith("xn--") or not re.fullmatch(_LABEL, decoded):
        return label
    return decoded


def _canonical_address(raw: str) -> str | None:
    """The uncached body of `normalize_address`."""
    value = _repair_surrogates(raw).strip(_WRAPPING)
    while value[:7].lower() == "mailto:":
        value = value[7:].strip(_WRAPPING)
    if not value:
        return None
    value = _nfc_lower(value)

    # Legacy Exchange DN, in any of its wrappings.
    dn_start = value.find("/o=")
    if dn_start >= 0 and value[:dn_start].strip("'\" ") in _DN_PREFIXES:
        return _canonical_dn(value[dn_start:])

    local, at, domain = value.rpartition("@")
    if not at:
        return None
    if local.startswith("imceaex-"):
        # Exchange's SMTP encapsulation of a DN; the domain is only the gateway, drop it.
        decoded = _nfc_lower(_decode_imcea(local[8:]))
        if decoded.startswith("/o="):
            return _canonical_dn(decoded)
    local = local.strip("'\"")  # 'jane'@x.com: Outlook-style quoting left over
    if not local or _LOCAL_BAD_RE.search(local):
        return None
    domain = domain.translate(_DOT_TABLE)
    if domain.endswith("."):
        domain = domain[:-1]  # absolute FQDN form "example.com."
    if "xn--" in domain:
        domain = ".".join(
            _decode_idna_label(label) if label.startswith("xn--") else label
            for label in domain.split(".")
        )
    if not _DOMAIN_RE.fullmatch(domain):
        return None  # no dot, empty or consecutive-dot labels, specials, whitespace
    key = f"{local}@{domain}"
    return key if len(key) <= _MAX_ADDRESS_LEN else None


@functools.lru_cache(maxsize=65536)
def _normalize_cached(raw: str) -> str | None:
    # Addresses repeat enormously (a team mails the same few thousand people), so the same raw
    # string is normalised again and again. Bounded: the daemon runs for months.
    return _canonical_address(raw)


def normalize_address(raw: str) -> str | None:
    """Return the canonical key of one bare address
    (`Jane.Doe@Fabrikam.COM ` -> `jane.doe@fabrikam.com`), or None when it is not a usable
    address. Legacy Exchange DNs return `x500:<lowercased dn>`.
    IDNA domains are returned in Unicode NFC lower case (`xn--caf-dma.fr` -> `café.fr`).

    Accepted wrappings: surrounding whitespace, ``<...>``, quotes, ``mailto:``. Rejected: no
    ``@``, empty local part or domain, whitespace or specials inside, a domain without a dot,
    with an empty label or consecutive dots, longer than 254 characters. The function is
    idempotent: a key is a fixed point (``normalize_address(key) == key``).
    """
    if not isinstance(raw, str) or not raw or len(raw) > _MAX_RAW_LEN:
        return None
    return _normalize_cached(raw)


# The fast path: a header of plain comma-separated addresses (most of them, in practice) has
# none of the characters that need the RFC 5322 parser.
_NEEDS_PARSER_RE = re.compile(r"[<>\"():;\\\[\]]|=\?")
# Placeholders stand in for legacy DNs while getaddresses() runs: DNs contain spaces and
# parentheses ("Exchange Administrative Group (FYDIBOHF23SPDLT)") that it would mangle.
_DN_IN_HEADER_RE = re.compile(
    r"<\s*((?:x500:|ex:)?['\"]?/o=[^<>]*?)\s*>|((?:x500:|ex:)?'?/o=[^<>,;\"]*)", re.IGNORECASE
)
_PLACEHOLDER = "syncd-dn-{}@dn.invalid"
_PLACEHOLDER_RE = re.compile(r"syncd-dn-(\d{1,6})@dn\.invalid")
# Address-looking tokens, to rescue what getaddresses() could not split (unbalanced quotes).
# Anchored on a token boundary and bounded in length: an unanchored, unbounded pattern is
# quadratic on a long run without "@" (findall retries it from every position).
_ADDRESS_TOKEN_RE = re.compile(
    r"(?<![^\s<>(),;:\"\[\]])[^\s<>(),;:\"\[\]@]{1,128}@[^\s<>(),;:\"\[\]@]{1,255}"
    r"(?![^\s<>(),;:\"\[\]])"
)
# "Nemec, Gerald <...>": Outlook's unquoted "Last, First". getaddresses() yields a junk entry
# "Nemec" followed by ("Gerald", address); we glue the surname back on.
_SURNAME_RE = re.compile(r"[^\W\d_][\w'. -]*")

_GETADDRESSES_HAS_STRICT = "strict" in inspect.signature(getaddresses).parameters


def _getaddresses(value: str) -> list[tuple[str, str]]:
    """getaddresses() in its lenient legacy mode on every Python version.

    The `strict` flag arrived in security releases (3.11.10, 3.12.5); 3.11.7 does not have it.
    Strict mode turns a whole header with one malformed entry into [("", "")], which would drop
    every good recipient beside a bad one, so we ask for the legacy behaviour where it exists.
    """
    if _GETADDRESSES_HAS_STRICT:
        return getaddresses([value], strict=False)
    return getaddresses([value])


def _restore_dns(text: str, originals: list[str]) -> str:
    """Put the legacy DNs hidden behind placeholders back into `text` (a display name)."""

    def original(match: re.Match[str]) -> str:
        index = int(match.group(1))
        # A header may carry the placeholder text itself: only our own indexes are swapped.
        return originals[index] if index < len(originals) else match.group(0)

    return _PLACEHOLDER_RE.sub(original, text)


def _display_name(name: str, key: str, originals: list[str]) -> str:
    """Decoded display name, or "" when there is none or it only repeats the address."""
    if not name:
        return ""
    if originals and "syncd-dn-" in name:
        name = _restore_dns(name, originals)
    name = decode_header_text(name).strip("'\" ")
    # A display name that merely repeats the address carries no information.
    if name.lower() == key or normalize_address(name) == key:
        return ""
    return name


def _parse_fast(value: str) -> list[tuple[str, str]]:
    """Plain comma/whitespace-separated addresses: no parser, cached normalisation only."""
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for chunk in value.split(","):
        # Whitespace-separated addresses ("a@x.com b@y.com") are split too; a stray word
        # becomes a rejected token and the rest is kept.
        for token in chunk.split():
            key = _normalize_cached(token) if len(token) <= _MAX_RAW_LEN else None
            if key is not None and key not in seen:
                seen.add(key)
                result.append(("", key))
    return result


# One top-level list item: quoted strings and (non-nested) comments may hold commas. A match
# that stops on anything but a comma or the end (unbalanced quote, nested comment, a stray
# backslash) means the cheap split cannot be trusted.
_LIST_ITEM_RE = re.compile(r'(?:"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.)*\)|[^,"(\\])*')
_ITEM_NEEDS_PARSER_RE = re.compile(r"[<>\"():;\[\]]")


def _top_level_items(value: str) -> list[str] | None:
    """`value` cut at its top-level commas, or None when the cut cannot be trusted."""
    if '"' not in value and "(" not in value and "\\" not in value:
        return value.split(",")  # no quoting at all: every comma separates (C speed)
    items: list[str] = []
    position, length = 0, len(value)
    while position <= length:
        match = _LIST_ITEM_RE.match(value, position)
        end = match.end() if match is not None else position
        if end < length and value[end] != ",":
            return None
        items.append(value[position:end])
        position = end + 1
    return items


def _split_pairs(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of a header value, as getaddresses() would return them.

    getaddresses() costs ~20 us per address in pure Python, and a long distribution list with a
    single "<...>" in it would pay that for every plain address. So the value is first cut at
    top-level commas, plain items are split on whitespace directly, and only the items with
    specials go through getaddresses(). If the cut is unreliable, the whole value goes.
    """
    items = _top_level_items(value)
    if items is None:
        return _getaddresses_safe(value)
    pairs: list[tuple[str, str]] = []
    for item in items:
        if _ITEM_NEEDS_PARSER_RE.search(item) is not None:
            pairs += _getaddresses_safe(item)
        elif "@" in item:
            pairs += [("", token) for token in item.split()]
        elif words := item.split():
            # No address here: keep the words together ("Williams III" of "Williams III,
            # Bill <...>": a surname for the next entry).
            pairs.append(("", " ".join(words)))
    return pairs


def _getaddresses_safe(value: str) -> list[tuple[str, str]]:
    """getaddresses(), or the address-looking tokens of `value` should it ever raise."""
    try:
        return _getaddresses(value)
    except Exception:  # the legacy parser has raised IndexError on odd input in the past
        return [("", token) for token in _ADDRESS_TOKEN_RE.findall(value)]


_SPECIALS_RE = re.compile(r"[,;:<>()@\[\]\"\\]")


def _quote_encoded_word(match: re.Match[str]) -> str:
    # Broken mailers leave raw commas (and other specials) inside Q-encoded display names:
    # "=?utf-8?q?Dupont,_Ren=C3=A9e?= <r@x.fr>". Quoted, the word stays one display name; it is
    # decoded after parsing. Words already inside quotes are left alone.
    word, text, start, end = match.group(0), match.string, match.start(), match.end()
    if _SPECIALS_RE.search(word) is None:
        return word
    if text[start - 1 : start] == '"' and text[end : end + 1] == '"':
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_slow(value: str, depth: int) -> list[tuple[str, str]]:
    """Headers with specials: DNs hidden, RFC 5322 parsing, junk salvaged, names decoded."""
    originals: list[str] = []
    if "/o=" in value or "/O=" in value:

        def hide(match: re.Match[str]) -> str:
            bracketed, bare = match.groups()
            originals.append(bracketed if bracketed is not None else bare)
            placeholder = _PLACEHOLDER.format(len(originals) - 1)
            return f"<{placeholder}>" if bracketed is not None else f" {placeholder} "

        value = _DN_IN_HEADER_RE.sub(hide, value)

    if "=?" in value:
        value = _ENCODED_WORD_RE.sub(_quote_encoded_word, value)
    pairs = _split_pairs(value)
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    surname = ""

    def add(name: str, key: str) -> None:
        if key not in seen:
            seen.add(key)
            result.append((name, key))

    for name, address in pairs:
        if originals and address.startswith("syncd-dn-"):
            placeholder = _PLACEHOLDER_RE.fullmatch(address)
            if placeholder is not None and int(placeholder.group(1)) < len(originals):
                address = originals[int(placeholder.group(1))]
        key = _normalize_cached(address) if 0 < len(address) <= _MAX_RAW_LEN else None
        if key is None:
            # Junk entry: skip it, but first try to salvage what it hides.
            previous_surname, surname = surname, ""
            if not address:
                continue
            if "=?" in address and depth == 0:
                # A whole "Name <addr>" sent as one encoded word: decode, then parse again.
                for pair in _parse(decode_header_text(address), depth + 1):
                    add(*pair)
            elif "@" in address:
                for token in _ADDRESS_TOKEN_RE.findall(address):
                    token_key = normalize_address(token)
                    if token_key is not None:
                        add("", token_key)
            elif not name and not previous_surname and _SURNAME_RE.fullmatch(address):
                surname = address
            continue
        display = _display_name(name, key, originals)
        if surname and display:
            display = f"{surname}, {display}"
        surname = ""
        add(display, key)
    return result


def _parse(value: str, depth: int) -> list[tuple[str, str]]:
    """`parse_address_list` without its guard; `depth` stops re-parsing decoded text twice."""
    value = _repair_surrogates(value)
    if _NEEDS_PARSER_RE.search(value) is None:
        return _parse_fast(value)
    return _parse_slow(value, depth)


def parse_address_list(value: str | None) -> list[tuple[str, str]]:
    """Parse a To/Cc/From header value (possibly with RFC 2047 encoded words, groups,
    `undisclosed-recipients:;`, legacy DNs) into [(display_name, key)], skipping unusable parts.

    Keys are `normalize_address` keys, each listed once (first occurrence wins, with its display
    name). Display names are decoded text ("" when absent or equal to the address). Junk entries
    are dropped and the rest kept: a 5,000-recipient header with one broken entry still yields
    4,999 participants. Never raises, whatever the input.
    """
    if value is None:
        return []
    try:
        if not isinstance(value, str):  # e.g. an email.header.Header from the compat32 policy
            value = str(value)
        if not value or value.isspace():
            return []
        return _parse(value, 0)
    except Exception:  # contract 5: bad input is data, never a crash
        return []


# --------------------------------------------------------------------------------------------
# Message ids
# --------------------------------------------------------------------------------------------

_BRACKETED_ID_RE = re.compile(r"<([^<>]*)>")
_MAX_MESSAGE_ID_LEN = 998  # the RFC 5322 line limit: no honest id is longer
_ID_BAD_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def normalize_message_id(value: str | None) -> str | None:
    """`<ABC@host>` -> `abc@host`-style canonical id (case of the left part kept), or None.

    Takes the first ``<...>`` token (In-Reply-To and References may carry several, or a trailing
    comment), else the first bare token. Whitespace inside is dropped (RFC 5322 allows none, but
    long ids get folded). The domain part is lower-cased, the left part kept verbatim because
    some generators are case-sensitive there. Ids without "@" (or with an empty side) return None:
    they collide across messages, and a wrong natural key would merge two different emails; the
    connector then falls back to a content digest.
    """
    if not value or not isinstance(value, str):
        return None
    match = _BRACKETED_ID_RE.search(value)
    if match is not None:
        token = "".join(match.group(1).split())
    else:
        words = value.split()
        token = words[0].strip("<>\"'") if words else ""
    token = token.strip("\"'")
    left, at, right = token.rpartition("@")
    if not at or not left or not right or len(token) > _MAX_MESSAGE_ID_LEN:
        return None
    if _ID_BAD_RE.search(token):
        return None
    return f"{left}@{right.lower()}"


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

_MIN_YEAR = 1970
_MAX_YEAR = 2100

# Zone abbreviations, in minutes east of UTC. The stdlib knows only UT/GMT/Z and the US zones;
# French and German mailers write CET/CEST/MEZ/MESZ and the French Outlook HNEC/HAEC. CST is the
# US one (as in the stdlib); IST is India (the usual meaning in business mail).
_ZONE_OFFSETS = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0,
    "bst": 60, "west": 60, "ist": 330,
    "cet": 60, "met": 60, "mez": 60, "hnec": 60,
    "cest": 120, "mest": 120, "mesz": 120, "haec": 120, "eet": 120,
    "eest": 180, "msk": 180,
    "ast": -240, "adt": -180, "nst": -210, "ndt": -150,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300,
    "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
    "akst": -540, "akdt": -480, "hst": -600,
    "jst": 540, "kst": 540, "hkt": 480, "sgt": 480, "awst": 480,
    "acst": 570, "aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780,
}  # fmt: skip

# Month names: English, French (with and without accents, Outlook/strftime abbreviations) and
# the German ones that differ; looked up lower-case with the trailing "." removed.
_MONTHS = {
    **dict.fromkeys(("jan", "january", "janv", "janvier", "januar", "jän", "jänner"), 1),
    **dict.fromkeys(("feb", "february", "févr", "fevr", "fév", "fev", "février", "fevrier",
                     "februar"), 2),
    **dict.fromkeys(("mar", "march", "mars", "märz", "maerz", "mrz"), 3),
    **dict.fromkeys(("apr", "april", "avr", "avril"), 4),
    **dict.fromkeys(("may", "mai"), 5),
    **dict.fromkeys(("jun", "june", "juin", "juni"), 6),
    **dict.fromkeys(("jul", "july", "juil", "juillet", "juli"), 7),
    **dict.fromkeys(("aug", "august", "août", "aout", "aoû", "aou"), 8),
    **dict.fromkeys(("sep", "sept", "september", "septembre"), 9),
    **dict.fromkeys(("oct", "october", "octobre", "okt", "oktober"), 10),
    **dict.fromkeys(("nov", "november", "novembre"), 11),
    **dict.fromkeys(("dec", "december", "déc", "décembre", "decembre", "dez", "dezember"), 12),
}  # fmt: skip

_TIME_RE = re.compile(
    r"(\d{1,2})[:h](\d{2})(?::(\d{2})(?:[.,]\d+)?)?(am|pm|a\.m\.|p\.m\.)?(.*)"
)  # 14:05, 14:05:00, 14:05:00.123, 14h05 (French), 2:05pm, 14:05:00+0100 (glued zone)
_NUMERIC_ZONE_RE = re.compile(r"([+-])(\d{2}):?(\d{2})")
_GMT_ZONE_RE = re.compile(r"(?:gmt|utc|ut)([+-])(\d{1,2})(?::?(\d{2}))?")  # GMT+0200, UTC-5
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ISO_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}")
_COMMENT_RE = re.compile(r"\(([^()]*)\)")
_ORDINAL_RE = re.compile(r"(\d{1,2})(?:er|st|nd|rd|th|\.)")  # "1er mars", "3. März"


def _zone_minutes(token: str) -> int | None:
    """Offset in minutes east of UTC for one lower-case zone token, or None if not a zone."""
    if token in _ZONE_OFFSETS:
        return _ZONE_OFFSETS[token]
    match = _NUMERIC_ZONE_RE.fullmatch(token) or _GMT_ZONE_RE.fullmatch(token)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes or 0)
    if int(hours) > 23 or int(minutes or 0) > 59:
        return None
    return -total if sign == "-" else total


def _two_digit_year(year: int) -> int:
    # Same pivot as the stdlib's parsedate (69..99 -> 19xx, 00..68 -> 20xx), so a date parses
    # to the same year whichever path reads it. Three-digit years are RFC 5322's 1900 + y.
    if year < 100:
        return year + (1900 if year > 68 else 2000)
    if year < 1000:
        return year + 1900
    return year


def _parse_date_fallback(value: str) -> datetime | None:
    """Token-based parser for what parsedate_to_datetime() cannot read (or reads naively).

    Accepts tokens in any order: weekday (ignored), day, month name (English, French, German),
    year (four or two digits), time (``14:05[:00]``, ``14h05``, am/pm), zone (numeric, named,
    ``GMT+0200``). Unknown words are ignored; a missing zone means UTC, a missing time midnight.
    """
    text = unicodedata.normalize("NFC", value).lower()
    if _ISO_DATETIME_RE.match(text):
        try:
            parsed = datetime.fromisoformat(text.upper().replace(" ", "T", 1))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    comment_zone: int | None = None
    for comment in _COMMENT_RE.findall(text):
        comment_zone = _zone_minutes(comment.strip()) if comment_zone is None else comment_zone
    text = _COMMENT_RE.sub(" ", text).replace(",", " ")
    tokens = text.split()
    if not tokens or len(tokens) > 12:
        return None

    numbers: list[tuple[int, int]] = []  # (value, digit count)
    months: list[tuple[int, str]] = []
    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour = minute = second = 0
    have_time = False
    meridiem = ""
    zone: int | None = None
    for token in tokens:
        if not have_time and (time_match := _TIME_RE.fullmatch(token)):
            hour, minute = int(time_match.group(1)), int(time_match.group(2))
            second = int(time_match.group(3) or 0)
            meridiem = time_match.group(4) or ""
            have_time = True
            rest = time_match.group(5)
            if rest:
                glued = _zone_minutes(rest)
                if glued is None:
                    return None
                zone = glued
            continue
        if (iso := _ISO_DATE_RE.fullmatch(token)) is not None:
            year, month, day = (int(group) for group in iso.groups())
            continue
        if token.isdigit():
            numbers.append((int(token), len(token)))
            continue
        if (ordinal := _ORDINAL_RE.fullmatch(token)) is not None:
            numbers.append((int(ordinal.group(1)), len(ordinal.group(1))))
            continue
        if token in ("am", "pm", "a.m.", "p.m."):
            meridiem = token
            continue
        zone_minutes = _zone_minutes(token)
        if zone_minutes is None and token[0] in "+-" and token[1:].replace(":", "").isdigit():
            return None  # "+9999": a broken offset makes the whole date suspect
        if zone_minutes is not None:
            # An explicit numeric offset beats a name ("GMT +0200", "-0800 PST").
            if zone is None or token[0] in "+-":
                zone = zone_minutes
            continue
        name = token.rstrip(".")
        if name in _MONTHS:
            months.append((_MONTHS[name], name))
        # Anything else (weekday names, "à", "le", "at", unknown words) is ignored.

    if month is None:
        if not months:
            return None
        # French "mar." is mardi (Tuesday) when another month name is present.
        chosen = [m for m in months if m[1] != "mar"] or months
        month = chosen[0][0]
    if day is None:
        candidates = list(numbers)
        year_entry = next((n for n in candidates if n[1] >= 3), None)
        year_entry = year_entry or next((n for n in candidates if n[0] > 31), None)
        if year_entry is None and len(candidates) >= 2:
            year_entry = candidates[-1]
        if year_entry is None:
            return None
        candidates.remove(year_entry)
        year = _two_digit_year(year_entry[0])
        day = next((n[0] for n in candidates if 1 <= n[0] <= 31), None)
        if day is None:
            return None
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    second = min(second, 59)  # a leap second ":60" is the last second of that minute
    if zone is None:
        zone = comment_zone if comment_zone is not None else 0
    if year is None:
        return None
    try:
        return datetime(
            year, month, day, hour, minute, second, tzinfo=timezone(timedelta(minutes=zone))
        )
    except (ValueError, OverflowError):
        return None


def parse_date(value: str | None) -> datetime | None:
    """Parse an RFC 5322 (or sloppy, or French) date into an aware UTC datetime, or None.

    The stdlib parser reads well-formed dates fastest; but it silently returns a *naive*
    datetime for zones it does not know ("CEST", "GMT+0200"), which would shift those mails by
    hours. So a naive stdlib result is re-read by our token parser, which knows more zones,
    French month names ("3 mars 2025 14:05", "lun. 3 mars 2025", "févr.") and "14h05"; only
    when that fails too is the naive time taken as UTC. Years outside 1970..2100 return None.
    """
    if not value:
        return None
    try:
        if not isinstance(value, str):
            value = str(value)
        text = " ".join(_repair_surrogates(value).split())
        if not text or len(text) > 200:
            return None
        parsed: datetime | None
        try:
            parsed = parsedate_to_datetime(text)
        except Exception:  # ValueError, TypeError, IndexError, OverflowError depending on input
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            fallback = _parse_date_fallback(text)
            if fallback is not None:
                parsed = fallback
            elif parsed is not None:
                parsed = parsed.replace(tzinfo=UTC)
        if parsed is None:
            return None
        result = parsed.astimezone(UTC)
    except Exception:  # OverflowError near datetime.min/max, anything unforeseen: unparseable
        return None
    if not _MIN_YEAR <= result.year <= _MAX_YEAR:
        return None
    return result


# --------------------------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------------------------

# Reply/forward markers: English, French (TR = transféré, Réf.), German (AW, WG), Dutch
# (Antw, Doorst), Scandinavian/Finnish (SV, VS), Spanish/Portuguese (RV, RES, ENC), Italian
# (RIF), Polish (Odp, PD), Turkish (YNT), Chinese. Each may carry a counter ("Re[2]:", "Re(2):",
# "Re^2:") and French typography puts a (non-breaking) space before the colon ("RE : ").
# Italian "R:"/"I:" are left out: one-letter words before a colon are too often real subjects.
_SUBJECT_PREFIXES_RE = re.compile(
    r"""
    (?:                                     # a run of markers, matched at once
      (?:
        (?:re|fwd?|tr|r[ée]f\.?|aw|wg|sv|vs|antw|doorst|rv|res|enc|rif|odp|pd|ynt
           |回复|回覆|答复|转发|轉寄)
        \s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]
      | \[\s*ext(?:ernal|erne)?(?:[\s_-]*(?:e-?mail|mail|sender|message))?\s*\]   # [EXTERNAL]
      | \*\s*external\s*\*
      )\s*
    )+
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Netscape-era forward wrapper "[Fwd: subject]" (common in the Enron corpus) and pine's
# trailing "(fwd)".
_BRACKET_FORWARD_RE = re.compile(r"\[\s*(?:fwd?|tr)\s*:\s*(.*?)\s*\]", re.IGNORECASE | re.DOTALL)
_TRAILING_FORWARD_RE = re.compile(r"\s*\(fwd?\)\s*$", re.IGNORECASE)


def thread_subject(subject: str) -> str:
    """Subject without reply/forward prefixes in English and French (Re:, RE :, Fwd:, TR:, Réf:).

    Strips any run of markers (``RE: TR: [EXTERNAL] Réf. : x`` -> ``x``), "[EXTERNAL]"/"[EXT]"
    gateway tags, "[Fwd: x]" wrappers and a trailing "(fwd)"; collapses whitespace and NFC
    normalises, so the result groups a thread's messages whichever client replied. Case is kept
    (callers that group should compare case-insensitively). Idempotent.
    """
    if not subject or not isinstance(subject, str):
        return ""
    text = _clean_text(_repair_surrogates(subject))
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    while True:
        before = text
        # One match eats the whole run of markers: stripping them one by one would make a
        # hostile "Re: Re: Re: ..." subject quadratic.
        match = _SUBJECT_PREFIXES_RE.match(text)
        if match is not None:
            text = text[match.end() :]
        bracketed = _BRACKET_FORWARD_RE.fullmatch(text)
        if bracketed is not None:
            text = bracketed.group(1)
        text = _TRAILING_FORWARD_RE.sub("", text)
        if text == before:
            return text.strip()


# --------------------------------------------------------------------------------------------
# Automated senders
# --------------------------------------------------------------------------------------------

#: Local parts (or separated components of one: "calendar-noreply", "list-bounces",
#: "bounce-1234", "security.alerts") that mark a robot sender. In each, "-" also matches "_",
#: "." or nothing, so "no-reply" covers noreply, no_reply and no.reply. Role mailboxes people
#: answer (info@, contact@, sales@, support@) are deliberately NOT here.
AUTOMATED_LOCAL_PARTS: tuple[str, ...] = (
    "no-reply",
    "do-not-reply",
    "ne-pas-repondre",
    "ne-pas-répondre",
    "mailer-daemon",
    "postmaster",
    "bounce",
    "bounces",
    "notification",
    "notifications",
    "alert",
    "alerts",
    "newsletter",
    "newsletters",
)

_AUTOMATED_RE = re.compile(
    r"(?:^|[-_.+=])(?:"
    + "|".join(re.escape(word).replace(r"\-", "[-_.]?") for word in AUTOMATED_LOCAL_PARTS)
    + r")(?:$|[-_.+=])"
)


def is_automated_address(key: str) -> bool:
    """True for no-reply, mailer-daemon, postmaster, bounces and similar robot senders.

    Looks at the local part of a normalised key only (see `AUTOMATED_LOCAL_PARTS`); legacy DN
    keys are mailboxes of people or groups inside an organisation, never robots by this test.
    """
    if not key or not isinstance(key, str) or key.startswith("x500:"):
        return False
    local, at, _domain = key.lower().rpartition("@")
    if not at:
        return False
    return _AUTOMATED_RE.search(local) is not None


def email_fingerprint(sender: str, sent_at: str, subject: str, recipients: list[str]) -> str:
    """What identifies an email whichever copy of it is read: a digest of From, Date, Subject
    and To+Cc (Bcc is left out: only the sender's copy has it).

    It is the natural key of a message without a Message-ID, and the second key capture
    matches on: some exports rewrite Message-ID per copy (the Enron corpus gives each mailbox's
    copy its own `<n.JavaMail.evans@thyme>`), so the same mail in two mailboxes would
    otherwise count twice. `sent_at` is the ISO form of the UTC send time.
    """
    payload = json.dumps(
        [sender, sent_at, " ".join(subject.split()), sorted(set(recipients))],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha1:" + hashlib.sha1(payload.encode("utf-8")).hexdigest()
