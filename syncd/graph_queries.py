"""Graph questions answered from the tie table: who-knows, contacts-of, coverage, paths, forget.

No query replays interactions. `who_knows`, `contacts_of` and `coverage` read the ties of a
few persons (and, for indirect evidence, of the target's strongest contacts: two indexed
reads). `paths` reads the ties of both ends and of their strongest contacts into a small
networkx graph (`local_graph`), which answers exactly what the whole graph would, so its cost
does not grow with the graph; `load_graph` loads the whole table (a warm process may keep it
and pass it to `paths`), strengths computed in SQL (graph.strength.strength_sql) so that a
million ties do not cost a Python call each. Persons who are forgotten, opted out (config
`[graph] opt_out`) or robots never appear.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from graph.privacy import OptOut
from graph.rank import Hop, Ranked, TieView, describe, rank
from graph.strength import WEIGHT_SQL, strength_from, strength_sql
from syncd.capture import internal_user_emails
from syncd.policy import Policy, domain_of
from syncd.queries import QueryError, Target, find_account_id, resolve_target
from syncd.store import models as m
from syncd.store.bulk import datetime_converter, select_in
from syncd.store.ties import as_utc

if TYPE_CHECKING:
    from graph.network import TieGraph

INTERMEDIARIES = 50  # indirect evidence looks at the target's strongest contacts only
SAME_ORGANISATION = 0.3  # how much a colleague of the target at their company stands for them
TIE_SELECT = (
    "SELECT t.person_a, t.person_b, t.a_to_b, t.b_to_a, t.meetings, t.calls, t.co_recipient, "
    "t.replies_ab, t.replies_ba, t.call_seconds, t.latency_ab_sum, t.latency_ab_n, "
    "t.latency_ba_sum, t.latency_ba_n, t.first_at, t.last_at, " + WEIGHT_SQL + ", t.score_at, "
    "pa.email, pa.name, pb.email, pb.name "
    "FROM ties t JOIN persons pa ON pa.id = t.person_a JOIN persons pb ON pb.id = t.person_b "
    "WHERE pa.forgotten = {p} AND pb.forgotten = {p} AND pa.is_automated = {p} "
    "AND pb.is_automated = {p} AND "
)


@dataclass(frozen=True)
class GraphContext:
    """What every graph query needs besides the session."""

    policy: Policy
    half_life_days: float
    opt_out: OptOut

    def visible(self, email: str) -> bool:
        return not self.opt_out.matches(email) and not self.policy.is_automated(email)


def _decayed(weight: float, score_at: datetime, as_of: datetime, hl: float) -> float:
    age = (as_of - score_at).total_seconds()
    return weight * 0.5 ** (age / (hl * 86400.0)) if age > 0 else weight


def _row_strength(r: tuple[Any, ...], as_of: datetime, hl: float) -> float:
    return strength_from(_decayed(r[16], as_utc(r[17]), as_of, hl), r[2], r[3],
                         r[10] + r[12], r[11] + r[13])


def _view(r: tuple[Any, ...], me_is_a: bool, strength: float) -> TieView:
    """The tie row `r` (TIE_SELECT order) from the side of person a (me_is_a) or b."""
    first, last = as_utc(r[14]), as_utc(r[15])
    if me_is_a:
        return TieView(colleague=r[18], colleague_name=r[19], target=r[20], sent=r[2],
                       received=r[3], meetings=r[4], calls=r[5], co_recipient=r[6],
                       first_at=first, last_at=last, strength=strength, replies_sent=r[7],
                       replies_received=r[8], call_seconds=r[9], latency_sum=r[10],
                       latency_n=r[11])
    return TieView(colleague=r[20], colleague_name=r[21], target=r[18], sent=r[3],
                   received=r[2], meetings=r[4], calls=r[5], co_recipient=r[6],
                   first_at=first, last_at=last, strength=strength, replies_sent=r[8],
                   replies_received=r[7], call_seconds=r[9], latency_sum=r[12],
                   latency_n=r[13])


def ties_of(session: Session, person_ids: Iterable[int]) -> list[tuple[tuple[Any, ...], bool]]:
    """Every visible tie touching `person_ids`, with True when the person is end a."""
    ids = sorted(set(person_ids))
    out = [(r, True) for r in select_in(session, TIE_SELECT + "t.person_a IN ({in})", ids,
                                        params=(False,) * 4)]
    out += [(r, False) for r in select_in(session, TIE_SELECT + "t.person_b IN ({in})", ids,
                                          params=(False,) * 4)]
    return out


def default_as_of(session: Session) -> datetime:
    """Strength is decayed to the latest captured interaction (or now, if earlier): an
    archive imported today should not look a year colder than it was."""
    # The latest interaction, not the latest tie: interactions.occurred_at is indexed, a
    # scan of a million ties for max(last_at) is not free.
    latest = session.scalar(select(func.max(m.Interaction.occurred_at)))
    now = datetime.now(UTC)
    return min(now, latest) if latest else now


def who_knows(session: Session, target: str, ctx: GraphContext, *, everyone: bool = False,
              limit: int | None = 10, as_of: datetime | None = None,
              among: frozenset[str] | None = None,
              indirect: bool = True) -> tuple[Target, list[Ranked], datetime]:
    """Colleagues ranked by tie strength with the target, then indirect evidence.

    Colleagues are internal users and internal-domain addresses (`everyone`: anyone;
    `among`: exactly these addresses). Raises QueryError for a target that is not one.
    """
    tgt = resolve_target(session, target)
    tgt = Target(tgt.label, [pid for pid, email in _emails(session, tgt.person_ids)
                             if ctx.visible(email)])
    as_of = as_of or default_as_of(session)
    if not tgt.person_ids:
        return tgt, [], as_of
    users = internal_user_emails(session)

    def colleague(email: str) -> bool:
        if among is not None:
            return email in among
        return everyone or email in users or ctx.policy.is_internal(email)

    hl = ctx.half_life_days
    targets = set(tgt.person_ids)
    views: list[TieView] = []
    neighbours: dict[int, float] = {}
    for r, t_is_a in ties_of(session, targets):
        other_id, other = (r[1], r[20]) if t_is_a else (r[0], r[18])
        if other_id in targets or not ctx.visible(other):
            continue
        s = _row_strength(r, as_of, hl)
        neighbours[other_id] = max(neighbours.get(other_id, 0.0), s)
        if colleague(other):
            views.append(_view(r, not t_is_a, s))
    hops: list[Hop] = []
    direct = {v.colleague for v in views if v.direct}
    if indirect and (limit is None or len(direct) < limit):
        hops = _hops(session, ctx, tgt, targets, neighbours, colleague, as_of)
    return tgt, rank(views, as_of=as_of, limit=limit, hops=hops), as_of


def _emails(session: Session, ids: list[int]) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in select_in(
        session, "SELECT id, email FROM persons WHERE id IN ({in})", sorted(set(ids)))]


def _hops(session: Session, ctx: GraphContext, tgt: Target, targets: set[int],
          neighbours: dict[int, float], colleague: Any, as_of: datetime) -> list[Hop]:
    """colleague - intermediary - target routes through the target's strongest contacts and,
    for an address at a company, the people of that company."""
    via = dict(neighbours)
    if len(targets) == 1:
        (email,) = [e for _, e in _emails(session, list(targets))]
        dom = domain_of(email)
        if dom and not ctx.policy.is_internal(email) and not ctx.policy.is_free_mail(email):
            for pid, other in session.execute(select(m.Person.id, m.Person.email).where(
                    m.Person.domain == dom, ~m.Person.forgotten).limit(200)):
                if pid not in targets and ctx.visible(other):
                    via[pid] = max(via.get(pid, 0.0), SAME_ORGANISATION)
    strongest = sorted(via, key=lambda k: (-via[k], k))[:INTERMEDIARIES]
    if not strongest:
        return []
    rows = strength_rows(session, ctx, strongest, as_of)
    hops: list[Hop] = []
    for r, m_is_a in rows:
        mid, mid_email = (r[0], r[3]) if m_is_a else (r[1], r[4])
        other_id, other, other_name = (r[1], r[4], r[5]) if m_is_a else (r[0], r[3], r[6])
        if other_id in targets or not colleague(other) or not ctx.visible(other):
            continue
        s = via[mid] * float(r[2] or 0.0)
        if s > 0:
            hops.append(Hop(colleague=other, colleague_name=other_name, via=mid_email,
                            strength=s))
    return hops


def strength_rows(session: Session, ctx: GraphContext, ids: Iterable[int],
                  as_of: datetime) -> list[tuple[tuple[Any, ...], bool]]:
    """Every visible tie of `ids` as ((a, b, strength, a email, b email, b name, a name),
    True when the person is end a). Strength is computed in SQL: the persons may be hubs
    with thousands of ties, and only these columns come back."""
    conn = session.connection()
    dialect = conn.dialect.name
    sql = (f"SELECT t.person_a, t.person_b, {strength_sql(dialect, ctx.half_life_days)}, "
           "pa.email, pb.email, pb.name, pa.name FROM ties t "
           "JOIN persons pa ON pa.id = t.person_a JOIN persons pb ON pb.id = t.person_b "
           "WHERE pa.forgotten = {p} AND pb.forgotten = {p} AND pa.is_automated = {p} "
           "AND pb.is_automated = {p} AND ")
    params = (datetime_converter(dialect)(as_of), *(False,) * 4)
    wanted = sorted(set(ids))
    rows = [(r, True) for r in select_in(session, sql + "t.person_a IN ({in})", wanted,
                                         params=params)]
    rows += [(r, False) for r in select_in(session, sql + "t.person_b IN ({in})", wanted,
                                           params=params)]
    if ctx.opt_out:
        rows = [(r, a) for r, a in rows if ctx.visible(r[3]) and ctx.visible(r[4])]
    return rows


def local_graph(session: Session, ctx: GraphContext, ends: tuple[int, int],
                as_of: datetime) -> TieGraph:
    """The part of the graph a path search between `ends` can reach: the ties of both ends
    and of their FAN_OUT strongest contacts. TieGraph.best_paths on it gives what it gives on
    the whole graph (its chains grow two hops from each end through those same strongest
    ties), for the cost of two indexed reads instead of loading every tie."""
    from graph.network import FAN_OUT, MIN_STRENGTH, TieGraph

    first = strength_rows(session, ctx, ends, as_of)
    level: dict[int, list[tuple[float, int]]] = {e: [] for e in ends}
    for r, is_a in first:
        me, other = (r[0], r[1]) if is_a else (r[1], r[0])
        strength = float(r[2] or 0.0)
        if strength > MIN_STRENGTH:  # as TieGraph.from_rows; weight as it computes it
            level[me].append((-math.log(strength), other))
    nearest = {o for e in ends for _, o in sorted(level[e])[:FAN_OUT]} - set(ends)
    second = strength_rows(session, ctx, nearest, as_of) if nearest else []
    edges = {(r[0], r[1]): r[2] for r, _ in first + second}
    return TieGraph.from_rows(((a, b, s_) for (a, b), s_ in edges.items()), hidden=set(),
                              as_of=as_of)


def contacts_of(session: Session, colleague: str, ctx: GraphContext, *, limit: int = 20,
                as_of: datetime | None = None,
                everyone: bool = False) -> tuple[str, list[Ranked], datetime]:
    """A colleague's strongest external relationships (everyone: internal ones too)."""
    pid, key = person_id(session, colleague, ctx)
    as_of = as_of or default_as_of(session)
    users = internal_user_emails(session)
    out: list[Ranked] = []
    for r, me_is_a in ties_of(session, [pid]):
        view = _view(r, me_is_a, _row_strength(r, as_of, ctx.half_life_days))
        other = view.target
        if not ctx.visible(other) or not view.direct:
            continue
        if not everyone and (other in users or ctx.policy.is_internal(other)):
            continue
        evidence, summary = describe([view], as_of)
        name = r[21] if me_is_a else r[19]
        out.append(Ranked(email=other, name=name, strength=view.strength, direct=True,
                          evidence=evidence, summary=summary))
    out.sort(key=lambda x: (-x.strength, x.email))
    return key, out[:limit], as_of


