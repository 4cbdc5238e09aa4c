"""A seeded, deterministic generator of one company's mailboxes, calendars and Teams calls.

Why it exists: the README demo, the local Microsoft 365 sandbox and the benchmarks all need the
same believable data without shipping a real mail corpus. A French SMB sales team (the first
users of syncd) is modelled: each rep owns a few accounts strongly and knows some others weakly,
so "who knows whom" has a clear but non-trivial answer; threads get replies with human delays,
forwards, out-of-office answers; broadcasts, newsletters, robots, free-mail prospects, bounces,
private items and a small share of malformed messages make the importer earn its keep.

Design choices, and why:

* **Determinism.** Everything comes from ``random.Random`` generators seeded from ``seed`` (one
  per stream, so ``messages()`` does not depend on whether ``events()`` ran first), never from
  the clock or the global generator. Daylight-saving offsets and French public holidays are
  computed here rather than read from the system tz database, so the bytes do not change when
  the host's tzdata does.
* **Streaming.** ``messages()`` is a generator. Threads are planned when their first message is
  due and their replies wait in a heap; a message is rendered to bytes only when every message
  that could precede it has been emitted. Memory is bounded by the threads alive within a few
  days of the current position, not by the total count, so millions of messages are fine.
* **Speed.** Raw messages are built from string templates, not ``EmailMessage``: encoded words
  (RFC 2047) and folding are done by small dedicated functions (subjects are cached because
  replies reuse them). The tests re-parse every message with the stdlib parser to prove the
  shortcuts produce the same decoded subjects and addresses.
* **Exact counts.** ``messages=N`` yields exactly N messages: a thread's length is cut to what is
  left of the budget when it is planned.
"""

from __future__ import annotations

import calendar
import heapq
import re
import time
import unicodedata
import uuid
from binascii import b2a_base64
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from random import Random
from typing import TYPE_CHECKING, TypeVar

from syncd.demo import names as N

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

__all__ = [
    "DEFAULT_START",
    "MALFORMED_KINDS",
    "DemoAccount",
    "DemoAttendee",
    "DemoCall",
    "DemoCompany",
    "DemoEvent",
    "DemoMessage",
    "DemoPerson",
    "generate",
]

DEFAULT_START = datetime(2026, 5, 1, tzinfo=UTC)
"""Fixed default window start, so output never depends on today's date."""

MALFORMED_KINDS: tuple[str, ...] = (
    "missing-date",
    "garbled-address",
    "undecodable-header",
    "missing-message-id",
)
"""Values of ``DemoMessage.malformed``: what is deliberately wrong with the raw message."""

MALFORMED_RATE = 0.005
"""Share of messages made malformed (about 0.5 %, spread evenly through the stream)."""

PARIS = "Europe/Paris"
_T = TypeVar("_T")

# --------------------------------------------------------------------------- public data model


@dataclass(frozen=True)
class DemoPerson:
    """A person with a mailbox address: internal user, account contact, lead, or stranger.

    ``account`` is the account domain for external contacts. ``phone``, ``company``, ``source``
    feed the CRM CSV files; ``tz`` and ``lang`` drive when and in which language they write.
    """

    email: str
    name: str
    title: str = ""
    account: str | None = None
    phone: str = ""
    company: str = ""
    source: str = ""
    tz: str = PARIS
    lang: str = "fr"


@dataclass(frozen=True)
class DemoAccount:
    """A customer company. ``owner`` (a user address) knows it strongly, ``known_by`` weakly.

    ``owner`` and ``known_by`` are the ground truth the who-knows-whom graph should rediscover.
    """

    name: str
    domain: str
    industry: str
    city: str
    country: str = "FR"
    owner: str = ""
    known_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoMessage:
    """One email as it sits in the company's mailboxes.

    ``raw`` is the RFC 5322 message with CRLF line ends and without any Bcc header (recipients'
    copies never show it); ``raw_for()`` adds the Bcc line for the sender's Sent Items copy.
    Addresses in ``sender``/``to``/``cc``/``bcc``/``recipients`` are lower case; the raw header
    may spell them differently (mixed case), as real mail does. For a ``garbled-address``
    message the garbled text itself stands in the address fields.
    """

    message_id: str
    raw: bytes
    sender: str
    recipients: tuple[str, ...]
    sent_at: datetime
    copies: tuple[tuple[str, str], ...]
    subject: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_id: str = ""
    kind: str = "customer"
    is_private: bool = False
    is_automated: bool = False
    malformed: str | None = None

    def raw_for(self, owner: str, folder: str) -> bytes:
        """The bytes of the copy in ``owner``'s ``folder``: the sender's sent copy keeps Bcc."""
        if folder == "sentitems" and self.bcc and owner == self.sender:
            return b"Bcc: " + ", ".join(self.bcc).encode("ascii") + b"\r\n" + self.raw
        return self.raw


_MESSAGE_FIELDS = tuple(f.name for f in fields(DemoMessage))


def _new_message(*values: object) -> DemoMessage:
    """``DemoMessage(*values)`` without the frozen-dataclass ``__init__``.

    That ``__init__`` goes through ``object.__setattr__`` once per field (17 of them), about a
    tenth of the cost of a whole message; filling ``__dict__`` directly gives an identical object
    (same fields, equality, hash) for the generator's own, already-validated values.
    """
    m = object.__new__(DemoMessage)
    m.__dict__.update(zip(_MESSAGE_FIELDS, values, strict=True))
    return m


@dataclass(frozen=True)
class DemoAttendee:
    """A meeting party; ``response`` is one of accepted, declined, tentative, none."""

    email: str
    name: str
    response: str


@dataclass(frozen=True)
class DemoEvent:
    """A meeting, possibly a weekly series.

    ``start``/``end`` are the first occurrence in UTC. ``rrule`` is expanded in ``tz`` wall-clock
    time (a 09:30 Paris meeting stays at 09:30 across a DST change, as in Outlook);
    ``exdates`` and the first element of each ``overrides`` entry are occurrence starts from
    that expansion, in UTC. ``attendees`` excludes the organizer.
    """

    uid: str
    subject: str
    organizer: DemoAttendee
    attendees: tuple[DemoAttendee, ...]
    start: datetime
    end: datetime
    rrule: str | None
    exdates: tuple[datetime, ...]
    overrides: tuple[tuple[datetime, datetime, datetime], ...]
    is_private: bool
    is_online: bool
    calendars: tuple[str, ...]
    location: str = ""
    tz: str = PARIS
    kind: str = "customer"

    def occurrences(self) -> list[tuple[datetime, datetime]]:
        """Every (start, end) in UTC after applying EXDATEs and moved occurrences, sorted.

        A convenience for consumers such as the sandbox's calendarView. It understands the RRULE
        forms the generator writes (``FREQ=WEEKLY`` with ``COUNT`` and optional ``INTERVAL``);
        the tests check it against recurring_ical_events on the written .ics files.
        """
        if self.rrule is None:
            return [(self.start, self.end)]
        from zoneinfo import ZoneInfo

        parts = dict(item.split("=", 1) for item in self.rrule.split(";"))
        if (
            parts.get("FREQ") != "WEEKLY"
            or "COUNT" not in parts
            or (set(parts) - {"FREQ", "INTERVAL", "COUNT"})
        ):
            raise ValueError(f"unsupported RRULE {self.rrule!r}")
        zone = ZoneInfo(self.tz)
        first = self.start.astimezone(zone).replace(tzinfo=None)  # wall clock
        step = timedelta(weeks=int(parts.get("INTERVAL", "1")))
        duration = self.end - self.start
        cancelled = set(self.exdates)
        moved = {orig: (new_start, new_end) for orig, new_start, new_end in self.overrides}
        out: list[tuple[datetime, datetime]] = []
        for k in range(int(parts["COUNT"])):
            occ = (first + k * step).replace(tzinfo=zone).astimezone(UTC)
            if occ not in cancelled:
                out.append(moved.get(occ, (occ, occ + duration)))
        out.sort()
        return out


@dataclass(frozen=True)
class DemoCall:
    """A Teams call record. ``participants`` includes the organizer (first), as Graph does."""

    id: str
    version: int
    start: datetime
    end: datetime
    organizer: str
    participants: tuple[str, ...]
    modalities: tuple[str, ...]
    kind: str = "peerToPeer"


class _Random(Random):
    """``random.Random`` with one-draw ``choice``/``randrange``.

    The stdlib versions reject-sample with ``getrandbits`` to be exactly uniform; that costs
    about a microsecond per call, which dominated generation time. ``int(random() * n)`` has a
    bias below 2**-40 for the small ``n`` used here: irrelevant for demo data, and still fully
    determined by the seed.
    """

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if step != 1:
            return super().randrange(start, stop, step)
        if stop is None:
            return int(self.random() * start)
        return start + int(self.random() * (stop - start))


# --------------------------------------------------------------------------- time helpers

