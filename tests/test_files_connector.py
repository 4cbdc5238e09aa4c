"""The `files` connector against real files written in tmp_path (and one real Enron inbox)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from connectors.base import (
    CursorInvalidError,
    Interaction,
    Kind,
    Page,
    Participant,
    RejectedItem,
    Role,
    Stream,
    StreamGoneError,
    iter_pages,
)
from connectors.files import open_streams
from connectors.normalize import normalize_message_id

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
ELODIE = "Élodie Dupré <Elodie.Dupre@exemple.fr>"
JEAN = "Jean Martin <jean.martin@client.fr>"
WINDOW_2026 = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


# --------------------------------------------------------------------------- helpers


def message(
    *,
    subject: str = "Devis n° 42 — réunion de lancement",
    sender: str | None = ELODIE,
    to: tuple[str, ...] = (JEAN,),
    cc: tuple[str, ...] = (),
    bcc: tuple[str, ...] = (),
    date: datetime | None = T0,
    message_id: str | None = "<devis-42@exemple.fr>",
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A real RFC 5322 message; non-ASCII display names and subjects become encoded words."""
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    if message_id is not None:
        msg["Message-ID"] = message_id
    for name, value in headers:
        msg[name] = value
    msg.set_content("Bonjour,\n\nVeuillez trouver ci-joint le devis.\n\nCordialement,\nÉlodie\n")
    return msg.as_bytes()


def enron_message(n: int, *, to: str = "jean.dupont@exemple.fr", with_id: bool = True) -> bytes:
    """The shape of an Enron corpus file: compat32 headers, X-* copies, plain text body."""
    lines = [f"Message-ID: <{n}.1075855687451.JavaMail.evans@thyme>"] if with_id else []
    lines += [
        f"Date: Mon, {n % 28 + 1} Oct 2001 0{n % 10}:15:00 -0700 (PDT)",
        f"From: sender{n % 3}@exemple.fr",
        f"To: {to}",
        f"Subject: Re: commande {n}",
        "Mime-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "X-From: Sender",
        "X-To: Dupont, Jean </O=EXEMPLE/OU=NA/CN=RECIPIENTS/CN=JDUPONT>",
        "X-Folder: \\JDUPONT (Non-Privileged)\\Dupont, Jean\\Inbox",
        "",
        "Merci pour la commande.",
        "",
    ]
    return "\n".join(lines).encode()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def only_stream(
    path: Path,
    mailbox: str | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    page_size: int = 500,
) -> Stream:
    streams = open_streams(path, mailbox, window=window, page_size=page_size)
    assert len(streams) == 1, streams
    assert isinstance(streams[0], Stream)
    return streams[0]


def read_all(stream: Stream, cursor: str | None = None) -> tuple[list[Page], list[Interaction]]:
    pages = list(iter_pages(stream, cursor))
    return pages, [i for page in pages for i in page.interactions]


def rejects(pages: list[Page]) -> list[RejectedItem]:
    return [r for page in pages for r in page.rejected]


def one(stream: Stream) -> Interaction:
    pages, items = read_all(stream)
    assert rejects(pages) == [] and len(items) == 1, (rejects(pages), items)
    return items[0]