def coverage(session: Session, account: str, ctx: GraphContext, *,
             as_of: datetime | None = None, weak: float = 0.2) -> dict[str, Any]:
    """Who knows whom at an account (by domain or account name), and the gaps: people there
    nobody knows, or knows only weakly (strength below `weak`)."""
    text_ = account.strip()
    try:
        acc_id = find_account_id(session, text_)
    except QueryError:
        if "." not in text_ or " " in text_:
            raise
        acc_id = None  # a bare domain nobody made an account of yet
    if acc_id is not None:
        domains = list(session.scalars(select(m.AccountDomain.domain).where(
            m.AccountDomain.account_id == acc_id)))
        name = session.scalar(select(m.Account.name).where(m.Account.id == acc_id))
        label = f"{name} ({', '.join(sorted(domains))})"
    else:
        domains = [text_.lstrip("@").lower()]
        label = f"@{domains[0]}"
    ids_ = list(session.scalars(select(m.Person.id).where(m.Person.domain.in_(domains),
                                                          ~m.Person.forgotten)))
    tgt = Target(label, ids_)
    people = [(pid, e) for pid, e in _emails(session, tgt.person_ids) if ctx.visible(e)]
    if not people:
        raise QueryError(f"nobody at {account!r} appears in the captured mail")
    as_of = as_of or default_as_of(session)
    users = internal_user_emails(session)
    ids = {pid for pid, _ in people}
    names = dict(session.execute(select(m.Person.email, m.Person.name).where(
        m.Person.id.in_(ids))).all())
    known: dict[str, list[dict[str, Any]]] = {e: [] for _, e in people}
    colleagues: dict[str, float] = {}
    for r, t_is_a in ties_of(session, ids):
        view = _view(r, not t_is_a, _row_strength(r, as_of, ctx.half_life_days))
        if (view.colleague not in users and not ctx.policy.is_internal(view.colleague)) \
                or not ctx.visible(view.colleague) or not view.direct:
            continue
        _evidence, summary = describe([view], as_of)
        known[view.target].append({"colleague": view.colleague, "name": view.colleague_name,
                                   "strength": round(view.strength, 4), "summary": summary})
        colleagues[view.colleague] = max(colleagues.get(view.colleague, 0.0), view.strength)
    rows = []
    for email in sorted(known, key=lambda e: (-max((k["strength"] for k in known[e]),
                                                   default=0.0), e)):
        links = sorted(known[email], key=lambda k: (-k["strength"], k["colleague"]))
        best = links[0]["strength"] if links else 0.0
        rows.append({"email": email, "name": names.get(email, ""), "best": best,
                     "gap": best < weak, "known_by": links})
    return {"account": tgt.label, "as_of": as_of.isoformat(), "people": rows,
            "colleagues": len(colleagues),
            "gaps": [r["email"] for r in rows if r["gap"]]}