_DAY = 86400
_ZONE_CODES: dict[str, int] = {
    "Europe/Paris": 0,
    "Europe/Brussels": 0,
    "Europe/Zurich": 0,
    "Europe/London": 1,
    "America/Toronto": 2,
}
_ZONE_BASE = (3600, 0, -18000)
_WD_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WD_EN_FULL = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MON_EN_FULL = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MON_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Local hour of day a message is written, weighted like an office day (lunch dip, some evenings).
_HOUR_WEIGHTS = {
    7: 2,
    8: 10,
    9: 20,
    10: 24,
    11: 22,
    12: 9,
    13: 11,
    14: 21,
    15: 22,
    16: 21,
    17: 16,
    18: 9,
    19: 4,
    20: 2,
    21: 2,
    22: 1,
}
_HOUR_TABLE: tuple[int, ...] = tuple(h for h, w in _HOUR_WEIGHTS.items() for _ in range(w))


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm); French holidays hang off it."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    la = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * la) // 451
    month = (h + la - 7 * m + 114) // 31
    day = (h + la - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _french_holidays(year: int) -> list[date]:
    easter = _easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    out = [date(year, m, d) for m, d in fixed]
    out += [easter + timedelta(days=1), easter + timedelta(days=39), easter + timedelta(days=50)]
    return out


def _epoch(d: date, hour: int = 0) -> int:
    return calendar.timegm((d.year, d.month, d.day, hour, 0, 0))


def _sunday_on_or_before(d: date) -> date:
    return d - timedelta(days=(d.weekday() + 1) % 7)


class _Clock:
    """UTC offsets, business days and the activity curve of the generation window.

    Offsets follow the EU rule (last Sunday of March/October, 01:00 UTC) and the North American
    rule (second Sunday of March / first Sunday of November); that is exact for the zones used
    here and avoids depending on the host's tz database.
    """

    def __init__(self, start: datetime, days: int) -> None:
        self.start_ts = int(start.timestamp())
        self.end_ts = self.start_ts + days * _DAY
        self.days = days
        first = start.date()
        self.midnight0 = _epoch(first)
        years = range(first.year - 1, first.year + days // 365 + 3)
        eu: list[int] = []
        na: list[int] = []
        for y in years:
            eu.append(_epoch(_sunday_on_or_before(date(y, 3, 31)), 1))
            eu.append(_epoch(_sunday_on_or_before(date(y, 10, 31)), 1))
            march1 = date(y, 3, 1)
            second_sunday = march1 + timedelta(days=(6 - march1.weekday()) % 7 + 7)
            nov1 = date(y, 11, 1)
            first_sunday = nov1 + timedelta(days=(6 - nov1.weekday()) % 7)
            na.append(_epoch(second_sunday, 7))
            na.append(_epoch(first_sunday, 6))
        self._transitions = (eu, eu, na)
        self.holidays: frozenset[int] = frozenset(
            _epoch(h) // _DAY for y in years for h in _french_holidays(y)
        )
        weights: list[float] = []
        total = 0.0
        for i in range(days):
            d = first + timedelta(days=i)
            wd = d.weekday()
            w = (1.0, 1.0, 1.0, 0.95, 0.8, 0.05, 0.03)[wd]
            if _epoch(d) // _DAY in self.holidays:
                w = 0.06
            if d.month == 8 and d.day <= 25:  # the French August slump
                w *= 0.4
            if d.month == 12 and d.day >= 24:
                w *= 0.35
            total += w
            weights.append(total)
        self._cum_days = weights

    def offset(self, zone: int, ts: int) -> int:
        """UTC offset in seconds of ``zone`` (0 CET/CEST, 1 GMT/BST, 2 Eastern) at ``ts``."""
        return _ZONE_BASE[zone] + 3600 * (bisect_right(self._transitions[zone], ts) & 1)

    def to_utc(self, zone: int, local: int) -> int:
        """Local wall-clock epoch seconds -> UTC epoch seconds (daytime only, no ambiguity)."""
        return local - self.offset(zone, local - _ZONE_BASE[zone])

    def day_for(self, frac: float) -> int:
        """Map a position in [0, 1) of the stream to a day index, following the activity curve."""
        cum = self._cum_days
        i = bisect_right(cum, frac * cum[-1])
        return min(i, self.days - 1)

    def day_epoch(self, day: int) -> int:
        return self.midnight0 + day * _DAY

    def is_workday(self, local_day: int, zone: int) -> bool:
        return (local_day + 3) % 7 < 5 and (zone != 0 or local_day not in self.holidays)

    def at_business_time(self, ts: int, zone: int, rng: Random, evening: float) -> int:
        """Move ``ts`` forward to the next plausible working moment in ``zone``.

        People answer mail in office hours; a fraction ``evening`` of late mails stay late.
        Only ever moves forward, which keeps replies after their parents.
        """
        off = self.offset(zone, ts)
        local = ts + off
        dayn, sec = divmod(local, _DAY)
        if self.is_workday(dayn, zone):
            if 28800 <= sec < 68400:
                return ts
            if 68400 <= sec < 79200 and rng.random() < evening:
                return ts
        nd = dayn + 1 if sec >= 28800 else dayn
        while not self.is_workday(nd, zone):
            nd += 1
        return self.to_utc(zone, nd * _DAY + 28800 + int(rng.random() * 9000))

    def clamp(self, ts: int) -> int:
        return max(self.start_ts, min(ts, self.end_ts - 1))


_DATE_PREFIXES: dict[int, str] = {}


def _rfc_date(ts: int, off: int) -> str:
    """RFC 5322 date in the writer's offset, without locale-dependent strftime (and fast)."""
    day, sec = divmod(ts + off, _DAY)
    prefix = _DATE_PREFIXES.get(day)
    if prefix is None:
        t = time.gmtime(day * _DAY)
        prefix = f"{_WD_EN[t.tm_wday]}, {t.tm_mday:02d} {_MON_EN[t.tm_mon - 1]} {t.tm_year} "
        if len(_DATE_PREFIXES) > 100_000:
            _DATE_PREFIXES.clear()
        _DATE_PREFIXES[day] = prefix
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    a = abs(off) // 60
    zone = f"{'+' if off >= 0 else '-'}{a // 60:02d}{a % 60:02d}"
    return f"{prefix}{h:02d}:{m:02d}:{s:02d} {zone}"


def _fr_date(local: int, with_year: bool = True) -> str:
    """``mardi 12 mai 2026``: French dates, as French users write them in bodies."""
    t = time.gmtime(local)
    s = f"{N.WEEKDAYS_FR[t.tm_wday]} {t.tm_mday} {N.MONTHS_FR[t.tm_mon - 1]}"
    return f"{s} {t.tm_year}" if with_year else s


def _en_date(local: int) -> str:
    """``12 May 2026`` without strftime, whose month names follow the process locale."""
    t = time.gmtime(local)
    return f"{t.tm_mday} {_MON_EN_FULL[t.tm_mon - 1]} {t.tm_year}"


def _fr_slot(local: int) -> str:
    """``jeudi 21 mai à 10h30``: a proposed time slot."""
    t = time.gmtime(local)
    minutes = "" if t.tm_min == 0 else f"{t.tm_min:02d}"
    return f"{_fr_date(local, False)} à {t.tm_hour}h{minutes}"


# --------------------------------------------------------------------------- header encoding

_PHRASE_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_SPECIALS = frozenset('()<>[]:;@\\,."')
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o"})
_CODECS = {"utf-8": "utf-8", "iso-8859-1": "latin-1", "windows-1252": "cp1252"}


def _b_words(text: str, charset: str, first_room: int) -> list[str]:
    """RFC 2047 'B' encoded words for ``text``, each within its line's room (<= 75 chars).

    Chunks never split a UTF-8 sequence: every encoded word must decode on its own.
    """
    data = text.encode(_CODECS[charset])
    prefix = f"=?{charset}?B?"
    overhead = len(prefix) + 2
    words: list[str] = []
    pos, n, room = 0, len(data), first_room
    utf8 = charset == "utf-8"
    while pos < n:
        end = min(n, pos + max(3, (room - overhead) // 4 * 3))
        if utf8:
            while end < n and end > pos + 1 and (data[end] & 0xC0) == 0x80:
                end -= 1
        words.append(prefix + b2a_base64(data[pos:end], newline=False).decode("ascii") + "?=")
        pos, room = end, 75
    return words


def _q_words(text: str, charset: str) -> list[str]:
    """RFC 2047 'Q' encoded words for a display name (phrase context: only a few chars bare)."""
    codec = _CODECS[charset]
    prefix = f"=?{charset}?Q?"
    limit = 75 - len(prefix) - 2
    words: list[str] = []
    cur = ""
    for ch in text:
        if ch == " ":
            tok = "_"
        else:
            tok = "".join(chr(b) if b in _PHRASE_SAFE else f"={b:02X}" for b in ch.encode(codec))
        if len(cur) + len(tok) > limit:
            words.append(prefix + cur + "?=")
            cur = ""
        cur += tok
    if cur:
        words.append(prefix + cur + "?=")
    return words


def _charset_for(text: str, preferred: str) -> str:
    """``preferred`` if it can carry ``text`` (legacy clients), else UTF-8."""
    if preferred == "utf-8":
        return preferred
    try:
        text.encode(_CODECS[preferred])
    except UnicodeEncodeError:
        return "utf-8"
    return preferred


@lru_cache(maxsize=65536)
def _subject_value(text: str, charset: str) -> str:
    """The folded Subject value (after ``Subject: ``): ASCII as is, else encoded words."""
    if text.isascii():
        if len(text) <= 69:
            return text
        lines: list[str] = []
        line = ""
        room = 69
        for word in text.split(" "):
            if line and len(line) + 1 + len(word) > room:
                lines.append(line)
                line, room = word, 77
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        return "\r\n ".join(lines)
    return "\r\n ".join(_b_words(text, _charset_for(text, charset), 76 - len("Subject: ")))


def _name_tokens(name: str, style: str) -> list[str]:
    """Display-name tokens that may be separated by folding white space.

    A non-ASCII name is kept in a single encoded word whenever it fits (Q if short enough,
    else B: up to 45 bytes), because Python's address parser, unlike RFC 2047 section 6.2, keeps
    the white space between two adjacent encoded words of a phrase: a split name would read back
    as ``Hél ène`` in any stdlib-based importer. Only longer names are split.
    """
    if not name:
        return []
    if name.isascii():
        if any(c in _SPECIALS for c in name):
            return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
        return name.split(" ")
    charset = "utf-8" if style == "b" else _charset_for(name, style)
    if style != "b":
        words = _q_words(name, charset)
        if len(words) == 1:
            return words
    return _b_words(name, charset, 75)


def _address_line(field: str, whos: Sequence[_Who]) -> str:
    """``To: a, b`` for well-formed addresses; folds only when the line would be too long."""
    if len(whos) == 1:  # the common case: one folded line per person and field, cached
        who = whos[0]
        line = who.lines.get(field)
        if line is None:
            line = who.lines[field] = _fold_addresses(field, [who.tokens])
        return line
    line = f"{field}: " + ", ".join([w.hdr for w in whos])
    if len(line) <= 76:
        return line
    return _fold_addresses(field, [w.tokens for w in whos])


def _fold_addresses(field: str, groups: Sequence[Sequence[str]]) -> str:
    """``Field: a, b,`` folded at 76 columns between tokens; tokens never split."""
    out: list[str] = [field, ":"]
    col = len(field) + 1
    last = len(groups) - 1
    for gi, tokens in enumerate(groups):
        tl = len(tokens) - 1
        for ti, tok in enumerate(tokens):
            if gi != last and ti == tl:
                tok += ","
            if col + 1 + len(tok) > 76 and col > len(field) + 1:
                out.append("\r\n ")
                col = 1
            else:
                out.append(" ")
                col += 1
            out.append(tok)
            col += len(tok)
    return "".join(out)


# --------------------------------------------------------------------------- name helpers


def _ascii_fold(text: str) -> str:
    text = text.translate(_LIGATURES)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _slug(text: str, sep: str = "") -> str:
    """Lower-case ASCII slug: ``Saint-Étienne`` -> ``saint-etienne``, ``L'Hôte`` -> ``lhote``."""
    out: list[str] = []
    for ch in _ascii_fold(text).lower():
        if ch.isalnum():
            out.append(ch)
        elif ch in " -" and out and out[-1] != sep and sep:
            out.append(sep)
    return "".join(out).strip(sep) if sep else "".join(out)


def _first_part(first: str) -> str:
    return _slug(first, "-")


def _last_part(last: str) -> str:
    return _slug(last)


class _Who:
    """Everything the renderer needs about one address, precomputed once."""

    __slots__ = (
        "charset",
        "client",
        "email",
        "first",
        "from_line",
        "hdr",
        "internal",
        "lang",
        "lines",
        "mid_host",
        "name",
        "name_style",
        "person",
        "sig",
        "tokens",
        "zone",
    )

    def __init__(
        self,
        email: str,
        name: str,
        *,
        internal: bool,
        client: str,
        zone: int,
        lang: str,
        charset: str,
        sig: str,
        mid_host: str,
        shown: str | None = None,
        person: DemoPerson | None = None,
    ) -> None:
        self.email = email.lower()  # the key; ``shown`` (or the original) is what headers print
        self.name = name
        self.first = name.split(" ")[0] if name else ""
        self.internal = internal
        self.client = client
        self.zone = zone
        self.lang = lang
        self.charset = charset
        self.sig = sig
        self.mid_host = mid_host
        self.person = person
        self.name_style = {"exo": "utf-8", "gmail": "b"}.get(client, charset)
        addr = shown or email
        self.tokens: tuple[str, ...] = (
            (*_name_tokens(name, self.name_style), f"<{addr}>") if name else (addr,)
        )
        self.hdr = " ".join(self.tokens)
        self.lines: dict[str, str] = {}
        self.from_line = _fold_addresses("From", [self.tokens])


# --------------------------------------------------------------------------- the company


def _sample(rng: Random, pool: Sequence[_T], k: int) -> list[_T]:
    """``rng.sample`` for small ``k``: rejection sampling, cheaper than the stdlib's setup."""
    n = len(pool)
    if k == 1:
        return [pool[int(rng.random() * n)]]
    if k * 3 > n:
        return rng.sample(pool, k)
    rand = rng.random
    chosen: set[int] = set()
    out: list[_T] = []
    while len(out) < k:
        i = int(rand() * n)
        if i not in chosen:
            chosen.add(i)
            out.append(pool[i])
    return out


def _pick_cum(cum: Sequence[float], r: float) -> int:
    return bisect_right(cum, r * cum[-1])


def _cumulate(weights: Sequence[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class DemoCompany:
    """The generated company: people and accounts eagerly, mail/calendars/calls lazily.

    ``messages()``, ``events()`` and ``calls()`` restart from the seed on every call, so they
    can be iterated any number of times (by a writer, a sandbox, a benchmark) with identical
    results and without holding everything in memory.

    ``users`` are the internal mailboxes (``users[0]``, the ``manager``, leads the team);
    ``contacts`` work at ``accounts`` (``contacts_by_account``); ``leads`` are prospects, some on
    free-mail; ``others`` are free-mail correspondents the CRM does not know at all.
    """

    def __init__(
        self,
        *,
        seed: int,
        domain: str,
        name: str,
        start: datetime,
        days: int,
        n_messages: int,
        n_events: int,
        n_calls: int,
        users: list[DemoPerson],
        accounts: list[DemoAccount],
        contacts: list[DemoPerson],
        leads: list[DemoPerson],
        others: list[DemoPerson],
        who: dict[str, _Who],
        account_weights: list[float],
        user_weights: list[float],
    ) -> None:
        self.seed = seed
        self.domain = domain
        self.name = name
        self.start = start
        self.days = days
        self.end = start + timedelta(days=days)
        self.n_messages = n_messages
        self.n_events = n_events
        self.n_calls = n_calls
        self.users = users
        self.accounts = accounts
        self.contacts = contacts
        self.leads = leads
        self.others = others
        self.manager = users[0]
        self._who = who
        self._account_cum = _cumulate(account_weights)
        self._user_cum = _cumulate(user_weights)
        self.contacts_by_account: dict[str, list[DemoPerson]] = {a.domain: [] for a in accounts}
        for c in contacts:
            if c.account is not None:
                self.contacts_by_account[c.account].append(c)

    @property
    def mailboxes(self) -> list[str]:
        """Addresses of the internal mailboxes (one per user)."""
        return [u.email for u in self.users]

    def messages(self) -> Iterator[DemoMessage]:
        """Every message in ``sent_at`` order (ties broken by generation order)."""
        return _MessageStream(self).run()

    def events(self) -> Iterator[DemoEvent]:
        """Every meeting (series counted once) in order of first occurrence."""
        return _iter_events(self)

    def calls(self) -> Iterator[DemoCall]:
        """Every Teams call record in start order."""
        return _iter_calls(self)

    def who(self, email: str) -> DemoPerson | None:
        """The person behind an address, if the company knows them."""
        w = self._who.get(email)
        return w.person if w is not None else None


def _unique(candidate: str, used: set[str]) -> str:
    local, _, dom = candidate.partition("@")
    out, n = candidate, 1
    while out in used:
        n += 1
        out = f"{local}{n}@{dom}"
    used.add(out)
    return out


def _phone(rng: Random, country: str, mobile: bool = True) -> str:
    d = [rng.randrange(10, 100) for _ in range(4)]
    if country == "BE":
        return f"+32 4{rng.randrange(70, 100)} {d[0]} {d[1]} {d[2]}"
    if country == "CH":
        return f"+41 7{rng.choice('6789')} {rng.randrange(100, 1000)} {d[0]} {d[1]}"
    if country == "CA":
        return (
            f"+1 {rng.choice(('514', '438', '418', '819'))} {rng.randrange(200, 1000)} {d[0]}{d[1]}"
        )
    if country == "GB":
        return f"+44 7{rng.randrange(100, 1000)} {rng.randrange(100000, 1000000)}"
    lead = rng.choice("67") if mobile else rng.choice("12345")
    return f"+33 {lead} {d[0]} {d[1]} {d[2]} {d[3]}"


def _signature(name: str, title: str, company: str, phone: str) -> str:
    lines = [name]
    if title:
        lines.append(title)
    if company:
        lines.append(company)
    if phone:
        lines.append(f"Tél. {phone}")
    return "\r\n".join(lines)


def _exo_host(rng: Random, region: str) -> str:
    """A plausible Exchange Online server name, the right-hand side of Outlook Message-IDs."""
    pod = f"{region[:2]}{rng.randrange(1, 10)}P{rng.randrange(100, 300)}"
    pod += f"MB{rng.randrange(1000, 10000)}"
    return f"{pod}.{region}.PROD.OUTLOOK.COM"


def generate(
    seed: int = 42,
    *,
    users: int = 8,
    accounts: int = 25,
    messages: int = 2000,
    events: int = 150,
    calls: int = 60,
    start: datetime | None = None,
    days: int = 180,
    domain: str = "contoso-demo.fr",
    company_name: str | None = None,
) -> DemoCompany:
    """Build a demo company. People and accounts are made now; mail, meetings, calls on demand.

    ``start`` defaults to 2026-05-01 UTC (fixed, so the output never depends on today) and must
    be timezone-aware; ``days`` is the span covered.
    """
    if users < 1 or accounts < 1 or days < 1:
        raise ValueError("users, accounts and days must be at least 1")
    if messages < 0 or events < 0 or calls < 0:
        raise ValueError("counts must not be negative")
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    domain = domain.lower()
    rng = _Random(seed)
    name = (
        company_name or " ".join(p.capitalize() for p in domain.split(".")[0].split("-")) + " SAS"
    )
    used: set[str] = set()
    who: dict[str, _Who] = {}

    # Internal sales team: the first user manages it.
    user_list: list[DemoPerson] = []
    user_weights: list[float] = []
    used_names: set[str] = set()
    int_host = _exo_host(rng, "FRAP264")
    for i in range(users):
        while True:
            female = rng.random() < 0.5
            first = rng.choice(N.FIRST_NAMES_F if female else N.FIRST_NAMES_M)
            full = f"{first} {rng.choice(N.LAST_NAMES_FR)}"
            if full not in used_names:
                used_names.add(full)
                break
        last = full[len(first) + 1 :]
        if i == 0:
            title = N.MANAGER_TITLES[0 if female else 1]
        else:
            title = N.USER_TITLES[(i - 1) % len(N.USER_TITLES)][0 if female else 1]
        email = _unique(f"{_first_part(first)}.{_last_part(last)}@{domain}", used)
        phone = _phone(rng, "FR")
        person = DemoPerson(email=email, name=full, title=title, phone=phone)
        user_list.append(person)
        weight = 0.5 if i == 0 else (0.6 if "ssistant" in title else rng.uniform(0.7, 1.6))
        user_weights.append(weight)
        who[email] = _Who(
            email,
            full,
            internal=True,
            client="exo",
            zone=0,
            lang="fr",
            charset="utf-8",
            sig=_signature(full, title, name, phone),
            mid_host=int_host,
            person=person,
        )

    # Accounts, each with an owner (strong tie) and a few colleagues who know it weakly.
    reps = user_list[1:] or user_list
    owner_cycle = [u.email for u in reps] * 2 + [user_list[0].email]
    rng.shuffle(owner_cycle)
    account_list: list[DemoAccount] = []
    account_weights: list[float] = []
    account_clients: dict[str, str] = {}
    account_lang: dict[str, str] = {}
    account_country: dict[str, str] = {}
    used_domains: set[str] = {domain}
    for i in range(accounts):
        country, tlds, legals, cities, lang = N.COUNTRIES[
            _pick_cum(_cumulate(N.COUNTRY_WEIGHTS), rng.random())
        ]
        surnames = N.COUNTRY_SURNAMES[country]
        for _attempt in range(50):
            tld = rng.choice(tlds)
            surname = rng.choice(surnames)
            if lang == "en":
                trade, tslug, industry = rng.choice(N.TRADES_EN)
                legal = rng.choice(legals)
                acc_name = f"{surname} {trade} {legal}".strip()
                dom = f"{_slug(surname)}{tslug}.{tld}"
            else:
                trade, tslug, industry = rng.choice(N.TRADES_FR)
                legal = rng.choice(legals)
                style = rng.random()
                if style < 0.6:
                    acc_name = f"{trade} {surname} {legal}".strip()
                    form = rng.random()
                    if form < 0.5:
                        dom = f"{_slug(surname, '-')}-{tslug}.{tld}"
                    elif form < 0.8:
                        dom = f"{tslug}-{_slug(surname, '-')}.{tld}"
                    else:
                        dom = f"{tslug}{_slug(surname)}.{tld}"
                elif style < 0.85:
                    place, pslug = rng.choice(N.PLACE_WORDS)
                    acc_name = f"{trade} {place}"
                    dom = f"{tslug}-{pslug}.{tld}"
                else:
                    acc_name = f"{surname} & Associés"
                    industry = rng.choice(N.PARTNERSHIP_INDUSTRIES)
                    dom = f"{_slug(surname, '-')}-associes.{tld}"
            if dom not in used_domains and all(a.name != acc_name for a in account_list):
                break
        else:
            dom = f"client{i}.{tld}"
        used_domains.add(dom)
        owner = owner_cycle[i % len(owner_cycle)]
        others = [u.email for u in user_list if u.email != owner]
        n_weak = min(len(others), (0, 1, 1, 1, 2, 2)[rng.randrange(6)])
        known = tuple(sorted(rng.sample(others, n_weak)))
        account_list.append(
            DemoAccount(acc_name, dom, industry, rng.choice(cities), country, owner, known)
        )
        account_weights.append(min(8.0, rng.paretovariate(1.4)))
        r = rng.random()
        account_clients[dom] = (
            "exo" if r < 0.5 else ("legacy" if r < 0.7 and lang == "fr" else "other")
        )
        account_lang[dom] = lang
        account_country[dom] = country

    # Contacts of each account; e-mail patterns vary per company as they do in real life.
    contact_list: list[DemoPerson] = []
    for acc in account_list:
        country = account_country[acc.domain]
        lang = account_lang[acc.domain]
        pattern = rng.randrange(4)
        client = account_clients[acc.domain]
        charset = "windows-1252" if client == "legacy" else "utf-8"
        mid_host = _exo_host(rng, "EURP193") if client == "exo" else acc.domain
        tz = N.COUNTRY_TZ[country]
        capitalise = rng.random() < 0.2
        for _ in range((1, 2, 2, 3, 3, 3, 4, 4, 5, 6)[rng.randrange(10)]):
            female = rng.random() < 0.5
            if lang == "en":
                first = rng.choice(N.FIRST_NAMES_EN)
            else:
                first = rng.choice(N.FIRST_NAMES_F if female else N.FIRST_NAMES_M)
            last = rng.choice(N.COUNTRY_SURNAMES[country])
            fp, lp = _first_part(first), _last_part(last)
            local = (f"{fp}.{lp}", f"{fp[0]}{lp}", f"{fp[0]}.{lp}", fp)[pattern]
            email = _unique(f"{local}@{acc.domain}", used)
            if lang == "en":
                title = rng.choice(N.CONTACT_TITLES_EN)
            else:
                title = rng.choice(N.CONTACT_TITLES_FR)[0 if female else 1]
            phone = _phone(rng, country)
            full = f"{first} {last}"
            person = DemoPerson(email, full, title, acc.domain, phone, acc.name, "", tz, lang)
            contact_list.append(person)
            shown = None
            if capitalise:
                lp_, _, dp = email.partition("@")
                shown = ".".join(p.capitalize() for p in lp_.split(".")) + "@" + dp
            who[email] = _Who(
                email,
                full,
                internal=False,
                client="exo" if client == "exo" else "other",
                zone=_ZONE_CODES[tz],
                lang=lang,
                charset=charset,
                mid_host=mid_host,
                sig=_signature(full, title, acc.name, phone),
                shown=shown,
                person=person,
            )
        if rng.random() < 0.15:  # a shared role mailbox ("compta@"), no person behind it
            role = "Service comptabilité" if lang == "fr" else "Accounts Payable"
            email = _unique(f"{'compta' if lang == 'fr' else 'accounts'}@{acc.domain}", used)
            person = DemoPerson(email, role, "", acc.domain, "", acc.name, "", tz, lang)
            contact_list.append(person)
            who[email] = _Who(
                email,
                role,
                internal=False,
                client="other",
                zone=_ZONE_CODES[tz],
                lang=lang,
                charset=charset,
                sig=f"{role}\r\n{acc.name}",
                mid_host=mid_host,
                person=person,
            )

    def freemail_person(source: str, company: str, lead: bool) -> DemoPerson:
        female = rng.random() < 0.5
        first = rng.choice(N.FIRST_NAMES_F if female else N.FIRST_NAMES_M)
        last = rng.choice(N.LAST_NAMES_FR)
        fp, lp = _first_part(first), _last_part(last)
        fm = rng.choice(N.FREEMAIL_DOMAINS)
        local = rng.choice(
            (
                f"{fp}.{lp}",
                f"{lp}.{fp}",
                f"{fp[0]}{lp}{rng.randrange(10, 99)}",
                f"{fp}{lp}{rng.randrange(1960, 2005)}",
            )
        )
        email = _unique(f"{local}@{fm}", used)
        full = f"{first} {last}"
        phone = _phone(rng, "FR")
        title = rng.choice(("Gérant", "Gérante", "Artisan", "Indépendante", "")) if lead else ""
        person = DemoPerson(email, full, title, None, phone, company, source)
        client = "gmail" if fm == "gmail.com" else "other"
        who[email] = _Who(
            email,
            full,
            internal=False,
            client=client,
            zone=0,
            lang="fr",
            charset="utf-8" if client == "gmail" else rng.choice(("utf-8", "iso-8859-1")),
            sig=full if rng.random() < 0.6 else f"{full}\r\n{phone}",
            mid_host="mail.gmail.com" if client == "gmail" else f"smtp.{fm}",
            person=person,
        )
        return person

    lead_list: list[DemoPerson] = []
    for _ in range(max(5, accounts * 3 // 2)):
        source = rng.choice(N.LEAD_SOURCES)
        company, cdom = rng.choice(N.LEAD_COMPANIES)
        if cdom and rng.random() < 0.6:
            female = rng.random() < 0.5
            first = rng.choice(N.FIRST_NAMES_F if female else N.FIRST_NAMES_M)
            last = rng.choice(N.LAST_NAMES_FR)
            email = _unique(f"{_first_part(first)}.{_last_part(last)}@{cdom}", used)
            full = f"{first} {last}"
            phone = _phone(
                rng, "CH" if cdom.endswith(".ch") else "BE" if cdom.endswith(".be") else "FR"
            )
            title = rng.choice(("Gérant", "Gérante", "Directrice", "Responsable administratif", ""))
            person = DemoPerson(email, full, title, None, phone, company, source)
            who[email] = _Who(
                email,
                full,
                internal=False,
                client="other",
                zone=0,
                lang="fr",
                charset="utf-8",
                sig=_signature(full, title, company, phone),
                mid_host=cdom,
                person=person,
            )
            lead_list.append(person)
        else:
            lead_list.append(freemail_person(source, company if rng.random() < 0.5 else "", True))

    other_list = [freemail_person("", "", False) for _ in range(max(5, accounts))]

    return DemoCompany(
        seed=seed,
        domain=domain,
        name=name,
        start=start,
        days=days,
        n_messages=messages,
        n_events=events,
        n_calls=calls,
        users=user_list,
        accounts=account_list,
        contacts=contact_list,
        leads=lead_list,
        others=other_list,
        who=who,
        account_weights=account_weights,
        user_weights=user_weights,
    )


# --------------------------------------------------------------------------- message planning

_F_PRIVATE = 1
_F_IMPORTANT = 2
_F_RELANCE = 4
# Sensitivity values that make an item private for syncd's policy (both connectors). Outlook's
# "Personal" is a label, not a restriction, so it is not generated as a private marker.
_SENSITIVITY = ("Private", "Private", "Confidential", "Company-Confidential")


class _Planned:
    """A message decided but not yet rendered (waits in the heap until its time comes)."""

    __slots__ = (
        "bcc",
        "cc",
        "flags",
        "has_child",
        "kind",
        "lang",
        "malformed",
        "mid",
        "parent",
        "refs",
        "robot",
        "root",
        "sender",
        "seq",
        "subject",
        "to",
        "ts",
    )

    def __init__(
        self,
        ts: int,
        sender: _Who,
        to: list[_Who],
        cc: list[_Who],
        subject: str,
        kind: str,
        lang: str,
        parent: _Planned | None,
    ) -> None:
        self.ts = ts
        self.sender = sender
        self.to = to
        self.cc = cc
        self.bcc: list[_Who] = []
        self.subject = subject
        self.kind = kind
        self.lang = lang
        self.parent = parent
        self.flags = 0
        self.has_child = False
        self.malformed: str | None = None
        self.robot: tuple[str, ...] = ()
        self.mid = ""
        self.seq = 0
        self.refs: tuple[str, ...] = ()
        self.root: _Planned = self if parent is None else parent.root
        if parent is not None:
            parent.has_child = True

    def __lt__(self, other: _Planned) -> bool:  # heap ties are broken by seq before this
        return self.seq < other.seq


# Thread length distributions (index + 1 = number of messages).
_LEN_CUSTOMER = _cumulate((30, 25, 18, 10, 7, 4, 3, 2, 1))
_LEN_INTERNAL = _cumulate((35, 30, 18, 9, 5, 3))
_LEN_LEAD = _cumulate((45, 35, 15, 5))


_REPLY_PREFIX = re.compile(r"(?i)re ?:")
_AUTOMATED_KINDS = frozenset({"newsletter", "notification", "auto-reply", "bounce"})
_CT_ASCII = 'Content-Type: text/plain; charset="us-ascii"\r\nContent-Transfer-Encoding: 7bit'
_CT_8BIT = {
    cs: f'Content-Type: text/plain; charset="{cs}"\r\nContent-Transfer-Encoding: 8bit'
    for cs in _CODECS
}


class _Context(dict[str, str]):
    """Template values filled on first use (``str.format_map`` calls ``__missing__``)."""

    def __init__(self, stream: _MessageStream, ts: int) -> None:
        super().__init__()
        self.stream = stream
        self.ts = ts

    def __missing__(self, key: str) -> str:
        value = self.stream.context_value(key, self.ts)
        self[key] = value
        return value



def _robots(
    table: Sequence[tuple[str, str, tuple[str, ...]]], mid_prefix: str
) -> list[tuple[_Who, tuple[str, ...]]]:
    """Automated senders (newsletters, notifiers) with the subjects they send."""
    return [
        (
            _Who(addr, name, internal=False, client="robot", zone=0, lang="fr",
                 charset="utf-8", sig="", mid_host=mid_prefix + addr.split("@")[1]),
            subjects,
        )
        for name, addr, subjects in table
    ]

class _MessageStream:
    """Plans threads in time order and renders each message when it is due."""

    def __init__(self, co: DemoCompany) -> None:
        self.co = co
        self.rng = _Random(f"syncd-demo/{co.seed}/messages")
        self.clock = _Clock(co.start, co.days)
        self.users = [co._who[u.email] for u in co.users]
        self.internal = frozenset(u.email for u in co.users)
        self.seq = 0
        self.malformed_debt = 0.0
        self.malformed_count = 0
        self.domain = co.domain
        rng = self.rng
        self.robots_news = _robots(N.NEWSLETTERS, "mail.")
        self.robots_notify = _robots(N.NOTIFIERS, "")
        exch = f"microsoftexchange{rng.getrandbits(128):032x}@{co.domain}"
        self.ndr_exchange = _Who(
            exch,
            "Microsoft Outlook",
            internal=False,
            client="robot",
            zone=0,
            lang="fr",
            charset="utf-8",
            sig="",
            mid_host=_exo_host(rng, "FRAP264"),
            shown=f"MicrosoftExchange{exch[17:49]}@{co.domain}",
        )
        self.acc_contacts = {
            d: [co._who[c.email] for c in cs] for d, cs in co.contacts_by_account.items()
        }
        self.lead_who = [co._who[p.email] for p in co.leads]
        self.other_who = [co._who[p.email] for p in co.others]
        self.all_contacts = [co._who[c.email] for c in co.contacts]
        # kind -> weight of starting a thread of that kind
        self.kinds = (
            "customer",
            "internal",
            "lead",
            "broadcast",
            "newsletter",
            "notification",
            "bounce",
        )
        self.kind_cum = _cumulate((44, 14 if len(self.users) > 1 else 0, 7, 1.2, 13, 8, 1))

    # ------------------------------------------------------------------ helpers

    def user(self) -> _Who:
        return self.users[_pick_cum(self.co._user_cum, self.rng.random())]

    def colleague(self, of: _Who) -> _Who | None:
        others = [u for u in self.users if u is not of]
        return self.rng.choice(others) if others else None

    def new_mid(self, sender: _Who) -> str:
        self.seq += 1
        r = self.rng.getrandbits(64)
        client = sender.client
        if client == "exo":
            pod = sender.mid_host.split(".", 1)[0]
            return f"{pod}{r:016X}{self.seq:06X}@{sender.mid_host}"
        if client == "gmail":
            return f"CAH{r:020x}{self.seq:x}@mail.gmail.com"
        if client == "robot":
            return f"{r:x}.{self.seq}.{self.co.seed}@{sender.mid_host}"
        return f"{r:016x}.{self.seq:x}@{sender.mid_host}"

    @staticmethod
    def reply_subject(who: _Who, subject: str, forward: bool = False) -> str:
        """The subject ``who``'s mail client gives a reply (or forward) to ``subject``.

        Outlook and Gmail do not add a reply prefix when one is already there; older clients
        only recognise their own spelling, so ``RE : Re: ...`` chains appear as in real mail.
        French Outlook forwards with ``TR:``, English with ``FW:``, Gmail with ``Fwd:``.
        """
        if forward:
            prefix = "Fwd: " if who.client == "gmail" else ("FW: " if who.lang == "en" else "TR: ")
            return subject if subject.startswith(prefix) else prefix + subject
        if who.client == "other":
            prefix = ("RE: ", "Re: ", "RE : ")[sum(who.email.encode()) % 3]
            return subject if subject.startswith(prefix) else prefix + subject
        if _REPLY_PREFIX.match(subject):
            return subject
        return ("Re: " if who.client == "gmail" else "RE: ") + subject

    def context(self, ts: int, account: str = "", city: str = "") -> _Context:
        ctx = _Context(self, ts)
        if account:
            ctx["account"] = account
        if city:
            ctx["city"] = city
        return ctx

    def context_value(self, key: str, ts: int) -> str:
        """One template placeholder, computed only when a template uses it."""
        rng = self.rng
        if key == "account":
            return rng.choice(self.co.accounts).name
        if key == "product":
            return rng.choice(N.PRODUCTS)
        if key == "n":
            return str(rng.randrange(1000, 99999))
        if key == "weekday":
            return N.WEEKDAYS_FR[rng.randrange(5)]
        if key == "date":
            return _fr_date(ts + 7200 + rng.randrange(1, 20) * _DAY, False)
        if key == "city":
            return rng.choice(N.COUNTRIES[0][3])
        if key in ("first", "last"):
            person = rng.choice(self.users)
            return person.first if key == "first" else person.name.split(" ", 1)[-1]
        if key == "company":
            return self.co.name
        if key == "amount":
            return f"{rng.randrange(20, 5000)},{rng.randrange(100):02d}"
        t = time.gmtime(ts + 7200)
        if key == "year":
            return str(t.tm_year + (1 if t.tm_mon >= 10 else 0))
        if key == "week":
            return str(date(t.tm_year, t.tm_mon, t.tm_mday).isocalendar().week)
        if key == "quarter":
            return str((t.tm_mon - 1) // 3 + 1)
        if key == "season":
            return N.SEASONS_FR[(t.tm_mon % 12) // 3]
        if key == "month":
            return N.MONTHS_FR[t.tm_mon % 12]
        raise KeyError(key)

    def reply_delay(self, replier: _Who, relance: bool = False) -> int:
        rng = self.rng
        if relance:
            return rng.randrange(3 * _DAY, 8 * _DAY)
        if replier.internal:
            d = rng.lognormvariate(7.9, 1.1)  # median ~45 min
            return int(min(max(d, 60.0), 3 * _DAY))
        d = rng.lognormvariate(9.3, 1.2)  # median ~3 h
        return int(min(max(d, 300.0), 6 * _DAY))

    def child_time(self, parent_ts: int, delay: int, replier: _Who) -> int:
        clock = self.clock
        evening = 0.1 if replier.internal else 0.04
        ts = clock.at_business_time(parent_ts + delay, replier.zone, self.rng, evening)
        if ts >= clock.end_ts:
            room = clock.end_ts - 1 - parent_ts
            ts = parent_ts + (int(self.rng.random() * room) if room > 1 else 0)
        if ts <= parent_ts:
            ts = parent_ts + 1 + self.rng.randrange(120)
        return ts

    def root_time(self, day: int, zone: int) -> int:
        rng = self.rng
        hour = _HOUR_TABLE[int(rng.random() * len(_HOUR_TABLE))]
        local = self.clock.day_epoch(day) + hour * 3600 + rng.randrange(3600)
        return self.clock.clamp(self.clock.to_utc(zone, local))

    # ------------------------------------------------------------------ thread planners

    def plan(self, day: int, budget: int) -> list[_Planned]:
        kind = self.kinds[_pick_cum(self.kind_cum, self.rng.random())]
        if kind == "customer":
            return self.plan_customer(day, budget)
        if kind == "internal":
            return self.plan_internal(day, budget)
        if kind == "lead":
            return self.plan_lead(day, budget)
        if kind == "broadcast":
            return [self.plan_broadcast(day)]
        if kind == "bounce" and budget >= 2:
            return self.plan_bounce(day)
        if kind == "notification":
            return [self.plan_robot(day, "notification")]
        return [self.plan_robot(day, "newsletter")]

    def thread_length(self, budget: int, cum: Sequence[float]) -> int:
        return min(budget, _pick_cum(cum, self.rng.random()) + 1)

    def plan_customer(self, day: int, budget: int) -> list[_Planned]:
        rng = self.rng
        co = self.co
        acc = co.accounts[_pick_cum(co._account_cum, rng.random())]
        contacts = self.acc_contacts[acc.domain]
        r = rng.random()
        if r < 0.78:
            user = co._who[acc.owner]
        elif r < 0.95 and acc.known_by:
            user = co._who[rng.choice(acc.known_by)]
        else:
            user = self.user()
        to_n = 1 if rng.random() < 0.75 or len(contacts) < 2 else 2
        ext = _sample(rng, contacts, to_n)
        cc: list[_Who] = []
        if len(contacts) > to_n and rng.random() < 0.15:
            cc.append(rng.choice([c for c in contacts if c not in ext]))
        if rng.random() < 0.15:
            helper = (
                co._who[rng.choice(acc.known_by)] if acc.known_by else co._who[co.manager.email]
            )
            if helper is not user:
                cc.append(helper)
        lang = ext[0].lang
        pool = N.SALES_SUBJECTS_EN if lang == "en" else N.SALES_SUBJECTS_FR
        inbound = rng.random() < 0.2
        sender = ext[0] if inbound else user
        ts = self.root_time(day, sender.zone)
        subject = rng.choice(pool).format_map(self.context(ts, acc.name, acc.city))
        if inbound:
            root = _Planned(ts, ext[0], [user], [*ext[1:], *cc], subject, "customer", lang, None)
        else:
            root = _Planned(ts, user, ext, cc, subject, "customer", lang, None)
        if rng.random() < 0.01:
            root.flags |= _F_PRIVATE
        if rng.random() < 0.04:
            root.flags |= _F_IMPORTANT
        length = self.thread_length(budget, _LEN_CUSTOMER)
        return self.grow_thread(root, length, allow_ooo=True)

    def grow_thread(self, root: _Planned, length: int, allow_ooo: bool) -> list[_Planned]:
        """Add replies (and the odd auto-reply or forward) until the thread has ``length``."""
        rng = self.rng
        msgs = [root]
        main = root
        ooo_done = not allow_ooo
        while len(msgs) < length:
            s = main.sender
            if s.internal and not ooo_done and rng.random() < 0.05:
                target = next((w for w in main.to if not w.internal), None)
                if target is not None:
                    ooo_done = True
                    msgs.append(self.auto_reply(main, target))
                    continue
            if not s.internal and len(msgs) + 1 < length and rng.random() < 0.1:
                fwd = self.forward(main)
                if fwd is not None:
                    msgs.append(fwd)
                    if len(msgs) < length and rng.random() < 0.6:
                        msgs.append(self.reply(fwd, fwd.to[0], reply_all=False))
                    continue
            if s.internal:
                if rng.random() < 0.12 and main.kind == "customer":
                    nxt = self.reply(main, s, reply_all=True, relance=True)
                else:
                    pool = (
                        main.to
                        if main.kind == "internal"
                        else ([w for w in main.to if not w.internal] or main.to)
                    )
                    nxt = self.reply(main, rng.choice(pool), reply_all=rng.random() < 0.6)
            else:
                insiders = [w for w in (*main.to, *main.cc) if w.internal]
                if not insiders:
                    break
                replier = insiders[0] if rng.random() < 0.8 else rng.choice(insiders)
                nxt = self.reply(main, replier, reply_all=rng.random() < 0.6)
            msgs.append(nxt)
            main = nxt
        return msgs

    def reply(
        self, parent: _Planned, replier: _Who, *, reply_all: bool, relance: bool = False
    ) -> _Planned:
        if relance:
            to, cc = list(parent.to), list(parent.cc)
        else:
            to = [parent.sender]
            cc = []
            if reply_all:
                seen = {replier.email, parent.sender.email}
                for w in (*parent.to, *parent.cc):
                    if w.email not in seen:
                        seen.add(w.email)
                        cc.append(w)
        ts = self.child_time(parent.ts, self.reply_delay(replier, relance), replier)
        subject = self.reply_subject(replier, parent.subject)
        p = _Planned(ts, replier, to, cc, subject, parent.kind, parent.lang, parent)
        p.flags = parent.flags & _F_PRIVATE
        if relance:
            p.flags |= _F_RELANCE
        return p

    def auto_reply(self, parent: _Planned, target: _Who) -> _Planned:
        ts = parent.ts + 2 + self.rng.randrange(90)
        if target.lang == "en":
            subject = f"Automatic reply: {parent.subject}"
        elif self.rng.random() < 0.7:
            subject = f"Réponse automatique : {parent.subject}"
        else:
            subject = "Réponse automatique : absent du bureau"
        return _Planned(ts, target, [parent.sender], [], subject, "auto-reply", target.lang, parent)

    def forward(self, parent: _Planned) -> _Planned | None:
        insiders = [w for w in (*parent.to, *parent.cc) if w.internal]
        if not insiders:
            return None
        fwd_by = insiders[0]
        colleague = self.colleague(fwd_by)
        if colleague is None:
            return None
        ts = self.child_time(parent.ts, self.reply_delay(fwd_by), fwd_by)
        subject = self.reply_subject(fwd_by, parent.subject, forward=True)
        p = _Planned(ts, fwd_by, [colleague], [], subject, parent.kind, "fr", parent)
        p.flags = parent.flags & _F_PRIVATE
        return p

    def plan_internal(self, day: int, budget: int) -> list[_Planned]:
        rng = self.rng
        sender = self.user()
        others = [u for u in self.users if u is not sender]
        to = _sample(rng, others, min(len(others), (1, 1, 1, 2, 2, 3)[rng.randrange(6)]))
        rest = [u for u in others if u not in to]
        cc = _sample(rng, rest, min(len(rest), (0, 0, 0, 1, 2)[rng.randrange(5)]))
        ts = self.root_time(day, 0)
        private = rng.random() < 0.05
        if private:  # personal matters go to the manager only
            subject = rng.choice(N.PRIVATE_SUBJECTS)
            manager = self.users[0]
            to, cc = ([manager] if sender is not manager else to[:1]), []
        else:
            subject = rng.choice(N.INTERNAL_SUBJECTS).format_map(self.context(ts))
        root = _Planned(ts, sender, to, cc, subject, "internal", "fr", None)
        if private:
            root.flags |= _F_PRIVATE
        length = self.thread_length(budget, _LEN_INTERNAL)
        return self.grow_thread(root, length, allow_ooo=False)

    def plan_lead(self, day: int, budget: int) -> list[_Planned]:
        rng = self.rng
        user = self.user()
        r = rng.random()
        stranger = rng.choice(self.other_who) if r < 0.3 else rng.choice(self.lead_who)
        ts = self.root_time(day, 0)
        subject = rng.choice(N.LEAD_SUBJECTS).format_map(self.context(ts))
        if r < 0.8:
            root = _Planned(ts, stranger, [user], [], subject, "lead", "fr", None)
        else:
            root = _Planned(ts, user, [stranger], [], subject, "lead", "fr", None)
        length = self.thread_length(budget, _LEN_LEAD)
        return self.grow_thread(root, length, allow_ooo=False)

    def plan_broadcast(self, day: int) -> _Planned:
        rng = self.rng
        user = self.user()
        pool = self.all_contacts
        n = min(len(pool), rng.randrange(15, 121))
        recipients = _sample(rng, pool, n)
        ts = self.root_time(day, 0)
        subject = rng.choice(N.BROADCAST_SUBJECTS).format_map(self.context(ts))
        if rng.random() < 0.65:  # the careful way: to yourself, customers in Bcc
            p = _Planned(ts, user, [user], [], subject, "broadcast", "fr", None)
            p.bcc = recipients
        else:  # the careless way: everyone visible in To
            p = _Planned(ts, user, recipients, [], subject, "broadcast", "fr", None)
        return p

    def plan_robot(self, day: int, kind: str) -> _Planned:
        rng = self.rng
        robots = self.robots_news if kind == "newsletter" else self.robots_notify
        robot, subjects = rng.choice(robots)
        user = self.user()
        ts = self.root_time(day, 0)
        subject = rng.choice(subjects).format_map(self.context(ts))
        return _Planned(ts, robot, [user], [], subject, kind, "fr", None)

    def plan_bounce(self, day: int) -> list[_Planned]:
        rng = self.rng
        co = self.co
        acc = co.accounts[_pick_cum(co._account_cum, rng.random())]
        user = co._who[acc.owner]
        target = rng.choice(self.acc_contacts[acc.domain])
        local, _, dom = target.email.partition("@")
        typo = local[:-1] + ("e" if local[-1] != "e" else "a") if len(local) > 2 else local + "x"
        bad = _Who(
            f"{typo}@{dom}",
            target.name,
            internal=False,
            client="other",
            zone=target.zone,
            lang=target.lang,
            charset=target.charset,
            sig="",
            mid_host=dom,
        )
        ts = self.root_time(day, 0)
        pool = N.SALES_SUBJECTS_EN if target.lang == "en" else N.SALES_SUBJECTS_FR
        subject = rng.choice(pool).format_map(self.context(ts, acc.name, acc.city))
        first = _Planned(ts, user, [bad], [], subject, "customer", target.lang, None)
        if rng.random() < 0.5:
            robot = self.ndr_exchange
            ndr_subject = f"Non remis : {subject}"
        else:
            addr = f"mailer-daemon@mx1.{dom}"
            robot = _Who(
                addr,
                "Mail Delivery System",
                internal=False,
                client="robot",
                zone=0,
                lang="en",
                charset="utf-8",
                sig="",
                mid_host=f"mx1.{dom}",
                shown=f"MAILER-DAEMON@mx1.{dom}",
            )
            ndr_subject = "Undelivered Mail Returned to Sender"
        ndr = _Planned(
            ts + 3 + rng.randrange(60), robot, [user], [], ndr_subject, "bounce", "fr", first
        )
        ndr.robot = (bad.email,)
        return [first, ndr]

    # ------------------------------------------------------------------ the loop

    def finish_plan(self, msgs: list[_Planned]) -> None:
        """Give ids and references, and pick the leaves that will be malformed."""
        for p in msgs:
            p.mid = self.new_mid(p.sender)
            p.seq = self.seq
            parent = p.parent
            if parent is not None and p.kind != "bounce":
                refs = (*parent.refs, parent.mid)
                p.refs = refs if len(refs) <= 12 else (refs[0], *refs[-11:])
        for p in msgs:
            self.malformed_debt += MALFORMED_RATE
            if self.malformed_debt >= 1.0 and not p.has_child and p.kind != "bounce":
                self.malformed_debt -= 1.0
                p.malformed = MALFORMED_KINDS[self.malformed_count % len(MALFORMED_KINDS)]
                self.malformed_count += 1

    def run(self) -> Iterator[DemoMessage]:
        total = self.co.n_messages
        clock = self.clock
        heap: list[tuple[int, int, _Planned]] = []
        planned = 0
        push, pop = heapq.heappush, heapq.heappop
        render = self.render
        while planned < total:
            day = clock.day_for(planned / total)
            bound = clock.day_epoch(day) - 3 * 3600
            while heap and heap[0][0] < bound:
                yield render(pop(heap)[2])
            msgs = self.plan(day, total - planned)
            self.finish_plan(msgs)
            planned += len(msgs)
            for p in msgs:
                push(heap, (p.ts, p.seq, p))
        while heap:
            yield render(pop(heap)[2])

    # ------------------------------------------------------------------ rendering

    def render(self, p: _Planned) -> DemoMessage:
        """Turn a planned message into bytes. The hot path: keep it flat."""
        sender = p.sender
        kind = p.kind
        malformed = p.malformed
        parent = p.parent
        refs = p.refs
        to, cc, bcc = p.to, p.cc, p.bcc
        off = 0 if sender.client == "exo" else self.clock.offset(sender.zone, p.ts)
        to_addrs = [w.email for w in to]
        cc_addrs = [w.email for w in cc]
        sender_addr = sender.email
        if malformed is None:
            head = [sender.from_line]
            if to:
                head.append(_address_line("To", to))
            if cc:
                head.append(_address_line("Cc", cc))
            head.append("Subject: " + _subject_value(p.subject, sender.charset))
            head.append("Date: " + _rfc_date(p.ts, off))
            head.append(f"Message-ID: <{p.mid}>")
        else:
            head, sender_addr = self.malformed_head(p, off, to_addrs, cc_addrs)
        if refs and parent is not None:
            head.append(f"In-Reply-To: <{parent.mid}>")
            head.append("References: " + "\r\n ".join([f"<{m}>" for m in refs]))
        head.append("MIME-Version: 1.0")
        automated = kind in _AUTOMATED_KINDS
        if automated:
            if kind == "newsletter":
                host = sender.email.split("@")[1]
                head.append(
                    f"List-Unsubscribe: <https://{host}/unsubscribe?u={p.seq:x}>,\r\n"
                    f" <mailto:unsubscribe@{host}?subject=unsubscribe>\r\n"
                    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                    f"List-Id: <lettre.{host}>\r\nPrecedence: bulk"
                )
            elif kind == "notification":
                head.append("Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All")
            elif kind == "auto-reply":
                head.append("Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All")
            else:
                head.append(f"Auto-Submitted: auto-replied\r\nX-Failed-Recipients: {p.robot[0]}")
        flags = p.flags
        if flags:
            if flags & _F_PRIVATE:
                head.append("Sensitivity: " + _SENSITIVITY[p.root.seq % len(_SENSITIVITY)])
            if flags & _F_IMPORTANT:
                head.append("Importance: high\r\nX-Priority: 1")
        if sender.client == "exo":
            head.append("Content-Language: fr-FR" if p.lang == "fr" else "Content-Language: en-US")
        if kind == "bounce":
            body_bytes, ctype = self.bounce_body(p)
            head.append(ctype)
        else:
            body = self.body(p)
            if body.isascii():
                head.append(_CT_ASCII)
                body_bytes = body.encode("ascii")
            else:
                charset = _charset_for(body, sender.charset)
                head.append(_CT_8BIT[charset])
                body_bytes = body.encode(_CODECS[charset])
        head.append("\r\n")
        head_bytes = "\r\n".join(head).encode("ascii")
        if malformed == "undecodable-header":
            subject = p.subject if not p.subject.isascii() else "Réf. " + p.subject
            head_bytes = head_bytes.replace(b"\x00RAW\x00", subject.encode("latin-1", "replace"))

        bcc_addrs = [w.email for w in bcc]
        if bcc or len(to_addrs) + len(cc_addrs) > 1:
            recipients = tuple(dict.fromkeys([*to_addrs, *cc_addrs, *bcc_addrs]))
        else:
            recipients = tuple(to_addrs)
        internal = self.internal
        inbox = [
            (e, "inbox")
            for e in dict.fromkeys([w.email for w in (*to, *cc, *bcc)])
            if e in internal
        ]
        if sender.internal:
            inbox.insert(0, (sender.email, "sentitems"))
        return _new_message(
            p.mid,
            head_bytes + body_bytes,
            sender_addr,
            recipients,
            datetime.fromtimestamp(p.ts, UTC),
            tuple(inbox),
            p.subject,
            tuple(to_addrs),
            tuple(cc_addrs),
            tuple(bcc_addrs),
            parent.mid if (refs and parent is not None) else None,
            refs,
            p.root.mid,
            kind,
            bool(flags & _F_PRIVATE),
            automated,
            malformed,
        )

    def malformed_head(
        self, p: _Planned, off: int, to_addrs: list[str], cc_addrs: list[str]
    ) -> tuple[list[str], str]:
        """Header lines of a deliberately broken message (the slow, rare path)."""
        malformed = p.malformed
        to_groups: list[Sequence[str]] = [w.tokens for w in p.to]
        cc_groups: list[Sequence[str]] = [w.tokens for w in p.cc]
        sender_addr: str = p.sender.email
        from_tokens: Sequence[str] = p.sender.tokens
        if malformed == "garbled-address":
            sender_addr, from_tokens = self.garble(p, to_groups, cc_groups, to_addrs, cc_addrs)
        head = [_fold_addresses("From", [from_tokens])]
        if to_groups:
            head.append(_fold_addresses("To", to_groups))
        if cc_groups:
            head.append(_fold_addresses("Cc", cc_groups))
        if malformed == "undecodable-header":
            head.append("Subject: \x00RAW\x00")  # replaced by raw Latin-1 bytes afterwards
        else:
            head.append("Subject: " + _subject_value(p.subject, p.sender.charset))
        if malformed != "missing-date":
            head.append("Date: " + _rfc_date(p.ts, off))
        if malformed != "missing-message-id":
            head.append(f"Message-ID: <{p.mid}>")
        return head, sender_addr

    def garble(
        self,
        p: _Planned,
        to_groups: list[Sequence[str]],
        cc_groups: list[Sequence[str]],
        to_addrs: list[str],
        cc_addrs: list[str],
    ) -> tuple[str, Sequence[str]]:
        """Break one external address the way broken clients and scripts do."""

        def bad(w: _Who) -> tuple[str, tuple[str, ...]]:
            local, _, dom = w.email.partition("@")
            g = (
                f"{local}@@{dom}",
                f"{local} {dom}",
                f"{local}@",
                f"{local}@{dom.replace('.', '..')}",
            )[p.seq % 4]
            name_tokens = w.tokens[:-1] if len(w.tokens) > 1 else ()
            return g, (*name_tokens, f"<{g}>")

        for groups, addrs, whos in ((to_groups, to_addrs, p.to), (cc_groups, cc_addrs, p.cc)):
            for i, w in enumerate(whos):
                if not w.internal:
                    addrs[i], groups[i] = bad(w)
                    return p.sender.email, p.sender.tokens
        if not p.sender.internal:
            return bad(p.sender)
        if p.to:
            to_addrs[0], to_groups[0] = bad(p.to[0])
        return p.sender.email, p.sender.tokens

    def slot(self, ts: int, zone: int) -> str:
        local = ts + self.clock.offset(zone, ts) + self.rng.randrange(1, 6) * _DAY
        local = (
            local
            - local % _DAY
            + (9, 10, 11, 14, 15, 16)[self.rng.randrange(6)] * 3600
            + (1800 if self.rng.random() < 0.3 else 0)
        )
        while (local // _DAY + 3) % 7 >= 5:
            local += _DAY
        return _fr_slot(local)

    def body(self, p: _Planned) -> str:
        rng = self.rng
        s = p.sender
        kind = p.kind
        first_to = p.to[0].first if p.to else ""
        if kind == "newsletter":
            host = s.email.split("@")[1]
            return (
                f"{p.subject}\r\n\r\nSi ce message ne s'affiche pas correctement, consultez "
                f"la version en ligne : https://{host}/v/{p.seq:x}\r\n\r\n"
                f"Se désabonner : https://{host}/unsubscribe\r\n"
            )
        if kind == "notification":
            footer = rng.choice(N.NOTIFICATION_BODIES)
            return f"Bonjour {first_to},\r\n\r\n{p.subject}.\r\n\r\n{footer}\r\n"
        if kind == "auto-reply":
            back = p.ts + self.clock.offset(s.zone, p.ts) + rng.randrange(2, 15) * _DAY
            phone = s.person.phone if s.person is not None else ""
            if p.lang == "en":
                return N.OOO_BODY_EN.format(date=_en_date(back), name=s.name) + "\r\n"
            return (
                rng.choice(N.OOO_BODIES_FR).format(
                    date=_fr_date(back), phone=phone or "01 23 45 67 89", name=s.name
                )
                + "\r\n"
            )
        lines: list[str] = []
        if kind == "internal":
            greet, sents, sign, sig = (
                N.GREETINGS_INTERNAL,
                N.SENTENCES_INTERNAL,
                N.SIGN_OFFS_INTERNAL,
                s.first,
            )
        elif kind == "broadcast":
            lines = [
                "Madame, Monsieur,",
                "",
                rng.choice(N.BROADCAST_BODIES),
                "",
                "Bien cordialement,",
                s.sig,
            ]
            return "\r\n".join(lines) + "\r\n"
        elif p.lang == "en":
            greet, sents, sign, sig = N.GREETINGS_EN, N.SENTENCES_EN, N.SIGN_OFFS_EN, s.sig
        elif kind == "lead" and not s.internal:
            greet, sents, sign, sig = (
                ("Bonjour,", "Bonjour Madame, Monsieur,"),
                N.LEAD_SENTENCES,
                N.SIGN_OFFS_FR,
                s.sig,
            )
        elif s.internal:
            greet, sents, sign, sig = N.GREETINGS_FR, N.SENTENCES_FR, N.SIGN_OFFS_FR, s.sig
        else:
            greet, sents, sign, sig = N.GREETINGS_FR, N.SENTENCES_EXTERNAL_FR, N.SIGN_OFFS_FR, s.sig
        lines.append(rng.choice(greet).replace("{first}", first_to or "à tous"))
        lines.append("")
        if p.flags & _F_RELANCE:
            lines.append("Je me permets de revenir vers vous au sujet de mon message ci-dessous.")
        for sentence in _sample(rng, sents, 1 + (rng.random() < 0.6) + (rng.random() < 0.25)):
            if "{" in sentence:
                sentence = sentence.replace("{slot}", self.slot(p.ts, s.zone)).replace(
                    "{first}", rng.choice(self.users).first
                )
            lines.append(sentence)
        lines.append("")
        lines.append(rng.choice(sign))
        lines.append(sig)
        parent = p.parent
        if parent is not None:
            lines.append("")
            lines.append(self.quote(parent, s))
        return "\r\n".join(lines) + "\r\n"

    def quote(self, parent: _Planned, replier: _Who) -> str:
        """The attribution line(s) above a quoted parent, in the replier's client style."""
        local = parent.ts + self.clock.offset(replier.zone, parent.ts)
        t = time.gmtime(local)
        ps = parent.sender
        if replier.client == "gmail":
            return (
                f"Le {N.WEEKDAYS_FR_ABBR[t.tm_wday]} {t.tm_mday} {N.MONTHS_FR[t.tm_mon - 1]} "
                f"{t.tm_year} à {t.tm_hour:02d}:{t.tm_min:02d}, {ps.name} <{ps.email}> a écrit :"
                f"\r\n> {parent.subject}"
            )
        if replier.lang == "en":
            return (
                f"From: {ps.name} <{ps.email}>\r\nSent: {_WD_EN_FULL[t.tm_wday]}, "
                f"{_en_date(local)} {t.tm_hour:02d}:{t.tm_min:02d}"
                f"\r\nTo: {'; '.join(w.name or w.email for w in parent.to)}"
                f"\r\nSubject: {parent.subject}"
            )
        out = (
            f"De : {ps.name} <{ps.email}>\r\nEnvoyé : {_fr_date(local)} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}\r\nÀ : "
            f"{'; '.join(w.name or w.email for w in parent.to[:8])}"
        )
        if parent.cc:
            out += f"\r\nCc : {'; '.join(w.name or w.email for w in parent.cc[:8])}"
        return out + f"\r\nObjet : {parent.subject}"

    def bounce_body(self, p: _Planned) -> tuple[bytes, str]:
        """A multipart/report delivery status notification (RFC 3464), in French for Exchange."""
        failed = p.robot[0]
        orig = p.parent
        boundary = f"=_ndr_{p.seq:08x}"
        host = p.sender.email.split("@")[1]
        exchange = p.sender is self.ndr_exchange
        if exchange:
            text = (
                f"Impossible de remettre votre message à {failed}.\r\n\r\n"
                "L'adresse e-mail que vous avez saisie est introuvable. Vérifiez l'adresse "
                "du destinataire et renvoyez le message.\r\n"
            )
        else:
            text = (
                f"This is the mail system at host {host}.\r\n\r\nI'm sorry to have to inform "
                "you that your message could not be delivered to one or more recipients.\r\n\r\n"
                f"<{failed}>: host {host} said: 550 5.1.1 User unknown\r\n"
            )
        orig_headers = ""
        if orig is not None:
            orig_headers = (
                f"From: {orig.sender.email}\r\nTo: {failed}\r\n"
                f"Subject: {_subject_value(orig.subject, 'utf-8')}\r\n"
                f"Message-ID: <{orig.mid}>\r\n"
            )
        body = (
            f'--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; {host}\r\n\r\n"
            f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected: "
            f"User unknown\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{orig_headers}\r\n"
            f"--{boundary}--\r\n"
        )
        ctype = (
            f"Content-Type: multipart/report; report-type=delivery-status;\r\n"
            f' boundary="{boundary}"'
        )
        return body.encode("utf-8"), ctype


# --------------------------------------------------------------------------- events


_RESPONSES = ("accepted",) * 13 + ("tentative",) * 2 + ("declined",) * 2 + ("none",) * 3


def _event_uid(rng: Random) -> str:
    """An Outlook-style iCalUId (the Graph ``iCalUId`` of a meeting created in Outlook)."""
    return (
        "040000008200E00074C5B7101A82E00800000000"
        f"{rng.getrandbits(64):016X}{rng.getrandbits(64):016X}{rng.getrandbits(32):08X}"
    )


def _iter_events(co: DemoCompany) -> Iterator[DemoEvent]:
    n = co.n_events
    if n == 0:
        return
    rng = _Random(f"syncd-demo/{co.seed}/events")
    clock = _Clock(co.start, co.days)
    who = co._who
    users = [who[u.email] for u in co.users]
    manager = users[0]
    contacts_by_acc = {d: [who[c.email] for c in cs] for d, cs in co.contacts_by_account.items()}
    account_cum = co._account_cum
    leads = [who[p.email] for p in co.leads]
    everyone_ext = [who[c.email] for c in co.contacts]
    heap: list[tuple[int, int, DemoEvent]] = []
    kinds = ("customer", "internal", "large", "recurring", "private", "lead", "invited")
    kind_cum = _cumulate((50, 18 if len(users) > 1 else 0, 6, 7, 5, 8, 6))

    def att(w: _Who, organizer: bool = False) -> DemoAttendee:
        response = "accepted" if organizer else _RESPONSES[rng.randrange(len(_RESPONSES))]
        return DemoAttendee(w.email, w.name, response)

    def user() -> _Who:
        return users[_pick_cum(co._user_cum, rng.random())]

    def utc(ts: int) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    def start_on(day: int, hours: Sequence[float]) -> int:
        local = clock.day_epoch(day) + int(rng.choice(hours) * 3600)
        while not clock.is_workday(local // _DAY, 0):
            local += _DAY
        return max(clock.to_utc(0, local), clock.start_ts)

    day_hours = (8.5, 9, 9.5, 10, 10.5, 11, 11.5, 14, 14.5, 15, 15.5, 16, 16.5, 17)
    for i in range(n):
        day = clock.day_for(i / n)
        bound = clock.day_epoch(day) - 3 * 3600
        while heap and heap[0][0] < bound:
            yield heapq.heappop(heap)[2]
        kind = "recurring" if i == 0 else kinds[_pick_cum(kind_cum, rng.random())]
        organizer = user()
        attendees: list[_Who] = []
        duration = rng.choice((30, 45, 60, 60, 60, 90, 120)) * 60
        is_online = rng.random() < 0.5
        is_private = False
        rrule: str | None = None
        location = ""
        hours: Sequence[float] = day_hours
        ctx = {
            "account": "",
            "product": rng.choice(N.PRODUCTS),
            "city": "",
            "season": N.SEASONS_FR[(time.gmtime(clock.day_epoch(day)).tm_mon % 12) // 3],
            "year": str(time.gmtime(clock.day_epoch(day)).tm_year),
            "quarter": str((time.gmtime(clock.day_epoch(day)).tm_mon - 1) // 3 + 1),
            "first": "",
        }
        if kind in ("customer", "invited"):
            acc = co.accounts[_pick_cum(account_cum, rng.random())]
            organizer = who[acc.owner] if rng.random() < 0.8 else user()
            cs = contacts_by_acc[acc.domain]
            attendees = rng.sample(cs, min(len(cs), rng.randrange(1, 5)))
            if rng.random() < 0.3:
                helper = who[acc.known_by[0]] if acc.known_by else manager
                if helper is not organizer:
                    attendees.append(helper)
            ctx.update(account=acc.name, city=acc.city)
            subject = rng.choice(N.CUSTOMER_MEETINGS).format_map(ctx)
            if not is_online:
                location = f"{acc.name}, {acc.city}"
            if kind == "invited":  # the customer sends the invitation
                ext_organizer = rng.choice(cs)
                attendees = [organizer, *[a for a in attendees if a is not ext_organizer]]
                organizer = ext_organizer
                is_online = True
        elif kind == "internal":
            others = [u for u in users if u is not organizer]
            attendees = rng.sample(others, min(len(others), rng.randrange(1, 8)))
            ctx.update(account=co.accounts[_pick_cum(account_cum, rng.random())].name)
            subject = rng.choice(N.INTERNAL_MEETINGS).format_map(ctx)
            location = "" if is_online else "Salle Mont-Blanc"
        elif kind == "large":
            size = rng.randrange(15, 41)
            pool = [u for u in users if u is not organizer]
            ext = rng.sample(
                everyone_ext + leads, min(len(everyone_ext) + len(leads), max(0, size - len(pool)))
            )
            attendees = (pool + ext)[:size]
            ctx.update(city=rng.choice(N.COUNTRIES[0][3]))
            subject = rng.choice(N.LARGE_MEETINGS).format_map(ctx)
            duration = rng.choice((90, 120, 180, 240)) * 60
            is_online = rng.random() < 0.6
            location = "Microsoft Teams" if is_online else f"Espace Congrès, {ctx['city']}"
            hours = (9, 9.5, 14)
        elif kind == "recurring":
            if i == 0 or rng.random() < 0.4:
                organizer = manager
                attendees = users[1:]
                subject = "Point hebdo équipe commerciale"
                duration = 3600
                hours = (9, 9.5)
            else:
                member = rng.choice(users[1:] or users)
                organizer = manager
                attendees = [member] if member is not manager else []
                ctx.update(first=member.first)
                subject = rng.choice(N.RECURRING_MEETINGS[1:]).format_map(ctx)
                duration = 1800 if "One" in subject else 3600
            is_online = rng.random() < 0.5
        elif kind == "private":
            organizer = user()
            subject = rng.choice(N.PRIVATE_MEETINGS)
            is_private = True
            is_online = False
            hours = (8, 12.5, 17, 17.5, 18)
        else:  # lead demo
            attendees = [rng.choice(leads)]
            ctx.update(account=attendees[0].person.company if attendees[0].person else "")
            subject = f"Démo {ctx['product']} – {attendees[0].name}"
            is_online = True
            duration = rng.choice((30, 45, 60)) * 60

        start_ts = start_on(day, hours)
        end_ts = start_ts + duration
        exdates: list[datetime] = []
        overrides: list[tuple[datetime, datetime, datetime]] = []
        if kind == "recurring":
            interval = 1 if (i == 0 or rng.random() < 0.7) else 2
            room = (clock.end_ts - start_ts) // (7 * interval * _DAY)
            count = min(rng.randrange(6, 13), room)
            if count >= 3:
                rrule = (
                    f"FREQ=WEEKLY;COUNT={count}"
                    if interval == 1
                    else f"FREQ=WEEKLY;INTERVAL=2;COUNT={count}"
                )
                local0 = start_ts + clock.offset(0, start_ts)

                def occ(k: int, local0: int = local0, interval: int = interval) -> int:
                    return clock.to_utc(0, local0 + k * 7 * interval * _DAY)

                picks = rng.sample(range(1, count), 2)
                if i == 0 or rng.random() < 0.6:
                    exdates.append(utc(occ(picks[0])))
                if i == 0 or rng.random() < 0.6:
                    orig = occ(picks[1])
                    shift = rng.choice((_DAY, 2 * 3600, -3600, 1800, 2 * _DAY))
                    overrides.append((utc(orig), utc(orig + shift), utc(orig + shift + duration)))

        org_att = att(organizer, organizer=True)
        atts = tuple(att(w) for w in attendees if w is not organizer)
        calendars: list[str] = []
        if organizer.internal:
            calendars.append(organizer.email)
        for w in attendees:
            if w.internal and w.email not in calendars:
                calendars.append(w.email)
        event = DemoEvent(
            uid=_event_uid(rng),
            subject=subject,
            organizer=org_att,
            attendees=atts,
            start=utc(start_ts),
            end=utc(end_ts),
            rrule=rrule,
            exdates=tuple(exdates),
            overrides=tuple(overrides),
            is_private=is_private,
            is_online=is_online,
            calendars=tuple(calendars),
            location=location,
            kind=kind,
        )
        heapq.heappush(heap, (start_ts, i, event))
    while heap:
        yield heapq.heappop(heap)[2]


# --------------------------------------------------------------------------- calls


def _iter_calls(co: DemoCompany) -> Iterator[DemoCall]:
    n = co.n_calls
    if n == 0:
        return
    rng = _Random(f"syncd-demo/{co.seed}/calls")
    clock = _Clock(co.start, co.days)
    users = co.users
    heap: list[tuple[int, int, DemoCall]] = []

    def pick_user() -> DemoPerson:
        return users[_pick_cum(co._user_cum, rng.random())]

    modal = (
        (("audio",),) * 10 + (("audio", "video"),) * 7 + (("audio", "video", "screenSharing"),) * 3
    )
    for i in range(n):
        day = clock.day_for(i / n)
        bound = clock.day_epoch(day) - 3 * 3600
        while heap and heap[0][0] < bound:
            yield heapq.heappop(heap)[2]
        organizer = pick_user()
        r = rng.random()
        if r < 0.35 and len(users) > 1:
            others = [rng.choice([u for u in users if u is not organizer]).email]
            kind = "peerToPeer"
        elif r < 0.8:
            acc = co.accounts[_pick_cum(co._account_cum, rng.random())]
            organizer = (
                next(u for u in users if u.email == acc.owner) if rng.random() < 0.8 else organizer
            )
            others = [rng.choice(co.contacts_by_account[acc.domain]).email]
            kind = "peerToPeer"
        else:
            pool = [u.email for u in users if u is not organizer] + [c.email for c in co.contacts]
            others = rng.sample(pool, min(len(pool), rng.randrange(2, 6)))
            kind = "groupCall"
        hour = _HOUR_TABLE[int(rng.random() * len(_HOUR_TABLE))]
        local = clock.day_epoch(day) + hour * 3600 + rng.randrange(3600)
        start_ts = clock.clamp(clock.to_utc(0, local))
        duration = int(min(max(rng.lognormvariate(6.6, 0.9), 45.0), 5400.0))
        version = 1 if rng.random() < 0.85 else rng.choice((2, 2, 3))
        call = DemoCall(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            version=version,
            start=datetime.fromtimestamp(start_ts, UTC),
            end=datetime.fromtimestamp(start_ts + duration, UTC),
            organizer=organizer.email,
            participants=(organizer.email, *[o for o in others if o != organizer.email]),
            modalities=modal[rng.randrange(len(modal))],
            kind=kind,
        )
        heapq.heappush(heap, (start_ts, i, call))
    while heap:
        yield heapq.heappop(heap)[2]