def bump_mtime(path: Path) -> None:
    """Make a change visible even on file systems with coarse timestamps."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


# --------------------------------------------------------------------------- discovery


def test_missing_path_is_a_value_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nulle-part"
    with pytest.raises(ValueError, match="nulle-part"):
        open_streams(missing)


def test_unusable_mailbox_or_window_is_a_value_error(tmp_path: Path) -> None:
    write(tmp_path / "a.eml", message())
    for mailbox in ("pas une adresse", "/o=EXEMPLE/ou=NA/cn=Recipients/cn=edupre"):
        with pytest.raises(ValueError, match="mailbox"):
            open_streams(tmp_path / "a.eml", mailbox)
    with pytest.raises(ValueError, match="timezone"):
        open_streams(tmp_path / "a.eml", window=(datetime(2026, 1, 1), datetime(2026, 2, 1)))


def test_mailbox_is_normalised_and_suppresses_the_hint(tmp_path: Path) -> None:
    stream = only_stream(write(tmp_path / "a.eml", message()), mailbox=" Elodie.Dupre@Exemple.FR ")
    assert stream.mailbox == "elodie.dupre@exemple.fr"
    page = stream.fetch_page(None)
    assert page.mailbox_hint is None and len(page.interactions) == 1


def test_a_tree_of_every_kind(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write(root / "inbox" / "1", enron_message(1))
    write(root / "inbox" / "2", enron_message(2))
    # An mbox without a suffix next to loose messages is its own stream, not a member.
    write(root / "inbox" / "archive", b"From a@b Mon Mar  2 09:30:00 2026\n" + message())
    write(root / "agenda.ics", ICS_WEEKLY)
    write(root / "Maildir" / "cur" / "1700000000.M1P1.host:2,S", message())
    write(root / "Maildir" / "new" / "1700000001.M2P1.host", message(message_id="<b@x>"))
    write(root / "Maildir" / "tmp" / "1700000002.M3P1.host", b"half written")
    write(root / "Maildir" / ".Sent" / "cur" / "1700000003.M4P1.host:2,S", message())
    (root / "Maildir" / ".Sent" / "new").mkdir()
    write(root / "Maildir" / ".hidden-cache" / "x", message())  # hidden, not a Maildir
    write(root / "photos" / "a.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)))

    streams = open_streams(root)
    assert all(isinstance(s, Stream) for s in streams)
    real = root.resolve()
    assert [s.key for s in streams] == [
        f"ics:{real / 'agenda.ics'}",
        f"maildir:{real / 'Maildir'}",
        f"maildir:{real / 'Maildir' / '.Sent'}",
        f"maildir:{real / 'inbox'}",
        f"mbox:{real / 'inbox' / 'archive'}",
    ]
    assert all(s.mailbox is None for s in streams)
    pages, items = read_all(streams[3])
    assert [i.provider_id for i in items] == ["1", "2"]
    assert rejects(pages) == []
    assert {i.folder for i in items} == {"inbox"}

    maildir_items = read_all(streams[1])[1]
    # Provider ids drop the ":2,FLAGS" info so a flag change keeps the id; tmp/ is skipped.
    assert [i.provider_id for i in maildir_items] == [
        "1700000000.M1P1.host",
        "1700000001.M2P1.host",
    ]
    assert {i.folder for i in maildir_items} == {"inbox"}
    assert [i.folder for i in read_all(streams[2])[1]] == ["Sent"]


def test_a_directory_that_is_not_mail_has_no_streams(tmp_path: Path) -> None:
    write(tmp_path / "photos" / "a.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    write(tmp_path / "photos" / "notes.txt", "À faire : rappeler le client demain.\n")
    write(tmp_path / "photos" / "deep" / "data.bin", bytes(range(256)))
    (tmp_path / "photos" / "empty").mkdir()
    assert open_streams(tmp_path / "photos") == []


def test_a_lone_garbage_file_is_one_rejected_item(tmp_path: Path) -> None:
    garbage = write(tmp_path / "dump.bin", bytes(range(256)) * 4)
    stream = only_stream(garbage)
    page = stream.fetch_page(None)
    assert page.complete and page.interactions == [] and page.items_seen == 1
    assert [r.provider_id for r in page.rejected] == ["dump.bin"]
    assert "binary" in page.rejected[0].reason
    assert "\x00" not in page.rejected[0].excerpt


def test_binary_garbage_among_mail_is_rejected_and_the_stream_moves_on(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write(inbox / "1", enron_message(1))
    write(inbox / "2", b"\x89PNG\r\n\x1a\n\xde\xad\xbe\xef" * 50)
    write(inbox / "3", b"")
    write(inbox / "4", "Objet: liste de courses\n\npain, fromage\n")
    write(inbox / "5", enron_message(5))
    pages, items = read_all(only_stream(inbox))
    assert [i.provider_id for i in items] == ["1", "5"]
    reasons = {r.provider_id: r.reason for r in rejects(pages)}
    assert set(reasons) == {"2", "3", "4"}
    assert "no header fields" in reasons["2"] and "empty" in reasons["3"]
    assert reasons["4"] == "no usable Date header"
    assert sum(p.items_seen for p in pages) == 5


# --------------------------------------------------------------------------- RFC 5322 headers


def test_french_display_names_and_encoded_words(tmp_path: Path) -> None:
    raw = message(cc=("Chloé Lefèvre <chloe.lefevre@client.fr>",), bcc=("boss@exemple.fr",))
    assert b"=?utf-8?" in raw  # the fixture really carries RFC 2047 encoded words
    item = one(only_stream(write(tmp_path / "devis.eml", raw)))
    assert item.kind is Kind.EMAIL
    assert item.subject == "Devis n° 42 — réunion de lancement"
    assert item.natural_key == normalize_message_id("<devis-42@exemple.fr>")
    assert item.occurred_at == T0 and item.occurred_at.tzinfo is not None
    assert [(p.email, p.role, p.name) for p in item.participants] == [
        ("elodie.dupre@exemple.fr", Role.FROM, "Élodie Dupré"),
        ("jean.martin@client.fr", Role.TO, "Jean Martin"),
        ("chloe.lefevre@client.fr", Role.CC, "Chloé Lefèvre"),
        ("boss@exemple.fr", Role.BCC, ""),
    ]
    assert item.thread_key == item.natural_key and item.in_reply_to is None
    assert item.folder == tmp_path.name and item.provider_id == "devis.eml"
    assert not item.is_private and not item.is_automated and item.extra == {}


def test_participants_are_deduplicated_by_address_and_role(tmp_path: Path) -> None:
    raw = message(to=(JEAN, "JEAN.MARTIN@client.fr", ELODIE), cc=(JEAN,))
    item = one(only_stream(write(tmp_path / "a.eml", raw)))
    assert [(p.email, p.role) for p in item.participants] == [
        ("elodie.dupre@exemple.fr", Role.FROM),
        ("jean.martin@client.fr", Role.TO),
        ("elodie.dupre@exemple.fr", Role.TO),
        ("jean.martin@client.fr", Role.CC),
    ]


def test_threading_from_references_then_in_reply_to(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write(
        folder / "1",
        message(
            message_id="<c@x.fr>",
            headers=(("References", "<root@x.fr> <b@x.fr>"), ("In-Reply-To", "<b@x.fr>")),
        ),
    )
    write(folder / "2", message(message_id="<d@x.fr>", headers=(("In-Reply-To", "<c@x.fr>"),)))
    _, items = read_all(only_stream(folder))
    assert items[0].thread_key == normalize_message_id("<root@x.fr>")
    assert items[0].in_reply_to == normalize_message_id("<b@x.fr>")
    assert items[1].thread_key == items[1].in_reply_to == normalize_message_id("<c@x.fr>")


def test_private_and_automated_flags(tmp_path: Path) -> None:
    cases = {
        "1": ((("Sensitivity", "Private"),), True, False),
        "2": ((("Sensitivity", "Company-Confidential"),), True, False),
        "3": ((("Sensitivity", "Personal"),), False, False),
        "4": ((("Precedence", "bulk"),), False, True),
        "5": ((("List-Id", "<ventes.exemple.fr>"),), False, True),
        "6": ((("List-Unsubscribe", "<mailto:unsub@exemple.fr>"),), False, True),
        "7": ((("Auto-Submitted", "auto-replied"),), False, True),
        "8": ((("Auto-Submitted", "no"),), False, False),
        "9": ((("X-Autoreply", "yes"),), False, True),
    }
    for name, (headers, _, _) in cases.items():
        write(tmp_path / "inbox" / name, message(message_id=f"<{name}@x.fr>", headers=headers))
    write(tmp_path / "inbox" / "10", message(sender="no-reply@exemple.fr", message_id="<10@x>"))
    _, items = read_all(only_stream(tmp_path / "inbox"))
    flags = {i.provider_id: (i.is_private, i.is_automated) for i in items}
    assert flags == {name: (private, auto) for name, (_, private, auto) in cases.items()} | {
        "10": (False, True)
    }


def test_missing_message_id_gets_the_same_derived_key_in_two_folders(tmp_path: Path) -> None:
    def copy(bcc: tuple[str, ...] = (), subject: str = "Proposition commerciale") -> bytes:
        to = (JEAN, "Paul <paul@client.fr>")
        return message(message_id=None, to=to, cc=(ELODIE,), bcc=bcc, subject=subject)

    # The sender's copy has a Bcc the recipients' copies lack: the key must not depend on it.
    write(tmp_path / "elodie" / "sent" / "7", copy(bcc=("boss@exemple.fr",)))
    write(tmp_path / "jean" / "inbox" / "31", copy())
    write(tmp_path / "jean" / "inbox" / "32", copy(subject="Autre sujet"))
    first = {s.key: read_all(s)[1] for s in open_streams(tmp_path)}
    again = {s.key: read_all(s)[1] for s in open_streams(tmp_path)}
    (sent,) = first[f"maildir:{(tmp_path / 'elodie' / 'sent').resolve()}"]
    inbox = first[f"maildir:{(tmp_path / 'jean' / 'inbox').resolve()}"]
    assert sent.natural_key.startswith("sha1:")
    assert sent.natural_key == inbox[0].natural_key != inbox[1].natural_key
    assert sent.thread_key == sent.natural_key
    assert [i.natural_key for v in again.values() for i in v] == [
        i.natural_key for v in first.values() for i in v
    ]


def test_missing_date_falls_back_to_the_first_received_hop_else_rejects(tmp_path: Path) -> None:
    received = (
        ("Received", "from mx.client.fr by mail.client.fr; Mon, 2 Mar 2026 10:00:05 +0100"),
        ("Received", "from pc.exemple.fr by mx.exemple.fr; Mon, 2 Mar 2026 09:30:01 +0100"),
    )
    write(tmp_path / "inbox" / "1", message(date=None, headers=received))
    write(tmp_path / "inbox" / "2", message(date=None, message_id="<nodate@x.fr>"))
    write(
        tmp_path / "inbox" / "3",
        message(date=None, message_id="<baddate@x.fr>", headers=(("Date", "un jour"),)),
    )
    pages, items = read_all(only_stream(tmp_path / "inbox"))
    assert [i.provider_id for i in items] == ["1"]
    assert items[0].occurred_at == datetime(2026, 3, 2, 8, 30, 1, tzinfo=UTC)
    assert items[0].extra == {"date_source": "received"}
    assert {(r.provider_id, r.reason) for r in rejects(pages)} == {
        ("2", "no usable Date header"),
        ("3", "no usable Date header"),
    }


def test_non_utf8_header_bytes_are_decoded(tmp_path: Path) -> None:
    latin1 = (
        b"From: Fran\xe7ois P\xe9rez <francois.perez@exemple.fr>\n"
        b"To: jean.martin@client.fr\n"
        b"Subject: Caf\xe9 cr\xe8me et tarifs \x96 \xe9t\xe9 2026\n"
        b"Date: Mon, 2 Mar 2026 09:30:00 +0100\n"
        b"Message-ID: <latin1@exemple.fr>\n\nCorps en latin-1 : \xe9\xe8\xe0\n"
    )
    mixed = (
        "Subject: Réunion à Lyon\n".encode()  # raw UTF-8 ...
        + b"From: Ren\xe9 <rene@exemple.fr>\n"  # ... and Windows-1252 in one header block
        + b"To: jean.martin@client.fr\nDate: Mon, 2 Mar 2026 09:30:00 +0100\n\n"
    )
    write(tmp_path / "inbox" / "1", latin1)
    write(tmp_path / "inbox" / "2", mixed)
    pages, items = read_all(only_stream(tmp_path / "inbox"))
    assert rejects(pages) == []
    assert items[0].subject == "Café crème et tarifs – été 2026"
    assert items[0].participants[0].name == "François Pérez"
    assert items[1].subject == "Réunion à Lyon"
    assert items[1].participants[0].name == "René"


def test_missing_from_is_kept_when_there_are_recipients(tmp_path: Path) -> None:
    write(tmp_path / "inbox" / "1", message(sender=None))
    write(tmp_path / "inbox" / "2", message(sender=None, to=(), message_id="<nobody@x.fr>"))
    write(
        tmp_path / "inbox" / "3",
        message(sender=None, message_id="<sender@x.fr>", headers=(("Sender", ELODIE),)),
    )
    pages, items = read_all(only_stream(tmp_path / "inbox"))
    assert [(i.provider_id, [p.role for p in i.participants]) for i in items] == [
        ("1", [Role.TO]),
        ("3", [Role.FROM, Role.TO]),
    ]
    assert [(r.provider_id, r.reason) for r in rejects(pages)] == [
        ("2", "no usable sender or recipient")
    ]


def test_exchange_x500_sender_is_kept_as_an_x500_key(tmp_path: Path) -> None:
    raw = (
        b"From: /O=EXEMPLE/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=EDUPRE\n"
        b"To: jean.martin@client.fr\nDate: Mon, 2 Mar 2026 09:30:00 +0100\n"
        b"Subject: x500\nMessage-ID: <x500@exemple.fr>\n\n"
    )
    item = one(only_stream(write(tmp_path / "x500.eml", raw)))
    assert item.participants[0].role is Role.FROM
    assert item.participants[0].email.startswith("x500:")


def test_five_thousand_recipients_and_the_participant_cap(tmp_path: Path) -> None:
    # Written by hand: EmailMessage takes seconds to fold a 5,000-address header.
    many = ",\n ".join(f"Client {i} <client{i}@client.fr>" for i in range(5000))
    more = ",\n ".join(f"prospect{i}@prospect.fr" for i in range(5051))
    head = "From: elodie.dupre@exemple.fr\nDate: Mon, 2 Mar 2026 09:30:00 +0100\nSubject: Lettre\n"
    write(tmp_path / "inbox" / "1", f"{head}Message-ID: <a@x.fr>\nTo: {many}\n\nBonjour\n")
    write(tmp_path / "inbox" / "2", f"{head}Message-ID: <b@x.fr>\nTo: {many}\nCc: {more}\n\n")
    pages, items = read_all(only_stream(tmp_path / "inbox"))
    assert rejects(pages) == []
    assert len(items[0].participants) == 5001 and items[0].extra == {}
    assert items[0].participants[-1] == Participant("client4999@client.fr", Role.TO, "Client 4999")
    assert len(items[1].participants) == 10_000
    assert items[1].extra == {"participants_total": "10052"}


# --------------------------------------------------------------------------- folder paging


def test_pages_follow_natural_file_order_and_the_cursor_resumes(tmp_path: Path) -> None:
    for n in range(1, 13):
        write(tmp_path / "inbox" / str(n), enron_message(n))
    stream = only_stream(tmp_path / "inbox", page_size=5)
    first = stream.fetch_page(None)
    assert [i.provider_id for i in first.interactions] == ["1", "2", "3", "4", "5"]
    assert not first.complete and first.cursor is not None
    assert json.loads(first.cursor)["after"] == "5"
    second = stream.fetch_page(first.cursor)
    assert [i.provider_id for i in second.interactions] == ["6", "7", "8", "9", "10"]
    last = stream.fetch_page(second.cursor)
    assert [i.provider_id for i in last.interactions] == ["11", "12"]
    assert last.complete and last.cursor is not None
    state = json.loads(last.cursor)
    assert state["after"] is None and state["done"] is True and state["sig"][0] == 12


def test_second_fetch_of_an_unchanged_folder_is_a_no_op(tmp_path: Path) -> None:
    for n in (1, 2):
        write(tmp_path / "inbox" / str(n), enron_message(n))
    stream = only_stream(tmp_path / "inbox")
    done = stream.fetch_page(None)
    assert done.complete and len(done.interactions) == 2
    again = stream.fetch_page(done.cursor)
    assert again == Page(interactions=[], cursor=done.cursor, complete=True)
    # A new stream object (the next run) agrees.
    assert only_stream(tmp_path / "inbox").fetch_page(done.cursor).interactions == []


def test_a_new_file_is_picked_up_on_the_next_fetch(tmp_path: Path) -> None:
    for n in (1, 2):
        write(tmp_path / "inbox" / str(n), enron_message(n))
    stream = only_stream(tmp_path / "inbox")
    done = stream.fetch_page(None)
    bump_mtime(write(tmp_path / "inbox" / "10", enron_message(10)))
    page = stream.fetch_page(done.cursor)
    # The folder changed: the round restarts (the store's upserts are idempotent).
    assert [i.provider_id for i in page.interactions] == ["1", "2", "10"]
    assert page.complete and page.cursor != done.cursor
    assert stream.fetch_page(page.cursor).interactions == []


def test_a_rewritten_file_is_picked_up(tmp_path: Path) -> None:
    path = write(tmp_path / "inbox" / "1", enron_message(1))
    stream = only_stream(tmp_path / "inbox")
    done = stream.fetch_page(None)
    write(path, enron_message(1, to="autre@exemple.fr"))
    bump_mtime(path)
    page = stream.fetch_page(done.cursor)
    assert [p.email for p in page.interactions[0].participants][-1] == "autre@exemple.fr"


def test_bad_cursors_and_vanished_folders_raise_connector_errors(tmp_path: Path) -> None:
    write(tmp_path / "inbox" / "1", enron_message(1))
    stream = only_stream(tmp_path / "inbox")
    for bad in ("pas du json", "[]", '{"v": 99, "sig": [1, 2]}', '{"v": 1}'):
        with pytest.raises(CursorInvalidError):
            stream.fetch_page(bad)
    (tmp_path / "inbox" / "1").unlink()
    (tmp_path / "inbox").rmdir()
    with pytest.raises(StreamGoneError):
        stream.fetch_page(None)


def test_an_enron_shaped_folder(tmp_path: Path) -> None:
    user = tmp_path / "maildir" / "dupont-j"
    for n in (1, 2, 10):
        write(user / "inbox" / str(n), enron_message(n, with_id=n != 2))
    write(user / "inbox" / "clients" / "1", enron_message(3, to="jean.dupont@exemple.fr, x@y.fr"))
    write(user / "inbox" / "clients" / "2", enron_message(4, to="autre@exemple.fr"))
    streams = open_streams(tmp_path / "maildir")
    assert [s.key for s in streams] == [
        f"maildir:{(user / 'inbox').resolve()}",
        f"maildir:{(user / 'inbox' / 'clients').resolve()}",
    ]
    inbox_pages, inbox = read_all(streams[0])
    assert [i.provider_id for i in inbox] == ["1", "2", "10"]
    assert {i.folder for i in inbox} == {"inbox"}
    assert inbox[1].natural_key.startswith("sha1:")
    assert inbox[0].occurred_at == datetime(2001, 10, 2, 8, 15, tzinfo=UTC)  # 01:15 PDT
    # The owner of a dumped inbox is its most frequent recipient.
    assert inbox_pages[0].mailbox_hint == "jean.dupont@exemple.fr"
    clients_pages, clients = read_all(streams[1])
    assert {i.folder for i in clients} == {"clients"}
    assert clients_pages[0].mailbox_hint == "jean.dupont@exemple.fr"


# --------------------------------------------------------------------------- mbox

MBOX_1 = (
    b"From elodie.dupre@exemple.fr Mon Mar  2 09:30:00 2026\n"
    + message(message_id="<m1@exemple.fr>").replace(
        b"Cordialement", b"From the desk of Elodie (an unescaped From line)\nCordialement"
    )
    + b"\nFrom jean.martin@client.fr Mon Mar  2 10:00:00 2026\n"
    + message(sender=JEAN, to=(ELODIE,), message_id="<m2@client.fr>")
)
TRUNCATED = b"\nFrom paul@client.fr Mon Mar  2 11:00:00 2026\nFrom: paul@client.fr\nTo: elod"


def test_mbox_messages_and_an_unescaped_from_line_in_a_body(tmp_path: Path) -> None:
    stream = only_stream(write(tmp_path / "Boîte de réception.mbox", MBOX_1))
    assert stream.key.startswith("mbox:")
    pages, items = read_all(stream)
    assert rejects(pages) == []
    assert [i.natural_key for i in items] == [
        normalize_message_id("<m1@exemple.fr>"),
        normalize_message_id("<m2@client.fr>"),
    ]
    assert items[0].provider_id == "offset:0"
    assert {i.folder for i in items} == {"Boîte de réception"}
    assert stream.fetch_page(pages[-1].cursor).interactions == []


def test_mbox_paging_by_byte_offset(tmp_path: Path) -> None:
    data = b"".join(
        b"From x@y Mon Mar  2 09:30:00 2026\n" + message(message_id=f"<p{n}@x.fr>") + b"\n"
        for n in range(5)
    )
    stream = only_stream(write(tmp_path / "archive.mbox", data), page_size=2)
    pages, items = read_all(stream)
    assert [len(p.interactions) for p in pages] == [2, 2, 1]
    assert [p.complete for p in pages] == [False, False, True]
    assert [i.natural_key for i in items] == [
        normalize_message_id(f"<p{n}@x.fr>") for n in range(5)
    ]


def test_truncated_mbox_then_completed_by_an_append(tmp_path: Path) -> None:
    path = write(tmp_path / "inbox.mbox", MBOX_1 + TRUNCATED)
    stream = only_stream(path)
    page = stream.fetch_page(None)
    assert len(page.interactions) == 2 and page.complete
    assert [r.reason for r in page.rejected] == [
        "truncated message: the file ends inside the header block"
    ]
    # The writer finishes the message and appends another: reading resumes at the cut message.
    with path.open("ab") as handle:
        handle.write(b"ie.dupre@exemple.fr\nDate: Mon, 2 Mar 2026 11:00:00 +0100\n")
        handle.write(b"Subject: suite\nMessage-ID: <m3@client.fr>\n\ncorps\n")
        handle.write(b"\nFrom x@y Mon Mar  2 12:00:00 2026\n" + message(message_id="<m4@x.fr>"))
    bump_mtime(path)
    pages, items = read_all(stream, page.cursor)
    assert rejects(pages) == []
    assert [i.natural_key for i in items] == [
        normalize_message_id("<m3@client.fr>"),
        normalize_message_id("<m4@x.fr>"),
    ]
    assert items[0].participants[1].email == "elodie.dupre@exemple.fr"


def test_rewritten_mbox_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = write(tmp_path / "inbox.mbox", MBOX_1)
    stream = only_stream(path)
    done = stream.fetch_page(None)
    # Compaction: the first message is removed.
    write(path, b"From x@y Mon Mar  2 12:00:00 2026\n" + message(message_id="<m5@x.fr>"))
    bump_mtime(path)
    page = stream.fetch_page(done.cursor)
    assert [i.provider_id for i in page.interactions] == ["offset:0"]
    assert page.interactions[0].natural_key == normalize_message_id("<m5@x.fr>")


def test_mbox_with_leading_garbage_and_an_empty_mbox(tmp_path: Path) -> None:
    stream = only_stream(write(tmp_path / "odd.mbox", b"garbage line\n" + MBOX_1))
    page = stream.fetch_page(None)
    assert [r.provider_id for r in page.rejected] == ["offset:0"]
    assert len(page.interactions) == 2
    blank_first = only_stream(write(tmp_path / "blank.mbox", b"\n\n" + MBOX_1)).fetch_page(None)
    assert blank_first.rejected == [] and len(blank_first.interactions) == 2
    empty = only_stream(write(tmp_path / "empty.mbox", b""))
    page = empty.fetch_page(None)
    assert page.complete and page.interactions == [] and page.rejected == []
    assert empty.fetch_page(page.cursor).cursor == page.cursor


# --------------------------------------------------------------------------- iCalendar

ICS_WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//syncd tests//FR
BEGIN:VEVENT
UID:point-hebdo@exemple.fr
DTSTAMP:20251201T000000Z
DTSTART;TZID=Europe/Paris:20260105T100000
DTEND;TZID=Europe/Paris:20260105T103000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Paris:20260112T100000
SUMMARY:Point hebdo équipe commerciale
ORGANIZER;CN="Élodie Dupré":mailto:Elodie.Dupre@exemple.fr
ATTENDEE;CN=Jean Martin;PARTSTAT=ACCEPTED:mailto:jean.martin@client.fr
ATTENDEE;PARTSTAT=TENTATIVE:MAILTO:Paul@Client.fr
ATTENDEE:mailto:chloe@client.fr
ATTENDEE;CUTYPE=ROOM;CN=Salle Everest:mailto:everest@exemple.fr
CLASS:PRIVATE
SEQUENCE:1
END:VEVENT
BEGIN:VEVENT
UID:point-hebdo@exemple.fr
DTSTAMP:20251201T000000Z
RECURRENCE-ID;TZID=Europe/Paris:20260119T100000
DTSTART;TZID=Europe/Paris:20260120T140000
DTEND;TZID=Europe/Paris:20260120T150000
SUMMARY:Point hebdo (décalé)
ORGANIZER;CN="Élodie Dupré":mailto:Elodie.Dupre@exemple.fr
ATTENDEE;CN=Jean Martin;PARTSTAT=DECLINED:mailto:jean.martin@client.fr
STATUS:CANCELLED
SEQUENCE:2
END:VEVENT
END:VCALENDAR
"""