def load_graph(session: Session, ctx: GraphContext, as_of: datetime | None = None) -> TieGraph:
    """The whole tie table as an undirected networkx graph, strength computed in SQL."""
    from graph.network import TieGraph  # networkx costs import time the other queries skip

    as_of = as_of or default_as_of(session)
    conn = session.connection()
    dialect = conn.dialect.name
    bound = datetime_converter(dialect)(as_of)
    rows = conn.exec_driver_sql(
        f"SELECT t.person_a, t.person_b, {strength_sql(dialect, ctx.half_life_days)} "
        "FROM ties t", (bound,)).fetchall()
    hidden = {pid for pid, email, forgotten, robot in conn.exec_driver_sql(
        "SELECT id, email, forgotten, is_automated FROM persons "
        "WHERE forgotten OR is_automated").fetchall() if forgotten or robot}
    if ctx.opt_out:
        hidden |= {pid for pid, email in conn.exec_driver_sql(
            "SELECT id, email FROM persons").fetchall() if ctx.opt_out.matches(email)}
    return TieGraph.from_rows(rows, hidden=hidden, as_of=as_of)


def person_id(session: Session, address: str, ctx: GraphContext) -> tuple[int, str]:
    """The visible person behind ADDRESS and its normalised address; QueryError otherwise."""
    key = normalize_address(address)
    if key is None:
        raise QueryError(f"{address!r} is not a valid address")
    pid = session.scalar(select(m.Person.id).where(m.Person.email == key, ~m.Person.forgotten))
    if pid is None or not ctx.visible(key):
        raise QueryError(f"{key} does not appear in the captured mail")
    return pid, key


