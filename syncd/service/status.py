"""`syncd status`: per connector and mailbox, what is synced up to when, what is waiting,
what is throttled, and the last error in plain words; plus the workers of a scale-out group.

Three queries whatever the number of streams (the old per-stream count of rejects was one
query per stream: 3,000 queries for 1,000 mailboxes).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.queries import record_counts
from syncd.store import models as m
from syncd.store.models_service import ServiceLease, ServiceWorker

# Stored errors are "ClassName: message" (runner.record_failure); admins get the meaning first.
_MEANINGS = {
    "AuthError": "sign-in or permission problem (run `syncd connector test NAME`)",
    "ThrottledError": "throttled: the server asked us to wait",
    "TransientError": "temporary network or server failure; retrying with back-off",
    "StreamGoneError": "the mailbox or folder no longer exists",
    "MassDeletionError": "stopped: a poll would delete most of this stream",
    "CursorInvalidError": "the server rejected our sync position; re-reading from scratch",
    "OperationalError": "database problem",
}


def plain_error(stored: str | None) -> str | None:
    """``ThrottledError: ...`` -> ``throttled: the server asked us to wait (...)``."""
    if not stored:
        return None
    name, sep, rest = stored.partition(": ")
    meaning = _MEANINGS.get(name) if sep else None
    return f"{meaning} — {rest}" if meaning else stored


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _state(row: m.Stream, now: datetime) -> str:
    if row.phase == "stopped":
        return "stopped"
    if row.next_due_at and row.next_due_at > now and (row.consecutive_failures or 0) > 0:
        return "throttled" if (row.last_error or "").startswith("ThrottledError") \
            else "backing off"
    if row.last_success_at is None:
        return "never synced" if not row.last_error else "failing"
    if row.phase == "resync":
        return "resyncing"
    return "ok"


def service_status(session: Session, now: datetime | None = None,
                   lease_seconds: float = 60.0) -> dict[str, Any]:
    """Everything `syncd status --json` prints; the table view is built from the same data."""
    now = now or datetime.now(UTC)
    counts = record_counts(session)
    rejected = dict(session.execute(select(m.RejectedItem.stream_id, func.count()).group_by(
        m.RejectedItem.stream_id)).all())
    leases = {(lease.connector, lease.unit.split("|", 1)[1]): lease
              for lease in session.scalars(select(ServiceLease))}
    streams: list[dict[str, Any]] = []
    boxes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    q = select(m.Stream, m.Mailbox.address).outerjoin(
        m.Mailbox, m.Mailbox.id == m.Stream.mailbox_id).order_by(m.Stream.connector, m.Stream.key)
    for row, address in session.execute(q):
        due = max([t for t in (row.poll_due_at, row.next_due_at) if t] or [now])
        item = {
            "connector": row.connector, "stream": row.key, "mailbox": address,
            "phase": row.phase, "state": _state(row, now), "round_complete": row.round_complete,
            "items": row.items_total, "rejected": rejected.get(row.id, 0),
            "last_success_at": _iso(row.last_success_at),
            "next_poll_at": _iso(due),
            "overdue": row.phase != "stopped" and due < now - timedelta(seconds=60),
            "failures": row.consecutive_failures,
            "last_error": row.last_error, "last_error_plain": plain_error(row.last_error),
            "last_error_at": _iso(row.last_error_at), "resyncs": row.resync_count,
        }
        streams.append(item)
        boxes[(row.connector, address or "(tenant)")].append(item)
    mailboxes = []
    for (connector, address), items in sorted(boxes.items()):
        lease = leases.get((connector, address)) or leases.get((connector, "#tenant"))
        successes = [x["last_success_at"] for x in items]
        errors = [x for x in items if x["last_error"] and x["state"] != "ok"]
        states = {x["state"] for x in items}
        state = next((s for s in ("stopped", "failing", "throttled", "backing off",
                                  "resyncing", "never synced") if s in states), "ok")
        unit_error = lease.last_error if lease is not None and lease.failures else None
        if unit_error:
            state = "failing"
        mailboxes.append({
            "connector": connector, "mailbox": address, "streams": len(items), "state": state,
            # Everything up to this instant is synced in every stream of the mailbox.
            "synced_up_to": None if None in successes else min(successes, default=None),
            "items": sum(x["items"] for x in items),
            "backlog": sum(1 for x in items if x["overdue"]),
            "throttled": any(x["state"] == "throttled" for x in items),
            "leased_by": lease.owner if lease is not None and lease.lease_until
            and lease.lease_until > now else None,
            "last_error": plain_error(unit_error) if unit_error else
            (errors[0]["last_error_plain"] if errors else None),
        })
    by_connector: dict[str, dict[str, Any]] = {}
    for box in mailboxes:
        c = by_connector.setdefault(box["connector"], {
            "connector": box["connector"], "mailboxes": 0, "streams": 0, "ok": 0,
            "problems": 0, "backlog": 0, "throttled": 0, "synced_up_to": None})
        c["mailboxes"] += 1
        c["streams"] += box["streams"]
        c["ok" if box["state"] == "ok" else "problems"] += 1
        c["backlog"] += box["backlog"]
        c["throttled"] += int(box["throttled"])
        if box["synced_up_to"] and (c["synced_up_to"] is None
                                    or box["synced_up_to"] < c["synced_up_to"]):
            c["synced_up_to"] = box["synced_up_to"]
    alive_after = now - timedelta(seconds=2 * lease_seconds)
    workers = [{"id": w.id, "host": w.host, "pid": w.pid, "state": w.state,
                "alive": w.state != "stopped" and w.heartbeat_at > alive_after,
                "heartbeat_at": _iso(w.heartbeat_at), "started_at": _iso(w.started_at),
                "summary": w.summary}
               for w in session.scalars(select(ServiceWorker).order_by(ServiceWorker.id))
               if w.state != "stopped" or w.heartbeat_at > now - timedelta(days=1)]
    return {"counts": counts, "connectors": list(by_connector.values()),
            "mailboxes": mailboxes, "streams": streams, "workers": workers}
