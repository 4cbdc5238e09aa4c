"""Tests of the demo data generator (syncd.demo).

The generator feeds the README demo, the Microsoft 365 sandbox and the benchmarks, so these
tests pin down what those rely on: byte-for-byte determinism, exact counts, messages the stdlib
parser reads back to the intended subject and addresses (the raw bytes are hand-built for speed),
threads that reference real messages, copies consistent with senders and recipients, calendars
that expand correctly, and a stream that scales.
"""

from __future__ import annotations

import csv
import email
import email.policy
import itertools
import mailbox
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.demo import (
    MALFORMED_KINDS,
    DemoCompany,
    DemoEvent,
    DemoMessage,
    generate,
    write_crm_csv,
    write_ics,
    write_maildir,
)
from syncd.demo.generator import _name_tokens, _subject_value
from syncd.demo.names import FREEMAIL_DOMAINS, MONTHS_FR

N_MESSAGES = 2000


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return generate(42, messages=N_MESSAGES)


@pytest.fixture(scope="module")
def messages(company: DemoCompany) -> list[DemoMessage]:
    return list(company.messages())


@pytest.fixture(scope="module")
def events(company: DemoCompany) -> list[DemoEvent]:
    return list(company.events())


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def addresses(msg: EmailMessage, field: str) -> list[Address]:
    header = msg[field]
    if header is None:
        return []
    return list(header.addresses)


# --------------------------------------------------------------------------- determinism, counts


def test_same_seed_same_bytes_and_reiterable() -> None:
    a = generate(7, messages=400, events=40, calls=20)
    b = generate(7, messages=400, events=40, calls=20)
    first = [(m.message_id, m.raw, m.copies) for m in a.messages()]
    assert first == [(m.message_id, m.raw, m.copies) for m in b.messages()]
    assert first == [(m.message_id, m.raw, m.copies) for m in a.messages()]  # re-iterable
    assert list(a.events()) == list(b.events())
    assert list(a.calls()) == list(b.calls())
    assert a.users == b.users and a.contacts == b.contacts and a.leads == b.leads


_DIGEST_SCRIPT = """
import hashlib
from syncd.demo import generate
co = generate(13, messages=300, events=30, calls=10)
h = hashlib.sha256()
for m in co.messages():
    h.update(m.raw + repr(m.copies).encode())
for x in (*co.events(), *co.calls(), *co.users, *co.accounts, *co.contacts, *co.leads):
    h.update(repr(x).encode())
print(h.hexdigest())
"""


def test_byte_identical_across_processes_and_hash_seeds() -> None:
    """No set ordering, clock or per-process hashing leaks into the output."""
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_streams_do_not_depend_on_each_other() -> None:
    """Reading events first must not change the messages (one RNG per stream)."""
    a = generate(3, messages=200)
    b = generate(3, messages=200)
    list(b.events())
    list(b.calls())
    assert [m.raw for m in a.messages()] == [m.raw for m in b.messages()]


def test_different_seeds_differ() -> None:
    a = generate(1, messages=100)
    b = generate(2, messages=100)
    assert [u.email for u in a.users] != [u.email for u in b.users]
    assert [m.raw for m in a.messages()] != [m.raw for m in b.messages()]


def test_counts_order_and_window(company: DemoCompany, messages: list[DemoMessage]) -> None:
    assert len(company.users) == 8
    assert len(company.accounts) == 25
    assert len(messages) == N_MESSAGES
    assert len(list(company.events())) == 150
    assert len(list(company.calls())) == 60
    assert len({m.message_id for m in messages}) == N_MESSAGES
    times = [m.sent_at for m in messages]
    assert times == sorted(times)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    assert company.start == start
    assert start <= times[0] and times[-1] <= start + timedelta(days=180, minutes=10)
    # activity spreads over the whole window
    assert times[-1] - times[0] > timedelta(days=170)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17])
def test_exact_small_counts(n: int) -> None:
    co = generate(5, users=2, accounts=2, messages=n, events=n, calls=n, days=10)
    assert len(list(co.messages())) == n
    assert len(list(co.events())) == n
    assert len(list(co.calls())) == n


def test_single_user_company_works() -> None:
    co = generate(9, users=1, accounts=3, messages=300, events=30, calls=10, days=30)
    msgs = list(co.messages())
    assert len(msgs) == 300
    assert not any(m.kind == "internal" for m in msgs)