def paths(session: Session, source: str, target: str, ctx: GraphContext, *, k: int = 3,
          as_of: datetime | None = None,
          graph: TieGraph | None = None) -> tuple[list[dict[str, Any]], datetime]:
    """The k strongest introduction chains from `source` to `target` (shortest paths on
    -log(strength)), each hop with its strength and evidence."""
    as_of = as_of or default_as_of(session)
    src, src_key = person_id(session, source, ctx)
    dst, dst_key = person_id(session, target, ctx)
    if src == dst:
        raise QueryError("FROM and TO are the same person")
    g = graph or local_graph(session, ctx, (src, dst), as_of)
    found = g.best_paths(src, dst, k)
    if not found:
        return [], as_of
    persons = {pid for p in found for pid in p}
    info = {r[0]: (r[1], r[2]) for r in select_in(
        session, "SELECT id, email, name FROM persons WHERE id IN ({in})", sorted(persons))}
    views = {}
    pairs = {(min(a, b), max(a, b)) for p in found for a, b in itertools.pairwise(p)}
    for r, _ in ties_of(session, sorted({a for a, _ in pairs})):
        if (r[0], r[1]) in pairs:
            views[(r[0], r[1])] = r
    out = []
    for p in found:
        hops = []
        total = 1.0
        for a, b in itertools.pairwise(p):
            r = views[(min(a, b), max(a, b))]
            view = _view(r, r[0] == a, _row_strength(r, as_of, ctx.half_life_days))
            evidence, summary = describe([view], as_of) if view.direct else (
                {"co_recipient": view.co_recipient},
                f"shares {view.co_recipient} threads or meetings")
            total *= view.strength
            hops.append({"from": info[a][0], "from_name": info[a][1], "to": info[b][0],
                         "to_name": info[b][1], "strength": round(view.strength, 4),
                         "evidence": evidence, "summary": summary})
        out.append({"strength": round(total, 6), "length": len(hops), "hops": hops})
    del src_key, dst_key
    return out, as_of


