"""The capture pipeline: one connector page in, one database transaction out.

Everything a page implies is written in the caller's transaction, together with the stream's
new cursor (DESIGN.md contract 2): interactions (upserted by natural key), sightings, persons,
participants, the capture decision and its activity and links, ties, and outbox events. Killing
the process at any instant therefore loses nothing and duplicates nothing, and re-reading a page
is a no-op: interactions that already exist add only sightings, never ties or activities.

The work is done with set-oriented statements (one SELECT ... IN and one executemany per table
per page) because an import of a large mailbox spends most of its time here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from connectors.base import Interaction as NInteraction
from connectors.base import Page, Role
from graph.fold import TieAccumulator
from graph.privacy import OptOut
from syncd.policy import Decision, PersonFacts, Policy, domain_of
from syncd.store import models as m
from syncd.store.bulk import insert_rows, insert_tuples, select_in, update_rows
from syncd.store.ties import NewEmail, add_reply_latencies, as_utc, merge_ties


def _table(model: type[m.Base]) -> Table:
    return cast(Table, model.__table__)


T_PERSON = _table(m.Person)
T_INTERACTION = _table(m.Interaction)
T_PARTICIPANT = _table(m.Participant)
T_SIGHTING = _table(m.Sighting)
T_ACTIVITY = _table(m.Activity)
T_ACTIVITY_LINK = _table(m.ActivityLink)
T_EVENT = _table(m.Event)
T_REJECTED = _table(m.RejectedItem)
PARTICIPANT_PK = ("interaction_id", "person_id", "role")
PARTICIPANT_COLUMNS = ("interaction_id", "person_id", "role", "response")
CHUNK = 500  # bound on IN-list sizes (SQLite's variable limit, planner sanity)
SENDER_ROLES = (Role.FROM, Role.ORGANIZER, Role.CALLER)
# The same roles as plain strings, for the prepared participants (whose roles are plain str):
# a set lookup instead of three enum comparisons, per participant of every message.
SENDER_TEXT = frozenset(role.value for role in SENDER_ROLES)
ROLE_TEXT = {role: role.value for role in Role}  # plain str for the drivers, without Enum costs


@dataclass
class PageResult:
    items_seen: int = 0
    interactions_new: int = 0
    interactions_updated: int = 0
    sightings_new: int = 0
    deletions: int = 0
    rejected: int = 0
    captured: int = 0
    persons_new: int = 0

    def add(self, other: PageResult) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    """One incoming interaction with blocked/forgotten participants filtered out."""

    item: NInteraction
    participants: list[tuple[str, str, str, str | None]]  # (email, role, name, response)
    blocked: list[str] = field(default_factory=list)
    sender_blocked: str | None = None  # blocklisted senders are dropped like any participant

    @property
    def sender(self) -> str | None:
        for email, role, _, _ in self.participants:
            if role in SENDER_TEXT:
                return email
        return None


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _lookup_persons(session: Session, keys: Sequence[str]) -> dict[str, tuple[int, str, bool]]:
    """{email: (id, name, forgotten)} of the stored persons among `keys`."""
    return {email: (pid, name, bool(forgotten)) for pid, email, name, forgotten in select_in(
        session, "SELECT id, email, name, forgotten FROM persons WHERE email IN ({in})", keys)}


def ensure_persons(
    session: Session, names: dict[str, str], policy: Policy, now: datetime, *,
    known: dict[str, tuple[int, str, bool]] | None = None,
) -> tuple[dict[str, int], int]:
    """Return {email: person id} for every key in `names`, creating the missing ones.

    `known` is `_lookup_persons` over (at least) these keys earlier in the same transaction:
    capture looks a page's persons up once, for the forgotten filter and for this.
    """
    keys = list(names)
    if known is None:
        known = _lookup_persons(session, keys)
    ids: dict[str, int] = {}
    unnamed: list[dict[str, Any]] = []
    for email in keys:
        row = known.get(email)
        if row is None:
            continue
        pid, name = row[0], row[1]
        ids[email] = pid
        if not name and names[email]:
            unnamed.append({"id": pid, "name": names[email][:300]})
    unnamed.sort(key=lambda r: r["id"])  # one lock order for concurrent workers (PostgreSQL)
    # A person first seen without a display name gets the first one a later message shows.
    update_rows(session, T_PERSON, ("id",), unnamed)
    # Sorted: concurrent mailbox threads on PostgreSQL otherwise take the unique-index locks
    # of the same new addresses in different orders and deadlock (found by issue 4's tests).
    missing = sorted(k for k in keys if k not in ids)
    if missing:
        rows = [
            {
                "email": k,
                "name": names[k][:300],
                "domain": domain_of(k),
                "is_internal": policy.is_internal(k),
                "is_automated": policy.is_automated(k),
                "is_unresolved": k.startswith("x500:"),
                "forgotten": False,
                "first_seen": now,
                "last_seen": now,
            }
            for k in missing
        ]
        insert_rows(session, T_PERSON, rows, conflict=["email"])
        for pid, email in select_in(
                session, "SELECT id, email FROM persons WHERE email IN ({in})", missing):
            ids[email] = pid
    return ids, len(missing)


def _facts(
    session: Session, person_ids: dict[str, int], emails: set[str], policy: Policy
) -> dict[str, PersonFacts]:
    ids = [person_ids[e] for e in emails]
    by_id = {person_ids[e]: e for e in emails}
    contacts: dict[int, tuple[int, int | None]] = {}
    leads: dict[int, int] = {}
    # Plain SQL through select_in, not ORM selects: these run for every page and SQLAlchemy's
    # statement caching and result processing cost more than SQLite answering them.
    # A contact or lead merged into another (syncd.lifecycle.merge) stands for its survivor.
    for cid, pid, acc in select_in(
            session, "SELECT COALESCE(merged_into_id, id), person_id, account_id FROM contacts "
            "WHERE person_id IN ({in})", ids):
        contacts[pid] = (cid, acc)
    for lid, pid in select_in(
            session, "SELECT COALESCE(merged_into_id, id), person_id FROM leads "
            "WHERE status IN ({p}, {p}) AND person_id IN ({in})", ids,
            params=("open", "merged")):
        leads.setdefault(pid, lid)
    domains = sorted({domain_of(e) for e in emails} - {""})
    accounts: dict[str, int] = {dom: acc for dom, acc in select_in(
        session, "SELECT domain, account_id FROM account_domains WHERE domain IN ({in})",
        domains)}
    out = {}
    for pid, email in by_id.items():
        contact = contacts.get(pid)
        dom = domain_of(email)
        out[email] = PersonFacts(
            email=email,
            contact_id=contact[0] if contact else None,
            contact_account_id=contact[1] if contact else None,
            lead_id=leads.get(pid),
            account_id_by_domain=None if policy.is_free_mail(email) else accounts.get(dom),
        )
    return out


def decision_text(decision: Decision, memo: dict[Decision, str]) -> str:
    """`decision.as_json()` serialised as the store's JSON column does (json.dumps)."""
    text = memo.get(decision)
    if text is None:
        text = memo[decision] = json.dumps(decision.as_json())
    return text