def test_start_must_be_aware() -> None:
    with pytest.raises(ValueError):
        generate(start=datetime(2026, 1, 1))


# --------------------------------------------------------------------------- parsing back


def test_well_formed_messages_reparse_to_intended_values(
    company: DemoCompany, messages: list[DemoMessage]
) -> None:
    known = {p.email: p.name for p in (*company.users, *company.contacts, *company.leads)}
    assert max(len(n.encode("utf-8")) for n in known.values()) <= 45  # one encoded word each
    names_checked = 0
    for m in messages:
        if m.malformed is not None:
            continue
        head, _, _ = m.raw.partition(b"\r\n\r\n")
        assert head.isascii(), m.message_id
        assert b"\n" not in m.raw.replace(b"\r\n", b""), "bare LF"
        assert b"\r" not in m.raw.replace(b"\r\n", b""), "bare CR"
        for line in head.split(b"\r\n"):
            assert len(line) <= 998
            if b"=?" in line:  # RFC 2047: lines with encoded words stay within 76 columns
                assert len(line) <= 76, line
        msg = parse(m.raw)
        assert not msg.defects, (m.message_id, msg.defects)
        assert str(msg["Subject"]) == m.subject
        assert msg["Message-ID"] == f"<{m.message_id}>"
        assert parsedate_to_datetime(str(msg["Date"])) == m.sent_at
        (frm,) = addresses(msg, "From")
        assert frm.addr_spec.lower() == m.sender
        assert [a.addr_spec.lower() for a in addresses(msg, "To")] == list(m.to)
        assert [a.addr_spec.lower() for a in addresses(msg, "Cc")] == list(m.cc)
        assert msg["Bcc"] is None  # recipients' copies never show Bcc
        for a in (frm, *addresses(msg, "To"), *addresses(msg, "Cc")):
            if a.addr_spec.lower() in known:
                assert a.display_name == known[a.addr_spec.lower()]
                names_checked += 1
        if m.in_reply_to is not None:
            assert msg["In-Reply-To"] == f"<{m.in_reply_to}>"
            assert str(msg["References"]).split() == [f"<{r}>" for r in m.references]
        body = msg.get_body(("plain",))
        assert body is not None and body.get_content().strip()
        assert set(m.recipients) == {*m.to, *m.cc, *m.bcc}
    assert names_checked > 1000


def test_subjects_also_decode_with_the_legacy_header_api(messages: list[DemoMessage]) -> None:
    """Importers on the compat32 API (``email.header.decode_header``) read the same subject."""
    from email.header import decode_header, make_header

    for m in messages[:500]:
        if m.malformed is None and m.kind != "bounce":
            legacy = email.message_from_bytes(m.raw)  # compat32 policy
            assert str(make_header(decode_header(legacy["Subject"]))) == m.subject


# Header text as people type it: any printable character, single spaces, no encoded-word look.
_header_text = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Co", "Cn")),
        min_size=1,
        max_size=40,
    )
    .flatmap(lambda w: st.lists(st.just(w) | st.text(min_size=1, max_size=12).map(
        lambda t: "".join(c for c in t if c.isprintable() and not c.isspace()) or "x"
    ), min_size=1, max_size=8))
    .map(" ".join)
    .filter(lambda s: "=?" not in s and s.strip() == s)
)


@settings(database=None, max_examples=300, deadline=None)
@given(text=_header_text, charset=st.sampled_from(["utf-8", "windows-1252", "iso-8859-1"]))
def test_subject_encoder_round_trips(text: str, charset: str) -> None:
    value = _subject_value(text, charset)
    assert value.isascii()
    for i, line in enumerate(value.split("\r\n")):
        assert len(line) + (len("Subject: ") if i == 0 else 0) <= 78
    msg = parse(f"Subject: {value}\r\n\r\n".encode("ascii"))
    assert str(msg["Subject"]) == text


@settings(database=None, max_examples=300, deadline=None)
@given(name=_header_text, style=st.sampled_from(["utf-8", "b", "windows-1252", "iso-8859-1"]))
def test_display_name_encoder_round_trips(name: str, style: str) -> None:
    """Names that fit one encoded word read back exactly with the stdlib address parser.

    (Longer names must be split, and Python's parser then keeps a space between the adjacent
    encoded words, against RFC 2047; generated names always fit.)
    """
    if len(name.encode("utf-8")) > 45:
        name = name.encode("utf-8")[:45].decode("utf-8", "ignore").strip() or "x"
    tokens = [*_name_tokens(name, style), "<jane.doe@example.fr>"]
    raw = ("From: " + "\r\n ".join(tokens) + "\r\n\r\n").encode("ascii")
    (addr,) = addresses(parse(raw), "From")
    assert addr.addr_spec == "jane.doe@example.fr"
    assert addr.display_name == name