def test_weekly_meeting_with_exdate_and_a_moved_occurrence(tmp_path: Path) -> None:
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    stream = only_stream(write(tmp_path / "agenda.ics", ICS_WEEKLY), window=window)
    pages, items = read_all(stream)
    assert rejects(pages) == [] and len(pages) == 1
    uid = "point-hebdo@exemple.fr"
    # Jan 5, (Jan 12 excluded), Jan 19 moved to Jan 20 14:00, Jan 26; Feb 2 is outside.
    assert [(i.natural_key, i.occurred_at) for i in items] == [
        (f"{uid}|2026-01-05T09:00:00+00:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        (f"{uid}|2026-01-19T09:00:00+00:00", datetime(2026, 1, 20, 13, tzinfo=UTC)),
        (f"{uid}|2026-01-26T09:00:00+00:00", datetime(2026, 1, 26, 9, tzinfo=UTC)),
    ]
    first, moved, last = items
    assert first.kind is Kind.MEETING and first.provider_id == first.natural_key
    assert first.ended_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert first.subject == "Point hebdo équipe commerciale" and first.thread_key == uid
    # SEQUENCE is the series' highest (recurring_ical_events gives it to every occurrence).
    assert first.is_private and not first.is_cancelled and first.version == 2
    assert [(p.email, p.role, p.name, p.response) for p in first.participants] == [
        ("elodie.dupre@exemple.fr", Role.ORGANIZER, "Élodie Dupré", None),
        ("jean.martin@client.fr", Role.ATTENDEE, "Jean Martin", "accepted"),
        ("paul@client.fr", Role.ATTENDEE, "", "tentative"),
        ("chloe@client.fr", Role.ATTENDEE, "", "none"),  # the room is not a person
    ]
    assert moved.subject == "Point hebdo (décalé)" and moved.is_cancelled
    assert moved.participants[1].response == "declined"
    assert moved.version == last.version == 2
    assert stream.fetch_page(pages[-1].cursor).interactions == []


def test_time_zones_all_day_and_floating_times(tmp_path: Path) -> None:
    events = [
        ("win-paris", "DTSTART;TZID=Romance Standard Time:20260705T100000"),
        ("win-berlin", "DTSTART;TZID=W. Europe Standard Time:20260115T100000"),
        ("win-london", "DTSTART;TZID=GMT Standard Time:20260705T100000"),
        ("win-la", "DTSTART;TZID=Pacific Standard Time:20260115T090000"),
        ("win-ny", "DTSTART;TZID=Eastern Standard Time:20260705T090000"),
        ("olson", "DTSTART;TZID=Europe/Paris:20260115T100000"),
        ("all-day", "DTSTART;VALUE=DATE:20260706\nDTEND;VALUE=DATE:20260707"),
        ("floating", "DTSTART:20260707T100000"),
        ("unknown-tz", "DTSTART;TZID=Nowhere Standard Time:20260708T100000"),
    ]
    body = "".join(
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\n{start}\nSUMMARY:{uid}\nEND:VEVENT\n"
        for uid, start in events
    )
    ics = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\n{body}END:VCALENDAR\n"
    stream = only_stream(write(tmp_path / "tz.ics", ics), window=WINDOW_2026)
    pages, items = read_all(stream)
    assert rejects(pages) == []
    starts = {i.thread_key: i.occurred_at for i in items}
    assert starts == {
        "win-paris": datetime(2026, 7, 5, 8, tzinfo=UTC),
        "win-berlin": datetime(2026, 1, 15, 9, tzinfo=UTC),
        "win-london": datetime(2026, 7, 5, 9, tzinfo=UTC),
        "win-la": datetime(2026, 1, 15, 17, tzinfo=UTC),
        "win-ny": datetime(2026, 7, 5, 13, tzinfo=UTC),
        "olson": datetime(2026, 1, 15, 9, tzinfo=UTC),
        "all-day": datetime(2026, 7, 6, tzinfo=UTC),
        "floating": datetime(2026, 7, 7, 10, tzinfo=UTC),
        "unknown-tz": datetime(2026, 7, 8, 10, tzinfo=UTC),
    }
    by_uid = {i.thread_key: i for i in items}
    assert by_uid["all-day"].ended_at == datetime(2026, 7, 7, tzinfo=UTC)
    assert by_uid["all-day"].extra == {"all_day": "true"}
    assert by_uid["unknown-tz"].extra == {"tzid_unresolved": "Nowhere Standard Time"}


def test_an_old_calendar_is_expanded_over_its_own_span(tmp_path: Path) -> None:
    ics = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nMETHOD:CANCEL\n"
        "BEGIN:VEVENT\nUID:enron-1\nDTSTAMP:20010101T000000Z\nDTSTART:20011015T160000Z\n"
        "DTEND:20011015T170000Z\nSUMMARY:Gas desk\nRRULE:FREQ=WEEKLY;UNTIL=20011231T235959Z\n"
        "ORGANIZER:mailto:phillip.allen@enron.com\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:enron-2\nDTSTAMP:20010101T000000Z\nDTSTART;VALUE=DATE:20020110\n"
        "SUMMARY:Offsite\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    stream = only_stream(write(tmp_path / "old.ics", ics))  # default window: today -/+ 1 year
    _, items = read_all(stream)
    # Nothing in today -/+ 1 year: the file's own span is used (12 Mondays, then the offsite).
    assert len(items) == 13 and items[-1].thread_key == "enron-2"
    assert items[0].occurred_at == datetime(2001, 10, 15, 16, tzinfo=UTC)
    assert all(i.is_cancelled for i in items)  # METHOD:CANCEL cancels what it carries

    recent = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stamp = recent.strftime("%Y%m%dT%H%M%SZ")
    live_event = f"BEGIN:VEVENT\nUID:live\nDTSTART:{stamp}\nEND:VEVENT\n"
    live = ics.replace("BEGIN:VEVENT", live_event + "BEGIN:VEVENT", 1)
    _, items = read_all(only_stream(write(tmp_path / "live.ics", live)))
    # Something is in the default window: it is used as is.
    assert [i.thread_key for i in items] == ["live"]


def test_broken_calendars_become_rejected_items(tmp_path: Path) -> None:
    garbage = only_stream(write(tmp_path / "garbage.ics", bytes(range(256))))
    page = garbage.fetch_page(None)
    assert page.complete and page.interactions == []
    assert [r.provider_id for r in page.rejected] == ["garbage.ics"]
    assert page.rejected[0].reason.startswith("not an iCalendar file")

    ics = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\n"
        "BEGIN:VEVENT\nUID:bad\nDTSTART:pas une date\nSUMMARY:cassé\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:good\nDTSTART:20260301T090000Z\nSUMMARY:ok\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    pages, items = read_all(only_stream(write(tmp_path / "half.ics", ics), window=WINDOW_2026))
    assert [i.thread_key for i in items] == ["good"]
    assert [r.provider_id for r in rejects(pages)] == ["bad"]


def test_calendar_paging_and_no_op(tmp_path: Path) -> None:
    ics = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nUID:daily\n"
        "DTSTART:20260101T080000Z\nRRULE:FREQ=DAILY\nSUMMARY:stand-up\n"
        "ATTENDEE:mailto:a@exemple.fr\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    path = write(tmp_path / "daily.ics", ics)
    stream = only_stream(path, window=WINDOW_2026, page_size=100)
    pages, items = read_all(stream)
    assert [len(p.interactions) for p in pages] == [100, 100, 100, 65]
    assert len({i.natural_key for i in items}) == 365
    assert stream.fetch_page(pages[-1].cursor).interactions == []
    # Another window is another round.
    other = only_stream(path, window=(WINDOW_2026[0], WINDOW_2026[0] + timedelta(days=10)))
    assert len(other.fetch_page(pages[-1].cursor).interactions) == 10


# --------------------------------------------------------------------------- real data


@pytest.mark.enron
def test_a_real_enron_inbox(shared_dir: Path) -> None:
    inbox = shared_dir / "data" / "enron" / "maildir" / "allen-p" / "inbox"
    if not inbox.is_dir():
        pytest.skip(f"{inbox} is absent")
    files = sum(1 for p in inbox.iterdir() if p.is_file())
    stream = only_stream(inbox)
    pages, items = read_all(stream)
    assert sum(p.items_seen for p in pages) == files == 66
    assert len(items) >= files - 2, rejects(pages)
    assert all(i.occurred_at.year in (2000, 2001, 2002) for i in items)
    derived = [i.natural_key for i in items if i.natural_key.startswith("sha1:")]
    assert len(derived) >= 60  # 63 of 66 files have no Message-ID
    assert len(set(derived)) == len(derived)
    hint = pages[0].mailbox_hint
    assert hint is not None and "allen" in hint and hint.endswith("@enron.com")
    # Same keys on a second import; a done cursor is a no-op.
    again = read_all(only_stream(inbox))[1]
    assert [i.natural_key for i in again] == [i.natural_key for i in items]
    assert stream.fetch_page(pages[-1].cursor).interactions == []
