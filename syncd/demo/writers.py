"""Put a generated company on disk: Maildir folders, iCalendar files, CRM CSV exports.

These are the formats the ``files`` connector reads (DESIGN.md: mbox, Maildir, .eml and .ics
exports), so the demo and the benchmarks can run the whole pipeline without any server.
Output is deterministic: file names derive from message ids, calendars from event data, and the
only timestamp written (ICS ``DTSTAMP``) is the company's fixed window start. (The ICS
VTIMEZONE blocks come from the tz database via icalendar, so they follow the installed tzdata;
Europe/Paris has not changed its rules since 1996.)
"""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from syncd.demo.generator import DemoAttendee, DemoCompany, DemoEvent

__all__ = ["write_crm_csv", "write_ics", "write_maildir"]

FOLDERS = ("inbox", "sentitems")
_PARTSTAT = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
    "none": "NEEDS-ACTION",
}


def _local(email: str) -> str:
    return email.split("@", 1)[0]


def maildir_name(message_id: str, sent_at: datetime) -> str:
    """A stable Maildir file name: the same message gets the same name in every run.

    Maildir wants ``<time>.<unique>.<host>:2,<flags>``; the unique part is a digest of the
    Message-ID so re-writing a mailbox is idempotent and the name never depends on the clock.
    """
    digest = hashlib.sha1(message_id.encode("utf-8")).hexdigest()[:20]
    return f"{int(sent_at.timestamp())}.M{digest}.syncd-demo:2,S"


def write_maildir(company: DemoCompany, root: Path) -> dict[str, int]:
    """Write every copy of every message as ``root/<owner local part>/<folder>/cur/<name>``.

    Each mailbox folder is a real Maildir (``cur``, ``new``, ``tmp``), created even when empty so
    a mailbox with no sent mail still looks like a mailbox. The bytes are ``DemoMessage.raw_for``
    the copy (CRLF line ends, as the message travelled; Bcc only in the sender's copy).
    Returns the number of files per ``"<local part>/<folder>"``.
    """
    root = Path(root)
    counts: dict[str, int] = {}
    dirs: dict[tuple[str, str], Path] = {}
    for user in company.users:
        for folder in FOLDERS:
            base = root / _local(user.email) / folder
            for sub in ("cur", "new", "tmp"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            dirs[(user.email, folder)] = base / "cur"
            counts[f"{_local(user.email)}/{folder}"] = 0
    for msg in company.messages():
        name = maildir_name(msg.message_id, msg.sent_at)
        for owner, folder in msg.copies:
            (dirs[(owner, folder)] / name).write_bytes(msg.raw_for(owner, folder))
            counts[f"{_local(owner)}/{folder}"] += 1
    return counts


def _address(att: DemoAttendee, *, organizer: bool) -> icalendar.vCalAddress:
    addr = icalendar.vCalAddress(f"mailto:{att.email}")
    addr.params["CN"] = att.name or att.email
    if not organizer:
        addr.params["ROLE"] = "REQ-PARTICIPANT"
        addr.params["PARTSTAT"] = _PARTSTAT[att.response]
        addr.params["RSVP"] = "TRUE"
    return addr


def _vevent(
    ev: DemoEvent, zone: ZoneInfo, stamp: datetime, start: datetime, end: datetime
) -> icalendar.Event:
    vev = icalendar.Event()
    vev.add("uid", ev.uid)
    vev.add("dtstamp", stamp)
    vev.add("summary", ev.subject)
    vev.add("dtstart", start.astimezone(zone))
    vev.add("dtend", end.astimezone(zone))
    vev.add("class", "PRIVATE" if ev.is_private else "PUBLIC")
    vev.add("transp", "OPAQUE")
    vev["organizer"] = _address(ev.organizer, organizer=True)
    for att in ev.attendees:
        vev.add("attendee", _address(att, organizer=False))
    if ev.is_online:
        url = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{ev.uid[-24:]}%40thread.v2/0"
        vev.add("location", ev.location or "Réunion Microsoft Teams")
        vev.add("description", f"Réunion Microsoft Teams\nRejoindre : {url}")
        vev.add("x-microsoft-skypeteamsmeetingurl", url)
    elif ev.location:
        vev.add("location", ev.location)
    return vev


def write_ics(company: DemoCompany, root: Path) -> list[Path]:
    """Write ``root/<owner local part>/calendar.ics`` for every internal mailbox.

    A series is one VEVENT with RRULE and EXDATE plus one VEVENT per moved occurrence
    (RECURRENCE-ID), all in the event's time zone with a VTIMEZONE, as Outlook exports them; that
    keeps a weekly 09:30 meeting at 09:30 across daylight-saving changes when expanded.
    Private meetings carry CLASS:PRIVATE. Returns the paths, one per user, in user order.
    """
    root = Path(root)
    stamp = company.start.astimezone(UTC)
    per_owner: dict[str, list[icalendar.Event]] = {u.email: [] for u in company.users}
    zones: dict[str, ZoneInfo] = {}
    for ev in company.events():
        zone = zones.setdefault(ev.tz, ZoneInfo(ev.tz))
        components = [_vevent(ev, zone, stamp, ev.start, ev.end)]
        master = components[0]
        if ev.rrule is not None:
            master.add("rrule", icalendar.vRecur.from_ical(ev.rrule))
            if ev.exdates:
                master.add("exdate", [d.astimezone(zone) for d in ev.exdates])
        for original, new_start, new_end in ev.overrides:
            moved = _vevent(ev, zone, stamp, new_start, new_end)
            moved.add("recurrence-id", original.astimezone(zone))
            moved.add("sequence", 1)
            components.append(moved)
        for owner in ev.calendars:
            per_owner[owner].extend(components)
    paths: list[Path] = []
    first = company.start.date()
    last = company.end.date()
    for user in company.users:
        cal = icalendar.Calendar()
        cal.add("prodid", "-//syncd//demo generator//FR")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("x-wr-calname", f"Calendrier – {user.name}")
        for vev in per_owner[user.email]:
            cal.add_component(vev)
        cal.add_missing_timezones(
            first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 1, 12, 31)
        )
        folder = root / _local(user.email)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "calendar.ics"
        path.write_bytes(cal.to_ical())
        paths.append(path)
    return paths


def write_crm_csv(company: DemoCompany, root: Path) -> dict[str, Path]:
    """Write the CRM side: ``accounts.csv``, ``contacts.csv``, ``leads.csv`` (UTF-8, comma).

    These are what a CRM export would give syncd to resolve participants to accounts, contacts
    and leads. Plain UTF-8 without BOM, header row first, ``csv`` module quoting.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "accounts": root / "accounts.csv",
        "contacts": root / "contacts.csv",
        "leads": root / "leads.csv",
    }
    with files["accounts"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "domain", "industry", "city"])
        for a in company.accounts:
            w.writerow([a.name, a.domain, a.industry, a.city])
    with files["contacts"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "name", "title", "account_domain", "phone"])
        for c in company.contacts:
            w.writerow([c.email, c.name, c.title, c.account or "", c.phone])
    with files["leads"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "name", "company", "title", "phone", "source"])
        for lead in company.leads:
            w.writerow([lead.email, lead.name, lead.company, lead.title, lead.phone, lead.source])
    return files