def test_bcc_only_in_senders_copy(messages: list[DemoMessage]) -> None:
    bcc = [m for m in messages if m.bcc]
    assert bcc, "expected some Bcc broadcasts"
    for m in bcc:
        sent = parse(m.raw_for(m.sender, "sentitems"))
        assert [a.addr_spec.lower() for a in addresses(sent, "Bcc")] == list(m.bcc)
        assert m.raw_for(m.sender, "inbox") == m.raw


def test_non_ascii_headers_are_encoded_words(
    company: DemoCompany, messages: list[DemoMessage]
) -> None:
    assert any(not u.name.isascii() for u in company.users)
    accented = [m for m in messages if m.malformed is None and not m.subject.isascii()]
    assert len(accented) > 200
    charsets = Counter(
        cs.lower() for m in messages for cs in re.findall(rb"=\?([^?]+)\?[BbQq]\?", m.raw)
    )
    assert {b"utf-8", b"windows-1252"} <= set(charsets) or {b"utf-8", b"iso-8859-1"} <= set(
        charsets
    )


def test_malformed_messages_are_flagged_and_really_broken(messages: list[DemoMessage]) -> None:
    bad = [m for m in messages if m.malformed is not None]
    share = len(bad) / len(messages)
    assert 0.003 <= share <= 0.008
    assert {m.malformed for m in bad} == set(MALFORMED_KINDS)
    ids = {m.message_id for m in messages}
    referenced = {r for m in messages for r in (*m.references, m.in_reply_to or "")}
    for m in bad:
        assert m.message_id not in referenced or m.malformed != "missing-message-id"
        msg = parse(m.raw)
        if m.malformed == "missing-date":
            assert msg["Date"] is None
        elif m.malformed == "missing-message-id":
            assert msg["Message-ID"] is None and m.message_id in ids
        elif m.malformed == "undecodable-header":
            head = m.raw.partition(b"\r\n\r\n")[0]
            subject_line = next(ln for ln in head.split(b"\r\n") if ln.startswith(b"Subject:"))
            with pytest.raises(UnicodeDecodeError):
                subject_line.decode("utf-8")
        elif m.malformed == "garbled-address":
            garbled = [a for a in (m.sender, *m.recipients) if not re.fullmatch(
                r"[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+", a)]
            assert garbled, m.raw[:300]


# --------------------------------------------------------------------------- threads, copies


def test_replies_reference_earlier_messages(messages: list[DemoMessage]) -> None:
    seen: dict[str, DemoMessage] = {}
    replies = 0
    external_replies = 0
    for m in messages:
        if m.in_reply_to is not None:
            replies += 1
            parent = seen.get(m.in_reply_to)
            assert parent is not None, f"{m.message_id} replies to an unknown or later message"
            assert parent.sent_at <= m.sent_at
            assert all(r in seen for r in m.references)
            assert m.references[-1] == m.in_reply_to
            assert m.thread_id == parent.thread_id
            if m.kind != "auto-reply":
                assert re.match(r"^(RE|Re|TR|Fwd|FW) ?: ", m.subject), m.subject
            if not m.sender.endswith("@contoso-demo.fr"):
                external_replies += 1
        seen[m.message_id] = m
    assert replies > N_MESSAGES * 0.3
    assert external_replies > replies * 0.25
    subjects = [m.subject for m in messages]
    prefix = re.compile(r"^((RE|Re|TR|Fwd|FW) ?: )+")
    depth = [len(re.findall(r" ?: ", p.group(0))) for s in subjects if (p := prefix.match(s))]
    assert max(depth) <= 4  # "RE: TR: RE : RE: x" at worst: clients do not stack blindly
    assert any(s.startswith("TR: ") for s in subjects)
    assert any(s.startswith("RE: TR: ") for s in subjects)


