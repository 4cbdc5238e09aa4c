"""Wire level for sending: Graph sendMail, and finding a sent copy by one of our headers.

sendMail answers 202 with no body, so the Message-ID Exchange gave the mail is only known by
reading the sender's Sent Items back; the same read tells whether a send that was interrupted
(the process killed between the request and recording it) went out. Both raise what
`GraphTransport.get`/`post` raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.msgraph.operations import _segment
from connectors.msgraph.transport import GraphCall, GraphTransport

Json = dict[str, Any]
# Graph only lets custom headers starting with x- into internetMessageHeaders.
TRACK_HEADER = "X-Syncd-Track"


@dataclass(frozen=True, slots=True)
class SentCopy:
    internet_message_id: str
    sent_at: str  # ISO 8601 as Graph gives it


def _recipients(addresses: list[str]) -> list[Json]:
    return [{"emailAddress": {"address": a}} for a in addresses]


def send_mail(
    transport: GraphTransport,
    sender: str,
    *,
    to: list[str],
    subject: str,
    html: str,
    headers: dict[str, str] | None = None,
    save_to_sent_items: bool = True,
) -> None:
    """user: sendMail (user-sendmail): ``POST /users/{id | userPrincipalName}/sendMail``.

    Never retried after Graph may have acted on it (see `GraphTransport.post`).
    """
    message: Json = {
        "subject": subject,
        "body": {"contentType": "HTML", "content": html},
        "toRecipients": _recipients(to),
    }
    if headers:
        message["internetMessageHeaders"] = [
            {"name": name, "value": value} for name, value in headers.items()
        ]
    call = GraphCall(f"sending mail as {sender}", sender, "Mail.Send")
    transport.post(
        transport.graph_url + f"users/{_segment(sender)}/sendMail",
        call,
        {"message": message, "saveToSentItems": save_to_sent_items},
    )


def find_sent_copy(
    transport: GraphTransport, sender: str, header_value: str, *, look_at: int = 50
) -> SentCopy | None:
    """List messages (user-list-messages) in Sent Items, newest first, and return the one whose
    ``X-Syncd-Track`` header is ``header_value``; None when none of the newest ``look_at`` is.

    internetMessageHeaders is only returned when selected; Graph cannot filter on it, hence
    the scan of the newest items (a send is looked up right after it was made).
    """
    call = GraphCall(f"the Sent Items of {sender}", sender, "Mail.Read")
    url = transport.graph_url + f"users/{_segment(sender)}/mailFolders/sentitems/messages"
    body = transport.get(
        url,
        call,
        params={
            "$select": "internetMessageId,sentDateTime,internetMessageHeaders",
            "$top": str(look_at),
        },
    )
    for item in body.get("value") or []:
        if not isinstance(item, dict):
            continue
        for header in item.get("internetMessageHeaders") or []:
            if (
                isinstance(header, dict)
                and str(header.get("name", "")).lower() == TRACK_HEADER.lower()
                and header.get("value") == header_value
            ):
                return SentCopy(
                    str(item.get("internetMessageId") or ""), str(item.get("sentDateTime") or "")
                )
    return None