def internal_user_emails(session: Session) -> frozenset[str]:
    rows = session.connection().exec_driver_sql(
        "SELECT p.email FROM persons p JOIN users u ON u.person_id = p.id").fetchall()
    return frozenset(row[0] for row in rows)


class Capturer:
    """Writes connector pages into the store under one policy. Stateless between pages
    except for caches that are safe to keep (the internal users set)."""

    def __init__(self, policy: Policy, half_life_days: float,
                 opt_out: OptOut | None = None) -> None:
        self.policy = policy
        self.half_life_days = half_life_days
        self.opt_out = opt_out or OptOut(())

    def capture_page(
        self,
        session: Session,
        stream: m.Stream,
        page: Page,
        *,
        now: datetime | None = None,
    ) -> PageResult:
        """Write `page` and advance `stream.cursor` in the caller's transaction."""
        now = now or datetime.now(UTC)
        result = PageResult(items_seen=page.items_seen or len(page.interactions))
        users = internal_user_emails(session)
        all_keys = sorted({p.email for it in page.interactions for p in it.participants})
        known = _lookup_persons(session, all_keys)
        prepared = self._prepare(page.interactions, {k for k, v in known.items() if v[2]})

        names: dict[str, str] = {}
        for p in prepared:
            for email, _, name, _ in p.participants:
                if name and not names.get(email):
                    names[email] = name
                else:
                    names.setdefault(email, "")
        person_ids, result.persons_new = ensure_persons(session, names, self.policy, now,
                                                        known=known)

        existing: dict[str, tuple[int, int]] = {
            key: (iid, version) for iid, key, version in select_in(
                session, "SELECT id, natural_key, version FROM interactions "
                "WHERE natural_key IN ({in})", list({p.item.natural_key for p in prepared}))
        }

        # Copies whose Message-ID differs from the stored one but whose fingerprint matches.
        fingerprints = list({p.item.fingerprint for p in prepared
                             if p.item.fingerprint and p.item.natural_key not in existing})
        by_fingerprint: dict[str, tuple[int, int]] = {}
        for iid, fp, version in select_in(
                session, "SELECT id, fingerprint, version FROM interactions "
                "WHERE kind = {p} AND fingerprint IN ({in})", fingerprints, params=("email",)):
            by_fingerprint.setdefault(str(fp), (iid, version))
        for p in prepared:
            fp = p.item.fingerprint
            if p.item.natural_key not in existing and fp in by_fingerprint:
                existing[p.item.natural_key] = by_fingerprint[fp]

        new: dict[str, _Prepared] = {}
        new_by_fp: dict[str, str] = {}  # fingerprint -> natural key of the page's first copy
        aliases: dict[str, str] = {}  # natural key -> natural key of the copy inserted
        updates: list[_Prepared] = []
        again: list[_Prepared] = []
        for p in prepared:
            key, fp = p.item.natural_key, p.item.fingerprint
            if key in existing:
                (updates if p.item.version > existing[key][1] else again).append(p)
            elif key in new:
                again.append(p)  # a second copy within the same page
            elif fp and fp in new_by_fp:
                aliases[key] = new_by_fp[fp]
                again.append(p)
            else:
                new[key] = p
                if fp:
                    new_by_fp[fp] = key

        interaction_ids = {k: v[0] for k, v in existing.items()}
        if new:
            captured = self._insert_new(session, list(new.values()), person_ids, users, now,
                                        interaction_ids)
            result.interactions_new = len(new)
            result.captured = captured
        for key, first in aliases.items():
            interaction_ids[key] = interaction_ids[first]
        if updates:
            self._apply_updates(session, updates, person_ids, interaction_ids)
            result.interactions_updated = len(updates)
        if again:
            result.captured += self._merge_participants(session, again, person_ids, users,
                                                        interaction_ids, now)

        result.sightings_new = self._write_sightings(session, stream, prepared, interaction_ids,
                                                     now)
        result.deletions = self._write_deletions(session, stream, page, now)
        result.rejected = self._write_rejects(session, stream, page, now)

        stream.cursor = page.cursor
        stream.round_complete = page.complete or (stream.round_complete and page.cursor is None)
        if page.complete:
            stream.phase = "incremental"
        stream.items_total = (stream.items_total or 0) + result.interactions_new
        stream.last_success_at = now
        stream.last_error = None
        return result

    # -- steps -------------------------------------------------------------------------

    def _prepare(self, items: list[NInteraction], gone: set[str]) -> list[_Prepared]:
        """Participants minus the forgotten (`gone`) and blocked ones, deduplicated."""
        is_blocked = self.policy.is_blocked
        out = []
        for it in items:
            kept: list[tuple[str, str, str, str | None]] = []
            blocked: list[str] = []
            seen: set[tuple[str, str]] = set()
            sender_blocked: str | None = None
            for part in it.participants:
                email, role = part.email, part.role
                if email in gone:
                    continue
                if is_blocked(email):
                    if email not in blocked:
                        blocked.append(email)
                    if role in SENDER_ROLES:
                        sender_blocked = email
                    continue
                pair = (email, role)
                if pair in seen:
                    continue
                seen.add(pair)
                kept.append((email, ROLE_TEXT[role], part.name, part.response))
            out.append(_Prepared(it, kept, blocked, sender_blocked))
        return out

    def _insert_new(
        self,
        session: Session,
        items: list[_Prepared],
        person_ids: dict[str, int],
        users: frozenset[str],
        now: datetime,
        interaction_ids: dict[str, int],
    ) -> int:
        policy = self.policy
        decisions = self._decide(session, items, person_ids, users)
        rows = []
        # The JSON text of each distinct decision, once: a page's decisions are a handful of
        # shapes ("internal only", "external: contact 12"), and serialising one per row showed
        # in profiles. The text is exactly what the JSON column would store for the dict.
        decision_json: dict[Decision, str] = {}
        for p in items:
            it = p.item
            sender = p.sender
            others = [e for e, role, _, _ in p.participants if role not in SENDER_TEXT]
            decision = decisions[it.natural_key]
            rows.append(
                {
                    "natural_key": it.natural_key,
                    "fingerprint": it.fingerprint,
                    "kind": str(it.kind),
                    "occurred_at": it.occurred_at,
                    "ended_at": it.ended_at,
                    "subject": it.subject[:2000],
                    "thread_key": it.thread_key,
                    "in_reply_to": it.in_reply_to,
                    "direction": policy.direction(sender, others, users),
                    "is_private": it.is_private,
                    "is_automated": it.is_automated,
                    "is_cancelled": it.is_cancelled,
                    "version": it.version,
                    "participant_count": len(p.participants),
                    "captured": decision.captured,
                    "decision": decision_text(decision, decision_json),
                    "created_at": now,
                }
            )
        insert_rows(session, T_INTERACTION, rows, conflict=["natural_key"])
        # Rows this transaction inserted carry its `now`. Another worker may have inserted
        # the same interaction since our lookup (PostgreSQL scale-out): ON CONFLICT skipped
        # ours, and its ties were folded by that worker, so they must not be folded again.
        mine: set[str] = set()
        for iid, key, created in select_in(
                session, "SELECT id, natural_key, created_at FROM interactions "
                "WHERE natural_key IN ({in})", [r["natural_key"] for r in rows]):
            interaction_ids[key] = iid
            if as_utc(created) == now:
                mine.add(key)

        insert_tuples(
            session, T_PARTICIPANT, PARTICIPANT_COLUMNS,
            [(interaction_ids[p.item.natural_key], person_ids[email], role, response)
             for p in items for email, role, _, response in p.participants],
            conflict=PARTICIPANT_PK,
        )

        captured = self._write_activities(session, items, decisions, person_ids, interaction_ids,
                                          now)
        self._fold_ties(session, [p for p in items if p.item.natural_key in mine], person_ids)
        return captured

    def _decide(
        self,
        session: Session,
        items: list[_Prepared],
        person_ids: dict[str, int],
        users: frozenset[str],
    ) -> dict[str, Decision]:
        policy = self.policy
        everyone = {x[0] for p in items for x in p.participants}
        externals = {
            email for email in everyone
            if email not in users and not policy.is_internal(email)
            and not email.startswith("x500:")
        }
        facts = _facts(session, person_ids, externals, policy) if externals else {}
        decisions: dict[str, Decision] = {}
        for p in items:
            sender = p.sender
            ext = [facts[e] for e in dict.fromkeys(x[0] for x in p.participants) if e in facts]
            decisions[p.item.natural_key] = policy.decide(
                kind=str(p.item.kind),
                sender=p.sender_blocked or sender,
                is_private=p.item.is_private,
                is_automated=p.item.is_automated
                or (sender is not None and policy.is_automated(sender)),
                external=ext,
                blocked=p.blocked,
            )
        return decisions

    def _merge_participants(
        self,
        session: Session,
        items: list[_Prepared],
        person_ids: dict[str, int],
        users: frozenset[str],
        interaction_ids: dict[str, int],
        now: datetime,
    ) -> int:
        """A later copy may show participants an earlier one did not (Bcc, only in the sender's
        Sent Items): store the union, and capture the interaction if the union now says so.
        Returns how many interactions became activities."""
        ids = list({interaction_ids[p.item.natural_key] for p in items})
        stored: dict[int, list[tuple[str, str, str, str | None]]] = {i: [] for i in ids}
        have_by: dict[int, set[tuple[str, str]]] = {i: set() for i in ids}  # (email, role)
        captured: set[int] = set()
        for iid, email, role, response in select_in(
                session, "SELECT pa.interaction_id, p.email, pa.role, pa.response "
                "FROM participants pa JOIN persons p ON p.id = pa.person_id "
                "WHERE pa.interaction_id IN ({in})", ids):
            stored[iid].append((email, role, "", response))
            have_by[iid].add((email, role))
        captured.update(row[0] for row in select_in(
            session, "SELECT id FROM interactions WHERE captured = {p} AND id IN ({in})", ids,
            params=(True,)))
        gained: dict[int, _Prepared] = {}
        added: list[tuple[int, int, str, str | None]] = []
        for p in items:
            iid = interaction_ids[p.item.natural_key]
            have = have_by[iid]
            extra = [x for x in p.participants if (x[0], x[1]) not in have]
            if not extra:
                continue
            stored[iid].extend(extra)
            have.update((x[0], x[1]) for x in extra)
            added.extend((iid, person_ids[e], r, resp) for e, r, _, resp in extra)
            gained[iid] = _Prepared(p.item, stored[iid], p.blocked, p.sender_blocked)
        insert_tuples(session, T_PARTICIPANT, PARTICIPANT_COLUMNS, added,
                      conflict=PARTICIPANT_PK)
        update_rows(session, T_INTERACTION, ("id",),
                    [{"participant_count": len(p.participants), "id": iid}
                     for iid, p in gained.items()])
        retry = [p for iid, p in gained.items() if iid not in captured]
        if not retry:
            return 0
        decisions = self._decide(session, retry, person_ids, users)
        now_captured = [p for p in retry if decisions[p.item.natural_key].captured]
        update_rows(session, T_INTERACTION, ("id",),
                    [{"captured": True, "decision": decisions[p.item.natural_key].as_json(),
                      "id": interaction_ids[p.item.natural_key]} for p in now_captured])
        return self._write_activities(session, now_captured, decisions, person_ids,
                                      interaction_ids, now)

    def _write_activities(
        self,
        session: Session,
        items: list[_Prepared],
        decisions: dict[str, Decision],
        person_ids: dict[str, int],
        interaction_ids: dict[str, int],
        now: datetime,
    ) -> int:
        chosen = [p for p in items if decisions[p.item.natural_key].captured]
        if not chosen:
            return 0
        creates = self._auto_create(session, chosen, decisions, person_ids, now)
        rows = [{"interaction_id": interaction_ids[p.item.natural_key], "captured_at": now}
                for p in chosen]
        insert_rows(session, T_ACTIVITY, rows, conflict=["interaction_id"])
        ids = {p.item.natural_key: interaction_ids[p.item.natural_key] for p in chosen}
        activity_ids: dict[int, int] = {iid: aid for aid, iid in select_in(
            session, "SELECT id, interaction_id FROM activities WHERE interaction_id IN ({in})",
            list(ids.values()))}
        links: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for p in chosen:
            aid = activity_ids[ids[p.item.natural_key]]
            targets = list(decisions[p.item.natural_key].links)
            for email, _, _, _ in p.participants:
                if email in creates:
                    targets.append(creates[email])
            targets = list(dict.fromkeys(targets))
            links.extend(
                {"activity_id": aid, "target_type": t, "target_id": tid} for t, tid in targets
            )
            events.append(
                {
                    "type": "activity.captured",
                    "payload": {
                        "activity_id": aid,
                        "interaction_id": ids[p.item.natural_key],
                        "natural_key": p.item.natural_key,
                        "kind": str(p.item.kind),
                        "links": [[t, tid] for t, tid in targets],
                    },
                    "created_at": now,
                }
            )
        if links:
            insert_rows(session, T_ACTIVITY_LINK, links,
                        conflict=["activity_id", "target_type", "target_id"])
        insert_rows(session, T_EVENT, events)
        return len(chosen)

    def _auto_create(
        self,
        session: Session,
        chosen: list[_Prepared],
        decisions: dict[str, Decision],
        person_ids: dict[str, int],
        now: datetime,
    ) -> dict[str, tuple[str, int]]:
        """Create the contacts/leads the policy asked for; returns {email: (type, id)}."""
        want_c: set[str] = set()
        want_l: set[str] = set()
        for p in chosen:
            d = decisions[p.item.natural_key]
            want_c.update(d.create_contacts)
            want_l.update(d.create_leads)
        out: dict[str, tuple[str, int]] = {}
        for email in sorted(want_c):
            pid = person_ids[email]
            contact = session.scalar(select(m.Contact).where(m.Contact.person_id == pid))
            if contact is None:
                acc = session.scalar(
                    select(m.AccountDomain.account_id).where(
                        m.AccountDomain.domain == domain_of(email)
                    )
                )
                contact = m.Contact(person_id=pid, account_id=acc, origin="auto", created_at=now,
                                    name=session.get_one(m.Person, pid).name)
                session.add(contact)
                session.flush()
            out[email] = ("contact", contact.id)
        for email in sorted(want_l - want_c):
            pid = person_ids[email]
            lead = session.scalar(
                select(m.Lead).where(m.Lead.person_id == pid, m.Lead.status == "open")
            )
            if lead is None:
                person = session.get_one(m.Person, pid)
                # The same name as a contact of the account owning this domain: another
                # address of that contact, not a new lead (issue 8, syncd.lifecycle.leads).
                from syncd.lifecycle.leads import link_to_contact  # imports this module

                known = link_to_contact(session, pid, person.name, "", domain_of(email), now)
                if known is not None:
                    out[email] = ("contact", known.id)
                    continue
                lead = m.Lead(person_id=pid, name=person.name, company=domain_of(email),
                              source="auto-capture", created_at=now)
                session.add(lead)
                session.flush()
                session.add(m.Event(type="lead.created", created_at=now,
                                    payload={"lead_id": lead.id, "email": email,
                                             "source": "auto-capture"}))
            out[email] = ("lead", lead.id)
        return out

    def fold_stored(self, session: Session,
                    items: list[tuple[NInteraction, list[tuple[str, str]]]],
                    person_ids: dict[str, int]) -> None:
        """Fold already stored interactions ((item, [(email, role)])) into the ties again, for
        `syncd graph rebuild`: every reply's parent is stored, so latencies come from the
        reply's side only (looking for stored replies too would count them twice)."""
        prepared = [_Prepared(it, [(e, r, "", None) for e, r in parts]) for it, parts in items]
        self._fold_ties(session, prepared, person_ids, stored_replies=False)

    def _fold_ties(
        self, session: Session, items: list[_Prepared], person_ids: dict[str, int],
        *, stored_replies: bool = True,
    ) -> None:
        # The page's own per-pair sums (graph.fold), then one upsert that merges them into
        # the stored ties (syncd.store.ties: the decayed-sum algebra, in SQL).
        acc = TieAccumulator()
        excluded = self.opt_out.filter(person_ids) if self.opt_out else frozenset()
        replies: dict[str, NewEmail] = {}
        for p in items:
            it = p.item
            sender = p.sender
            if sender is not None and (it.is_automated or self.policy.is_automated(sender)):
                continue  # robots are not relationships
            recips = [(e, role) for e, role, _, _ in p.participants if role not in SENDER_TEXT]
            kind = it.kind.value
            duration = ((it.ended_at - it.occurred_at).total_seconds()
                        if kind == "call" and it.ended_at is not None else None)
            acc.add(kind, sender, recips, person_ids, it.occurred_at,
                    is_reply=it.in_reply_to is not None, duration_s=duration,
                    excluded=excluded)
            if kind == "email" and sender is not None:
                replies[it.natural_key] = NewEmail(
                    it.natural_key, it.in_reply_to, person_ids[sender],
                    frozenset(person_ids[e] for e, role in recips if role in ("to", "cc")),
                    it.occurred_at)
        if replies:
            gone = frozenset(person_ids[e] for e in excluded)
            add_reply_latencies(session, acc, replies, gone, stored_replies=stored_replies)
        if acc.pairs:
            merge_ties(session, acc.rows(self.half_life_days), self.half_life_days)

    def _apply_updates(
        self,
        session: Session,
        items: list[_Prepared],
        person_ids: dict[str, int],
        interaction_ids: dict[str, int],
    ) -> None:
        """A newer version of a known interaction (call record updated): refresh its facts and
        participants. Ties keep what the first version contributed (documented limitation)."""
        for p in items:
            iid = interaction_ids[p.item.natural_key]
            session.execute(
                update(m.Interaction).where(m.Interaction.id == iid).values(
                    subject=p.item.subject[:2000], ended_at=p.item.ended_at,
                    version=p.item.version, is_cancelled=p.item.is_cancelled,
                    participant_count=len(p.participants),
                )
            )
            session.execute(T_PARTICIPANT.delete().where(
                m.Participant.interaction_id == iid))
            rows = [{"interaction_id": iid, "person_id": person_ids[e], "role": r,
                     "response": resp} for e, r, _, resp in p.participants]
            if rows:
                insert_rows(session, T_PARTICIPANT, rows, conflict=PARTICIPANT_PK)

    def _write_sightings(
        self,
        session: Session,
        stream: m.Stream,
        prepared: list[_Prepared],
        interaction_ids: dict[str, int],
        now: datetime,
    ) -> int:
        if not prepared:
            return 0
        known = {row[0] for row in select_in(
            session, "SELECT provider_id FROM sightings WHERE stream_id = {p} "
            "AND deleted_at IS NULL AND provider_id IN ({in})",
            list({p.item.provider_id for p in prepared}), params=(stream.id,))}
        rows = {}
        for p in prepared:
            rows[p.item.provider_id] = {
                "interaction_id": interaction_ids[p.item.natural_key],
                "stream_id": stream.id,
                "provider_id": p.item.provider_id,
                "folder": p.item.folder,
                "seen_at": now,
                "deleted_at": None,
            }
        insert_rows(session, T_SIGHTING, list(rows.values()),
                    conflict=["stream_id", "provider_id"],
                    update=["interaction_id", "folder", "deleted_at", "seen_at"])
        return len(set(rows) - known)

    def _write_deletions(
        self, session: Session, stream: m.Stream, page: Page, now: datetime
    ) -> int:
        if not page.deletions:
            return 0
        n = 0
        ids = [d.provider_id for d in page.deletions]
        for part in _chunks(ids):
            res = session.execute(
                update(m.Sighting)
                .where(
                    m.Sighting.stream_id == stream.id,
                    m.Sighting.provider_id.in_(part),
                    m.Sighting.deleted_at.is_(None),
                )
                .values(deleted_at=now)
            )
            n += int(getattr(res, "rowcount", 0) or 0)
        return n

    def _write_rejects(
        self, session: Session, stream: m.Stream, page: Page, now: datetime
    ) -> int:
        if not page.rejected:
            return 0
        rows = {
            r.provider_id: {
                "stream_id": stream.id,
                "provider_id": r.provider_id,
                "reason": r.reason[:1000],
                "excerpt": r.excerpt[:500],
                "seen_at": now,
            }
            for r in page.rejected
        }
        insert_rows(session, T_REJECTED, list(rows.values()),
                    conflict=["stream_id", "provider_id"], update=["reason", "excerpt"])
        return len(rows)