def test_reply_delays_look_human(messages: list[DemoMessage]) -> None:
    by_id = {m.message_id: m for m in messages}
    delays = sorted(
        (m.sent_at - by_id[m.in_reply_to].sent_at).total_seconds()
        for m in messages
        if m.in_reply_to and m.kind != "auto-reply"
    )
    median = delays[len(delays) // 2]
    assert 10 * 60 < median < 2 * 86400
    assert delays[-1] < 12 * 86400


def test_copies_follow_sender_and_recipients(
    company: DemoCompany, messages: list[DemoMessage]
) -> None:
    internal = set(company.mailboxes)
    for m in messages:
        expected = []
        if m.sender in internal:
            expected.append((m.sender, "sentitems"))
        for r in dict.fromkeys((*m.to, *m.cc, *m.bcc)):
            if r in internal:
                expected.append((r, "inbox"))
        if m.malformed == "garbled-address":
            # delivery followed the envelope: the garbled header does not lose a copy
            assert {o for o, _ in m.copies} <= internal
            continue
        assert list(m.copies) == expected, m.message_id
        assert all(folder in ("inbox", "sentitems") for _, folder in m.copies)
    assert sum(len(m.copies) for m in messages) > len(messages)


# --------------------------------------------------------------------------- realism


def test_noise_and_special_mail_is_present(messages: list[DemoMessage]) -> None:
    kinds = Counter(m.kind for m in messages)
    for kind in ("customer", "internal", "lead", "broadcast", "newsletter", "notification",
                 "auto-reply", "bounce"):
        assert kinds[kind] > 0, kind
    senders = {m.sender.rsplit("@", 1)[-1] for m in messages}
    assert len(senders & set(FREEMAIL_DOMAINS)) >= 4
    news = next(m for m in messages if m.kind == "newsletter")
    msg = parse(news.raw)
    assert msg["List-Unsubscribe"] and msg["Precedence"] == "bulk"
    ooo = [m for m in messages if m.kind == "auto-reply"]
    assert all(parse(m.raw)["Auto-Submitted"] == "auto-replied" for m in ooo)
    assert any(m.subject.startswith("Réponse automatique : ") for m in ooo)
    bounces = [m for m in messages if m.kind == "bounce"]
    assert all(m.is_automated for m in bounces)
    assert any("mailer-daemon" in m.sender or "microsoftexchange" in m.sender for m in bounces)
    for m in bounces:
        assert parse(m.raw).get_content_type() == "multipart/report"
    private = [m for m in messages if m.is_private]
    assert private and all(parse(m.raw)["Sensitivity"] for m in private)
    broadcasts = [m for m in messages if m.kind == "broadcast"]
    assert max(len(m.recipients) for m in broadcasts) >= 15
    internal_only = [
        m for m in messages
        if m.kind == "internal" and all(r.endswith("@contoso-demo.fr") for r in m.recipients)
    ]
    assert internal_only


def test_french_dates_in_bodies(messages: list[DemoMessage]) -> None:
    months = "|".join(MONTHS_FR)
    pattern = re.compile(rf"(lundi|mardi|mercredi|jeudi|vendredi) \d{{1,2}} ({months})")
    hits = 0
    for m in messages[:400]:
        if m.malformed is None and m.kind != "bounce":
            body = parse(m.raw).get_body(("plain",))
            assert body is not None
            hits += bool(pattern.search(body.get_content()))
    assert hits > 50


def test_owners_know_their_accounts_best(
    company: DemoCompany, messages: list[DemoMessage]
) -> None:
    """Ground truth for who-knows-whom: the owner exchanges the most mail with the account."""
    internal = set(company.mailboxes)
    per_account: dict[str, Counter[str]] = {a.domain: Counter() for a in company.accounts}
    for m in messages:
        if m.kind != "customer":
            continue
        parties = {m.sender, *m.recipients}
        domains = {p.rsplit("@", 1)[-1] for p in parties} & per_account.keys()
        for d in domains:
            for p in parties & internal:
                per_account[d][p] += 1
    checked = 0
    for account in company.accounts:
        counts = per_account[account.domain]
        if sum(counts.values()) < 20:
            continue
        checked += 1
        assert counts.most_common(1)[0][0] == account.owner, (account, counts)
        assert len(counts) >= 2  # but not only the owner: weak ties exist
    assert checked >= 5


# --------------------------------------------------------------------------- events, calls, files


def test_events_shape(company: DemoCompany, events: list[DemoEvent]) -> None:
    internal = set(company.mailboxes)
    sizes = [len(e.attendees) for e in events]
    assert min(sizes) <= 1 and max(sizes) >= 15 and max(sizes) <= 40
    assert [e.start for e in events] == sorted(e.start for e in events)
    assert any(e.is_private for e in events) and any(e.is_online for e in events)
    assert any(e.organizer.email not in internal for e in events)  # customers invite too
    responses = {a.response for e in events for a in e.attendees}
    assert responses == {"accepted", "declined", "tentative", "none"}
    for e in events:
        expected = [e.organizer.email] if e.organizer.email in internal else []
        for a in e.attendees:
            if a.email in internal and a.email not in expected:
                expected.append(a.email)
        assert list(e.calendars) == expected
        assert e.end > e.start
    team = events[0] if events[0].rrule else next(e for e in events if e.rrule)
    assert team.exdates and team.overrides


def _ics_occurrences(path: Path, start: datetime, end: datetime) -> dict[str, set[datetime]]:
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    out: dict[str, set[datetime]] = {}
    for occ in recurring_ical_events.of(cal).between(start, end):
        dt = occ["DTSTART"].dt
        out.setdefault(str(occ["UID"]), set()).add(dt.astimezone(UTC))
    return out


def test_ics_files_parse_and_expand_like_the_model(
    tmp_path: Path, company: DemoCompany, events: list[DemoEvent]
) -> None:
    paths = write_ics(company, tmp_path)
    assert len(paths) == len(company.users)
    by_uid = {e.uid: e for e in events}
    window = (company.start - timedelta(days=1), company.end + timedelta(days=120))
    seen_uids: set[str] = set()
    for user, path in zip(company.users, paths, strict=True):
        assert path == tmp_path / user.email.split("@")[0] / "calendar.ics"
        cal = icalendar.Calendar.from_ical(path.read_bytes())
        vevents = list(cal.walk("VEVENT"))
        for vev in vevents:
            ev = by_uid[str(vev["UID"])]
            assert user.email in ev.calendars
            assert str(vev["CLASS"]) == ("PRIVATE" if ev.is_private else "PUBLIC")
            assert str(vev["ORGANIZER"]).lower() == f"mailto:{ev.organizer.email}"
            assert vev["ORGANIZER"].params["CN"] == ev.organizer.name
            atts = vev.get("ATTENDEE", [])
            atts = atts if isinstance(atts, list) else [atts]
            assert len(atts) == len(ev.attendees)
            for a in atts:
                assert a.params["PARTSTAT"] in {"ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS-ACTION"}
        for uid, starts in _ics_occurrences(path, *window).items():
            seen_uids.add(uid)
            assert starts == {s for s, _ in by_uid[uid].occurrences()}, by_uid[uid]
    assert {e.uid for e in events if e.calendars} == seen_uids
    # the weekly series with a cancelled and a moved occurrence, checked explicitly
    team = next(e for e in events if e.rrule and e.exdates and e.overrides)
    path = tmp_path / team.calendars[0].split("@")[0] / "calendar.ics"
    starts = _ics_occurrences(path, *window)[team.uid]
    count = int(re.search(r"COUNT=(\d+)", team.rrule or "").group(1))  # type: ignore[union-attr]
    assert len(starts) == count - len(team.exdates)
    assert team.exdates[0] not in starts
    original, new_start, _ = team.overrides[0]
    assert original not in starts and new_start in starts
    text = path.read_text(encoding="utf-8")
    assert "RRULE:FREQ=WEEKLY" in text and "EXDATE;TZID=Europe/Paris" in text
    assert "RECURRENCE-ID;TZID=Europe/Paris" in text and "BEGIN:VTIMEZONE" in text


def test_recurrence_keeps_wall_clock_across_dst() -> None:
    """A weekly 09:00 Paris meeting stays at 09:00 local when summer time ends."""
    co = generate(11, users=4, accounts=4, messages=0, events=20, calls=0,
                  start=datetime(2026, 10, 5, tzinfo=UTC), days=60)
    team = next(iter(co.events()))
    assert team.rrule
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    local_times = {s.astimezone(paris).time() for s, _ in team.occurrences()
                   if all(s != new for _, new, _ in team.overrides)}
    assert len(local_times) == 1
    offsets = {s.astimezone(paris).utcoffset() for s, _ in team.occurrences()}
    assert len(offsets) == 2  # the series crosses the 25 October 2026 change


def test_calls(company: DemoCompany) -> None:
    calls = list(company.calls())
    internal = set(company.mailboxes)
    assert [c.start for c in calls] == sorted(c.start for c in calls)
    assert len({c.id for c in calls}) == len(calls)
    for c in calls:
        assert c.organizer in internal and c.participants[0] == c.organizer
        assert len(c.participants) >= 2 and c.end > c.start and c.version >= 1
        assert c.modalities[0] == "audio"
        assert set(c.modalities) <= {"audio", "video", "screenSharing"}
    assert any(len(c.participants) > 2 for c in calls)
    assert any(p not in internal for c in calls for p in c.participants)


def test_maildir_layout_counts_and_idempotence(tmp_path: Path) -> None:
    co = generate(4, users=3, accounts=5, messages=300, days=30)
    counts = write_maildir(co, tmp_path)
    msgs = list(co.messages())
    assert sum(counts.values()) == sum(len(m.copies) for m in msgs)
    for user in co.users:
        local = user.email.split("@")[0]
        for folder in ("inbox", "sentitems"):
            md = mailbox.Maildir(tmp_path / local / folder, create=False)
            assert len(md) == counts[f"{local}/{folder}"]
            for sub in ("cur", "new", "tmp"):
                assert (tmp_path / local / folder / sub).is_dir()
    sent = next(m for m in msgs if m.sender in co.mailboxes and m.malformed is None)
    files = list((tmp_path / sent.sender.split("@")[0] / "sentitems" / "cur").iterdir())
    assert any(f.read_bytes() == sent.raw_for(sent.sender, "sentitems") for f in files)
    before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert write_maildir(co, tmp_path) == counts
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == before


def test_crm_csv_round_trip(tmp_path: Path, company: DemoCompany) -> None:
    files = write_crm_csv(company, tmp_path)
    with files["accounts"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [
        {"name": a.name, "domain": a.domain, "industry": a.industry, "city": a.city}
        for a in company.accounts
    ]
    with files["contacts"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [
        {"email": c.email, "name": c.name, "title": c.title, "account_domain": c.account or "",
         "phone": c.phone}
        for c in company.contacts
    ]
    assert {r["account_domain"] for r in rows} == {a.domain for a in company.accounts}
    with files["leads"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [
        {"email": p.email, "name": p.name, "company": p.company, "title": p.title,
         "phone": p.phone, "source": p.source}
        for p in company.leads
    ]
    assert any(r["email"].endswith(tuple(FREEMAIL_DOMAINS)) for r in rows)


# --------------------------------------------------------------------------- scale


def test_stream_starts_immediately_for_huge_counts() -> None:
    """A million-message company yields its first messages without building them all."""
    co = generate(8, messages=1_000_000)
    t = time.perf_counter()
    first = list(itertools.islice(co.messages(), 2000))
    assert time.perf_counter() - t < 30
    assert len(first) == 2000 and first[0].sent_at <= first[-1].sent_at
    assert first[-1].sent_at - first[0].sent_at < timedelta(days=5)  # 1 May + a weekend


def test_scale_smoke_50k(capsys: pytest.CaptureFixture[str]) -> None:
    co = generate(42, messages=50_000)
    t = time.perf_counter()
    cpu = time.process_time()
    n = 0
    size = 0
    last = None
    for m in co.messages():
        n += 1
        size += len(m.raw)
        assert last is None or last <= m.sent_at
        last = m.sent_at
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu
    assert n == 50_000
    with capsys.disabled():
        print(f"\n[demo generator] {n} messages, {size / n:.0f} B avg: "
              f"{n / wall:,.0f} msg/s wall, {n / cpu:,.0f} msg/s CPU")


def test_ground_truth_privacy_agrees_with_the_connectors(messages: list[DemoMessage]) -> None:
    """The generator's `is_private` is the answer key of the sandbox and demo: every message it
    calls private must be private to the connectors' rule and no other. It once wrote
    `Sensitivity: Personal`, which Outlook treats as a label and syncd does not withhold."""
    from connectors.base import Interaction
    from connectors.files.rfc822 import parse_message

    checked = 0
    for m in messages:
        if m.malformed:
            continue
        head = m.raw.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
        parsed = parse_message(head, provider_id=m.message_id, folder="inbox")
        assert isinstance(parsed, Interaction), m.message_id
        assert parsed.is_private == m.is_private, (m.message_id, m.kind)
        checked += m.is_private
    assert checked > 0, "the sample holds no private message: the check proved nothing"