def forget(session: Session, address: str) -> dict[str, int]:
    """Erase a person from the graph and from interactions' participants; keep a nameless
    tombstone so that a later import does not bring them back (capture skips forgotten
    persons). CRM records (contacts, leads) are the CRM's: they stay, and say so."""
    key = normalize_address(address)
    if key is None:
        raise QueryError(f"{address!r} is not a valid address")
    person = session.scalar(select(m.Person).where(m.Person.email == key))
    if person is None:
        person = m.Person(email=key, name="", domain=domain_of(key), is_internal=False,
                          is_automated=False, is_unresolved=False, forgotten=True,
                          first_seen=datetime.now(UTC), last_seen=datetime.now(UTC))
        session.add(person)
        session.flush()
        return {"ties": 0, "participations": 0, "already_forgotten": 0}
    already = int(person.forgotten)
    ties = session.execute(m.Tie.__table__.delete().where(  # type: ignore[attr-defined]
        (m.Tie.person_a == person.id) | (m.Tie.person_b == person.id)))
    parts = session.execute(m.Participant.__table__.delete().where(  # type: ignore[attr-defined]
        m.Participant.person_id == person.id))
    person.forgotten = True
    person.name = ""
    return {"ties": int(getattr(ties, "rowcount", 0) or 0),
            "participations": int(getattr(parts, "rowcount", 0) or 0),
            "already_forgotten": already}


def rebuild_ties(session: Session, capturer: Any, *, chunk: int = 2000,
                 on_chunk: Any = None) -> dict[str, int]:
    """Recompute the tie table from the stored interactions, in the caller's transaction.

    Not a query path: for an operator after changing `[graph] half_life_days` (stored sums are
    expressed with the half-life in force when they were captured) or after upgrading from a
    store whose ties lack the per-channel features. Forgotten persons stay out (their
    participations are gone); robots and opted-out people are skipped as at capture.
    """
    from connectors.base import Interaction as NInteraction
    from connectors.base import Kind

    session.execute(m.Tie.__table__.delete())  # type: ignore[attr-defined]
    conn = session.connection()
    last_id = 0
    done = 0
    while True:
        rows = conn.exec_driver_sql(
            "SELECT id, natural_key, kind, occurred_at, ended_at, in_reply_to, is_automated "
            "FROM interactions WHERE id > ? ORDER BY id LIMIT ?".replace(
                "?", "%s" if conn.dialect.name != "sqlite" else "?"), (last_id, chunk)).fetchall()
        if not rows:
            break
        last_id = rows[-1][0]
        parts: dict[int, list[tuple[str, str]]] = {r[0]: [] for r in rows}
        person_ids: dict[str, int] = {}
        for iid, pid, email, role in select_in(
                session, "SELECT pa.interaction_id, p.id, p.email, pa.role FROM participants pa "
                "JOIN persons p ON p.id = pa.person_id WHERE p.forgotten = {p} "
                "AND pa.interaction_id IN ({in})", list(parts), params=(False,)):
            parts[iid].append((email, role))
            person_ids[email] = pid
        items = []
        for iid, key, kind, at, ended, parent, robot in rows:
            item = NInteraction(natural_key=key, kind=Kind(kind), provider_id="",
                                occurred_at=as_utc(at),
                                ended_at=as_utc(ended) if ended is not None else None,
                                in_reply_to=parent, is_automated=bool(robot))
            items.append((item, parts[iid]))
        capturer.fold_stored(session, items, person_ids)
        done += len(rows)
        if on_chunk is not None:
            on_chunk(len(rows))
    ties = session.scalar(select(func.count()).select_from(m.Tie)) or 0
    return {"interactions": done, "ties": int(ties)}
