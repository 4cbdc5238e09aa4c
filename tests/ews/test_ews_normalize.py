"""Property test of the EWS -> Graph shape mapping (connectors/ews/mail.py): an exchangelib
Message and the Graph message of the same mail normalise to the same Interaction, accented
names, legacy DN senders (once resolved), Sensitivity and In-Reply-To included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exchangelib import EWSDateTime, Mailbox, Message
from exchangelib.properties import ConversationId, MessageHeader
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ews.mail import message_as_graph
from connectors.msgraph.mail import normalize_message

names = st.text(alphabet="abcdeéèçàôïÉ '-", min_size=0, max_size=20)
locals_ = st.text(alphabet="abcdefghij.-", min_size=1, max_size=12).filter(
    lambda s: s[0].isalpha() and s[-1].isalpha() and ".." not in s)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", locals_,
                      st.sampled_from(["contoso.fr", "fabrikam.com", "exemple.be"]))
people = st.tuples(names, addresses)
DN = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=ab12-x"


@settings(max_examples=60, deadline=None)
@given(sender=people, to=st.lists(people, max_size=5), cc=st.lists(people, max_size=3),
       subject=st.text(max_size=60), minutes=st.integers(0, 10**6),
       sender_as_dn=st.booleans(), private=st.booleans(), reply=st.booleans(),
       message_id=st.one_of(st.none(), locals_.map(lambda s: f"<{s}@mail.contoso.fr>")))
def test_ews_and_graph_shapes_of_one_mail_normalise_alike(
    sender: tuple[str, str], to: list[tuple[str, str]], cc: list[tuple[str, str]],
    subject: str, minutes: int, sender_as_dn: bool, private: bool, reply: bool,
    message_id: str | None,
) -> None:
    sent = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    headers = [("From", f"{sender[0]} <{sender[1]}>")]
    if reply:
        headers.append(("In-Reply-To", "<parent-1@mail.contoso.fr>"))
    ews_sender = Mailbox(name=sender[0], email_address=DN if sender_as_dn else sender[1],
                         routing_type="EX" if sender_as_dn else "SMTP")
    item = Message(
        subject=subject, author=ews_sender, sender=ews_sender,
        to_recipients=[Mailbox(name=n, email_address=a) for n, a in to],
        cc_recipients=[Mailbox(name=n, email_address=a) for n, a in cc],
        datetime_sent=EWSDateTime.from_datetime(sent),
        datetime_received=EWSDateTime.from_datetime(sent + timedelta(seconds=2)),
        message_id=message_id, conversation_id=ConversationId(id="AAQkAconv"),
        sensitivity="Private" if private else "Normal", is_draft=False,
        headers=[MessageHeader(name=k, value=v) for k, v in headers])
    item._id = None
    shaped = message_as_graph(item, {DN: sender[1]})

    def graph_address(person: tuple[str, str]) -> dict[str, object]:
        return {"emailAddress": {"name": person[0], "address": person[1]}}

    graph_headers = [{"name": k, "value": v} for k, v in headers]
    if private:
        graph_headers.append({"name": "Sensitivity", "value": "private"})
    graph = {
        "id": "", "internetMessageId": message_id, "subject": subject,
        "from": graph_address(sender), "sender": graph_address(sender),
        "toRecipients": [graph_address(p) for p in to],
        "ccRecipients": [graph_address(p) for p in cc],
        "sentDateTime": sent.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "receivedDateTime": (sent + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conversationId": "AAQkAconv", "isDraft": False, "internetMessageHeaders": graph_headers,
    }
    if message_id is None:
        del graph["internetMessageId"]
    ours = normalize_message(shaped, folder="inbox")
    theirs = normalize_message(graph, folder="inbox")
    assert ours == theirs
