"""Send one tracked mail through Graph, once per intent, however often it is asked.

The intent is named by an idempotency key (a workflow step, a CLI invocation). The sequence:
1. record the intent (`tracked_messages`, status ``sending``) and commit;
2. send with Graph sendMail, the row's ``uid`` in an ``X-Syncd-Track`` header;
3. read the sender's Sent Items for that header to learn the Message-ID, and record ``sent``.
A process killed between 2 and 3 leaves ``sending``: the next attempt first looks for the
header in Sent Items and, when it is there, records it instead of sending again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import ConnectorError, ThrottledError, TransientError
from syncd.config import ConfigError, MsGraphConnector, Settings, resolve_secret
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_workflow import TrackedMessage
from syncd.tracking.html import add_pixel, rewrite_links
from syncd.tracking.tokens import TokenSigner

if TYPE_CHECKING:
    from connectors.msgraph.transport import GraphTransport
    from syncd.app import App


class SendError(Exception):
    """The mail could not be sent. ``permanent``: retrying will not help (configuration,
    permissions, a refused recipient)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Outgoing:
    sender: str
    to: str
    subject: str
    html: str
    idem_key: str
    lead_id: int | None = None
    contact_id: int | None = None
    run_id: int | None = None
    track: bool = True


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: int
    internet_message_id: str | None
    already_sent: bool


def signer(settings: Settings) -> TokenSigner:
    """Raises ConfigError when no key is configured or its reference cannot be resolved."""
    ref = settings.tracking.key
    if not ref:
        raise ConfigError(['[tracking] key is not set: add key = "env:SYNCD_TRACKING_KEY" '
                           "(a random secret of at least 16 bytes)"])
    try:
        return TokenSigner(resolve_secret(ref).encode("utf-8"))
    except ValueError as exc:
        raise ConfigError([f"[tracking] key ({ref}): {exc}"]) from None


def tracking_urls(settings: Settings, sign: TokenSigner) -> tuple[Callable[[int], str],
                                                                   Callable[[int, str], str]]:
    base = settings.tracking.public_base_url.rstrip("/")
    return (lambda mid: f"{base}/o/{sign.open_token(mid)}.gif",
            lambda mid, url: f"{base}/c/{sign.click_token(mid, url)}")


def decorate(settings: Settings, sign: TokenSigner, message_id: int, html: str) -> str:
    """The body with its links through /c/ and the pixel at the end."""
    pixel, link = tracking_urls(settings, sign)
    return add_pixel(rewrite_links(html, lambda url: link(message_id, url)), pixel(message_id))


def records_of(session: Session, address: str) -> tuple[int | None, int | None]:
    """(lead id, contact id) of the recipient, so the mail is linked to them."""
    pid = session.scalar(select(m.Person.id).where(m.Person.email == address.lower()))
    if pid is None:
        return None, None
    contact_id = session.scalar(select(m.Contact.id).where(
        m.Contact.person_id == pid, m.Contact.merged_into_id.is_(None)))
    lead_id = session.scalar(select(m.Lead.id).where(
        m.Lead.person_id == pid, m.Lead.status != "merged").order_by(m.Lead.id.desc()).limit(1))
    return lead_id, contact_id


def send_connector(settings: Settings) -> MsGraphConnector:
    """The msgraph connector mail is sent with. Raises ConfigError when there is none."""
    name = settings.workflows.send_connector
    graphs = [c for c in settings.connectors if isinstance(c, MsGraphConnector)]
    if name:
        conn = settings.connector(name)
        if not isinstance(conn, MsGraphConnector):
            raise ConfigError([f"[workflows] send_connector: {name!r} is not an msgraph connector"])
        return conn
    if len(graphs) == 1:
        return graphs[0]
    raise ConfigError(["sending mail needs an msgraph connector: set [workflows] send_connector"
                       if graphs else "sending mail needs an msgraph connector (none configured)"])


