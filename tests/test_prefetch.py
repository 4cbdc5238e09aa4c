"""Pages read ahead in a child process are the pages the stream itself would return."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from connectors.base import Interaction, Kind, Participant, Role, iter_pages
from connectors.files import open_streams
from connectors.prefetch import Prefetcher


def test_interactions_survive_pickling_exactly() -> None:
    item = Interaction(natural_key="k@x", kind=Kind.MEETING, provider_id="p",
                       occurred_at=datetime(2026, 5, 4, 7, tzinfo=UTC), subject="Réunion",
                       participants=(Participant("a@x.fr", Role.ORGANIZER, "Aé", "accepted"),),
                       is_private=True, version=3, extra={"k": "v"})
    assert pickle.loads(pickle.dumps(item)) == item


def make_maildir(root: Path, n: int) -> Path:
    folder = root / "inbox"
    folder.mkdir(parents=True)
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = f"s{i % 7}@fabrikam.com"
        msg["To"] = "owner@contoso.fr"
        msg["Subject"] = f"n°{i}"
        msg["Date"] = "Mon, 4 May 2026 09:00:00 +0200"
        msg["Message-ID"] = f"<m{i}@fabrikam.com>"
        msg.set_content("x")
        (folder / str(i)).write_bytes(msg.as_bytes())
    return root


def test_prefetched_pages_equal_direct_reads(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "mail", 1200)
    direct = [p for s in open_streams(root) for p in iter_pages(s, None)]
    streams = open_streams(root)
    prefetcher = Prefetcher(streams, [None] * len(streams))
    try:
        fetched = [p for s in prefetcher.streams for p in iter_pages(s, None)]
    finally:
        prefetcher.close()
    assert len(direct) == len(fetched) == 3  # 500 per page
    assert [p.interactions for p in direct] == [p.interactions for p in fetched]
    assert [p.cursor for p in direct] == [p.cursor for p in fetched]


def test_a_parent_out_of_step_with_the_child_still_gets_the_right_page(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "mail", 700)
    (stream,) = open_streams(root)
    first = stream.fetch_page(None)
    prefetcher = Prefetcher([stream], [None])
    try:
        (ahead,) = prefetcher.streams
        second = ahead.fetch_page(first.cursor)  # the child starts from None: skip its page 1
    finally:
        prefetcher.close()
    assert second == stream.fetch_page(first.cursor)