class Mailer:
    def __init__(self, app: App, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self._now = now

    def _transport(self) -> GraphTransport:
        try:
            return self.app.graph_connector(send_connector(self.app.settings)).transport
        except ConfigError as exc:
            raise SendError("; ".join(exc.problems), permanent=True) from exc

    def send(self, out: Outgoing) -> SendResult:
        """Send once per ``out.idem_key``; linked to the recipient's lead or contact unless
        ``out`` names them. Raises: SendError."""
        from connectors.msgraph.send import TRACK_HEADER, find_sent_copy, send_mail

        sign = None
        if out.track:
            try:
                sign = signer(self.app.settings)
            except ConfigError as exc:
                raise SendError("; ".join(exc.problems), permanent=True) from exc
        with session_scope(self.app.sessions) as s:
            row = s.scalar(select(TrackedMessage).where(TrackedMessage.idem_key == out.idem_key))
            interrupted = row is not None and row.status == "sending"
            if row is None:
                lead_id, contact_id = out.lead_id, out.contact_id
                if lead_id is None and contact_id is None:
                    lead_id, contact_id = records_of(s, out.to)
                row = TrackedMessage(uid=uuid.uuid4().hex, idem_key=out.idem_key,
                                     mailbox=out.sender, recipient=out.to,
                                     subject=out.subject[:2000], lead_id=lead_id,
                                     contact_id=contact_id, run_id=out.run_id,
                                     status="sending", created_at=self._now())
                s.add(row)
                s.flush()
            elif row.status == "sent":
                return SendResult(row.id, row.internet_message_id, True)
            message_id, uid = row.id, row.uid
        transport = self._transport()
        try:
            if interrupted:
                copy = find_sent_copy(transport, out.sender, uid)
                if copy is not None:
                    imid = self._mark_sent(message_id, copy.internet_message_id or None)
                    return SendResult(message_id, imid, True)
            html = decorate(self.app.settings, sign, message_id, out.html) if sign else out.html
            send_mail(transport, out.sender, to=[out.to], subject=out.subject, html=html,
                      headers={TRACK_HEADER: uid})
        except ConnectorError as exc:
            self._record_error(message_id, str(exc))
            transient = isinstance(exc, (TransientError, ThrottledError))
            raise SendError(str(exc), permanent=not transient) from exc
        try:
            copy = find_sent_copy(transport, out.sender, uid)
        except ConnectorError:
            copy = None  # sent; the Message-ID is only a link for later capture
        imid = self._mark_sent(message_id, copy.internet_message_id if copy else None)
        return SendResult(message_id, imid, False)

    def backfill_message_ids(self, limit: int = 10, within: timedelta = timedelta(days=1)) -> int:
        """Find the Message-ID of recent sent mail whose copy was not yet in Sent Items when it
        was sent (Exchange files it asynchronously), so replies and the captured copy can be
        tied to it. Returns how many were found; Graph errors leave the rest for later."""
        from connectors.msgraph.send import find_sent_copy

        since = self._now() - within
        with session_scope(self.app.sessions) as s:
            rows = [(r.id, r.mailbox, r.uid) for r in s.scalars(
                select(TrackedMessage).where(TrackedMessage.status == "sent",
                                             TrackedMessage.internet_message_id.is_(None),
                                             TrackedMessage.sent_at >= since)
                .order_by(TrackedMessage.id).limit(limit))]
        if not rows:
            return 0
        found = 0
        try:
            transport = self._transport()
            for message_id, mailbox, uid in rows:
                copy = find_sent_copy(transport, mailbox, uid)
                if copy is not None and copy.internet_message_id:
                    self._mark_sent(message_id, copy.internet_message_id)
                    found += 1
        except (ConnectorError, SendError):
            pass  # next pass
        return found

    def _mark_sent(self, message_id: int, internet_message_id: str | None) -> str | None:
        """Record the send; returns the Message-ID as stored: normalised as capture keys mail
        (natural key, In-Reply-To), so that they join."""
        from connectors.normalize import normalize_message_id

        imid = normalize_message_id(internet_message_id) if internet_message_id else None
        with session_scope(self.app.sessions) as s:
            row = s.get_one(TrackedMessage, message_id)
            if row.status != "sent":
                row.status, row.sent_at, row.error = "sent", self._now(), None
            row.internet_message_id = imid
        return imid

    def _record_error(self, message_id: int, error: str) -> None:
        # Status stays "sending": whether Graph acted is only certain from Sent Items.
        with session_scope(self.app.sessions) as s:
            s.get_one(TrackedMessage, message_id).error = error[:2000]
