"""CLI for the lead lifecycle (issue 8): lead add/qualify/disqualify/show, opportunity stages,
duplicates and merge. `syncd lead ...` and `syncd leads ...` are the same group of commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Literal, cast

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from syncd.cli import data_cmds
from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.lifecycle import LifecycleError
from syncd.lifecycle import stages as st
from syncd.lifecycle.dedup import Candidate
from syncd.lifecycle.duplicates import CONTACT_PREFIX, Kind, find
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.merge import merge
from syncd.lifecycle.qualify import disqualify_lead, qualify_lead
from syncd.lifecycle.records import KINDS, email_of, get_lead, get_opportunity, lead_id_of
from syncd.store import models as m


@contextmanager
def _session(ctx: CliContext) -> Iterator[Session]:
    """A transaction whose LifecycleError becomes a one-line error (and a rollback)."""
    try:
        with ctx.session() as s:
            yield s
    except LifecycleError as exc:
        fail(str(exc))


# --- leads ---------------------------------------------------------------------------------

@click.command("add")
@click.argument("email")
@click.option("--name", default="", help="Full name (or --first-name/--last-name).")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--company", default="")
@click.option("--title", default="")
@click.option("--phone", default="")
@click.option("--source", default="cli", show_default=True)
@click.option("--owner", help="The colleague (address) who owns the lead.")
@json_option
@pass_ctx
def lead_add(ctx: CliContext, email: str, name: str, first_name: str, last_name: str,
             company: str, title: str, phone: str, source: str, owner: str | None,
             as_json: bool) -> None:
    """Add a lead; an address that is already a lead or a contact is never added twice."""
    if name and not (first_name or last_name):
        first_name = name
    with _session(ctx) as s:
        record, created = upsert_lead(s, email=email, first_name=first_name,
                                      last_name=last_name, company=company, phone=phone,
                                      title=title, source=source, owner=owner,
                                      policy=ctx.app.policy)
        kind = "lead" if isinstance(record, m.Lead) else "contact"
        # The contact has another main address: this one is its alias (linked by name and
        # company now or earlier, or merged).
        linked = kind == "contact" and email_of(s, record.person_id) != normalize_address(email)
        data = {"kind": kind, "id": record.id, "created": created, "linked": linked}
    if as_json:
        emit_json(data)
    elif created:
        ctx.out.print(f"Lead #{data['id']} created.")
    elif linked:
        ctx.out.print(f"{email.strip()} is another address of contact #{data['id']} (same "
                      "name at the same company): no lead created.")
    else:
        ctx.out.print(f"Already known as {kind} #{data['id']}: nothing created (empty fields "
                      "filled in).")


@click.command("qualify")
@click.argument("lead_ref", metavar="ID|ADDRESS")
@click.option("--name", "opp_name", help="Opportunity name (default: account: person).")
@click.option("--contact", "contact_id", type=int, metavar="CONTACT_ID",
              help="Qualify onto this existing contact (one `syncd duplicates leads` found).")
@json_option
@pass_ctx
def lead_qualify(ctx: CliContext, lead_ref: str, opp_name: str | None,
                 contact_id: int | None, as_json: bool) -> None:
    """Qualify a lead: find or create its account and contact, open an opportunity.

    The account is matched by mail domain then company name, the contact by address then by
    name at that account (or given with --contact); only missing records are created. The
    lead's activities move onto the new records. Qualifying twice creates nothing.
    """
    with _session(ctx) as s:
        lead_id = lead_id_of(s, lead_ref)
        result = qualify_lead(s, lead_id, ctx.app.policy, opp_name, contact_id)
    if as_json:
        emit_json(result.as_json())
        return
    if result.already_qualified:
        ctx.out.print(f"Lead #{lead_id} was already qualified: opportunity "
                      f"#{result.opportunity_id}; nothing created.")
        return
    def word(kind: str) -> str:
        return "created" if result.created.get(kind) else "found"
    acc = (f"account #{result.account_id} ({word('account')})" if result.account_id
           else "no account (free-mail address and no company)")
    ctx.out.print(f"Lead #{lead_id} qualified: {acc}, contact #{result.contact_id} "
                  f"({word('contact')}), opportunity #{result.opportunity_id} (stage qualify); "
                  f"{result.activities_moved} activities moved.")


@click.command("disqualify")
@click.argument("lead_ref", metavar="ID|ADDRESS")
@click.option("--reason", required=True, help="One of [lifecycle] disqualify_reasons.")
@json_option
@pass_ctx
def lead_disqualify(ctx: CliContext, lead_ref: str, reason: str, as_json: bool) -> None:
    """Disqualify a lead with a reason from the configured list."""
    reasons = ctx.settings.lifecycle.disqualify_reasons
    with _session(ctx) as s:
        lead_id = lead_id_of(s, lead_ref)
        changed = disqualify_lead(s, lead_id, reason, reasons)
        lead = get_lead(s, lead_id)
        data = {"lead_id": lead_id, "status": lead.status, "reason": lead.status_reason,
                "changed": changed}
    if as_json:
        emit_json(data)
    else:
        ctx.out.print(f"Lead #{lead_id} disqualified ({data['reason']})." if changed else
                      f"Lead #{lead_id} was already disqualified ({data['reason']}).")


@click.command("show")
@click.argument("lead_ref", metavar="ID|ADDRESS")
@json_option
@pass_ctx
def lead_show(ctx: CliContext, lead_ref: str, as_json: bool) -> None:
    """One lead: status, reason, opportunity, activity count."""
    with _session(ctx) as s:
        lead = get_lead(s, lead_id_of(s, lead_ref))
        opps = list(s.scalars(select(m.Opportunity.id).where(m.Opportunity.lead_id == lead.id)))
        data = {"id": lead.id, "email": email_of(s, lead.person_id), "name": lead.name,
                "company": lead.company, "title": lead.title, "phone": lead.phone,
                "source": lead.source, "status": lead.status, "reason": lead.status_reason,
                "merged_into_id": lead.merged_into_id, "opportunities": opps,
                "fields": lead.fields, "activities": _count_links(s, "lead", lead.id),
                "created_at": lead.created_at.isoformat()}
    _show(ctx, data, as_json)


def _count_links(s: Session, target_type: str, target_id: int) -> int:
    return s.scalar(select(func.count()).select_from(m.ActivityLink).where(
        m.ActivityLink.target_type == target_type, m.ActivityLink.target_id == target_id)) or 0


def _show(ctx: CliContext, data: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(data)
    else:
        table(ctx.out, None, ["field", "value"],
              [[k, "" if v is None else v] for k, v in data.items()])


def _lead_group() -> click.Group:
    """`lead` holds the lifecycle commands plus `leads import|list`; `leads` gains ours."""
    leads = next(c for c in data_cmds.COMMANDS if c.name == "leads")
    assert isinstance(leads, click.Group)
    group = click.Group("lead", help="Leads: add, qualify, disqualify, show, import, list "
                        "(`syncd leads ...` is the same).")
    for cmd in (lead_add, lead_qualify, lead_disqualify, lead_show):
        group.add_command(cmd)
        leads.add_command(cmd)
    for name, cmd in list(leads.commands.items()):
        group.add_command(cmd, name)
    return group


# --- opportunities -------------------------------------------------------------------------

@click.group("opportunity")
def opportunity() -> None:
    """Opportunities through the stages qualify -> develop -> propose -> close (won/lost).

    Stage fields (FIELD=VALUE with --set): qualify: purchase_timeframe, estimated_budget,
    purchase_process, decision_maker_identified; develop: customer_need, proposed_solution,
    stakeholders, competitors; propose: sales_team, proposal_presented, internal_review_done;
    close: final_proposal_presented, decision_date, actual_revenue, close_reason.
    `syncd opportunity fields` lists what each accepts.
    """


_set_option = click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                           help="Set a stage field first (repeatable).")


def _parse(assignments: tuple[str, ...]) -> dict[str, st.Value]:
    try:
        return st.parse_assignments(assignments)
    except LifecycleError as exc:
        fail(str(exc))


@opportunity.command("advance")
@click.argument("opp_id", type=int)
@_set_option
@json_option
@pass_ctx
def opp_advance(ctx: CliContext, opp_id: int, assignments: tuple[str, ...],
                as_json: bool) -> None:
    """Move to the next stage once the current stage's required fields are set."""
    values = _parse(assignments)
    with _session(ctx) as s:
        opp = get_opportunity(s, opp_id)
        before = opp.stage
        st.advance(s, opp, values)
        data = st.as_json(opp)
    if as_json:
        emit_json(data)
    else:
        ctx.out.print(f"Opportunity #{opp_id}: {before} -> {data['stage']}.")
        if data["missing_to_advance"]:
            missing = cast(list[str], data["missing_to_advance"])
            ctx.out.print("To leave it: " + "; ".join(missing))


@opportunity.command("set")
@click.argument("opp_id", type=int)
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@json_option
@pass_ctx
def opp_set(ctx: CliContext, opp_id: int, assignments: tuple[str, ...], as_json: bool) -> None:
    """Set stage fields without changing stage (an empty VALUE clears a field)."""
    values = _parse(assignments)
    with _session(ctx) as s:
        opp = get_opportunity(s, opp_id)
        st.set_fields(opp, values)
        data = st.as_json(opp)
    _show(ctx, data, as_json)


@opportunity.command("close")
@click.argument("opp_id", type=int)
@click.option("--won", "outcome", flag_value="won", help="Close as won.")
@click.option("--lost", "outcome", flag_value="lost", help="Close as lost.")
@click.option("--reason", help="Why (required for --lost): sets close_reason.")
@_set_option
@json_option
@pass_ctx
def opp_close(ctx: CliContext, opp_id: int, outcome: str | None, reason: str | None,
              assignments: tuple[str, ...], as_json: bool) -> None:
    """Close as won (every stage complete, final proposal presented, decision date) or lost."""
    if outcome is None:
        fail("say how it ended: --won or --lost")
    values = _parse(assignments)
    if reason:
        values["close_reason"] = reason.strip()
    with _session(ctx) as s:
        opp = get_opportunity(s, opp_id)
        st.close(s, opp, cast(Literal["won", "lost"], outcome), values)
        data = st.as_json(opp)
    if as_json:
        emit_json(data)
    else:
        ctx.out.print(f"Opportunity #{opp_id} closed as {outcome}.")


@opportunity.command("show")
@click.argument("opp_id", type=int)
@json_option
@pass_ctx
def opp_show(ctx: CliContext, opp_id: int, as_json: bool) -> None:
    """One opportunity: stage, status, every stage field, what is missing to advance."""
    with _session(ctx) as s:
        opp = get_opportunity(s, opp_id)
        data = st.as_json(opp)
        data["activities"] = _count_links(s, "opportunity", opp.id)
    if as_json:
        emit_json(data)
        return
    rows: list[list[object]] = []
    for key, value in data.items():
        if key == "missing_to_advance":
            value = "; ".join(cast(list[str], value)) or "-"
        rows.append([key, "" if value is None else value])
    table(ctx.out, f"Opportunity #{opp_id}", ["field", "value"], rows)


@opportunity.command("list")
@click.option("--stage", type=click.Choice(st.STAGES))
@click.option("--status", type=click.Choice(["open", "won", "lost"]))
@click.option("--limit", default=100, show_default=True)
@json_option
@pass_ctx
def opp_list(ctx: CliContext, stage: str | None, status: str | None, limit: int,
             as_json: bool) -> None:
    """Opportunities, newest first."""
    with ctx.session() as s:
        q = select(m.Opportunity, m.Account.name).outerjoin(
            m.Account, m.Account.id == m.Opportunity.account_id)
        if stage:
            q = q.where(m.Opportunity.stage == stage)
        if status:
            q = q.where(m.Opportunity.status == status)
        rows = [{"id": o.id, "name": o.name, "account": acc or "", "stage": o.stage,
                 "status": o.status,
                 "estimated_budget": (str(o.estimated_budget)
                                      if isinstance(o.estimated_budget, Decimal) else None),
                 "created_at": o.created_at.isoformat()}
                for o, acc in s.execute(q.order_by(m.Opportunity.id.desc()).limit(limit))]
    if as_json:
        emit_json(rows)
    elif rows:
        table(ctx.out, None, list(rows[0]), [list(r.values()) for r in rows])
    else:
        ctx.out.print("No opportunities: `syncd lead qualify ID` opens one.")


@opportunity.command("fields")
@json_option
@pass_ctx
def opp_fields(ctx: CliContext, as_json: bool) -> None:
    """The stage fields, what each accepts and which are required to leave their stage."""
    rows = [{"field": f.name, "stage": f.stage, "accepts": f.accepts(),
             "required": ("yes (must be yes)" if f.must_be_true else "yes") if f.required
             else ("to close as won" if f.name in st.WON_REQUIRES else
                   "to close as lost" if f.name in st.LOST_REQUIRES else "no")}
            for f in st.FIELDS.values()]
    if as_json:
        emit_json(rows)
    else:
        table(ctx.out, None, list(rows[0]), [list(r.values()) for r in rows])


# --- duplicates and merge ------------------------------------------------------------------

@click.command("duplicates")
@click.argument("kind", type=click.Choice(["contacts", "leads", "accounts"]),
                default="contacts")
@click.option("--threshold", type=click.FloatRange(0, 1),
              help="Minimum score (default: [lifecycle] duplicate_threshold).")
@click.option("--limit", default=100, show_default=True)
@json_option
@pass_ctx
def duplicates(ctx: CliContext, kind: str, threshold: float | None, limit: int,
               as_json: bool) -> None:
    """Likely duplicates, best first, with a score and the reasons.

    Compares normalised addresses, phones in E.164 (default region from the config), and
    names and companies with fuzzy matching that ignores accents and word order. `leads` also
    lists open leads that resemble an existing contact (resolve with `syncd lead qualify ID
    --contact C`, or disqualify the lead).
    """
    with ctx.session() as s:
        pairs, records = find(s, cast(Kind, kind), ctx.app.policy, ctx.settings.lifecycle,
                              threshold)
    pairs = pairs[:limit]
    singular = kind[:-1]

    def ref(rid: int | str) -> tuple[str, int]:
        """(kind, id): leads are also paired with contacts (`contact:<id>`)."""
        if isinstance(rid, str) and rid.startswith(CONTACT_PREFIX):
            return "contact", int(rid.removeprefix(CONTACT_PREFIX))
        return singular, int(rid)

    def label(rid: int | str) -> str:
        r = records[rid]
        return " ".join(x for x in (r.name or r.company, f"<{r.email}>" if r.email else "")
                        if x)

    def action(c: Candidate) -> str:
        (ka, a), (kb, b) = ref(c.a), ref(c.b)
        if ka == kb:
            return f"syncd merge {ka}:{a} {kb}:{b}"
        return f"syncd lead qualify {a} --contact {b}"  # a lead that is that contact

    if as_json:
        out = []
        for c in pairs:
            (ka, a), (kb, b) = ref(c.a), ref(c.b)
            out.append({**c.as_json(), "a": a, "b": b, "a_kind": ka, "b_kind": kb,
                        "a_label": label(c.a), "b_label": label(c.b), "action": action(c),
                        "merge": action(c) if ka == kb else None})
        emit_json(out)
        return
    if not pairs:
        ctx.out.print(f"No likely duplicate {kind}" + (" (nor leads that are contacts)."
                                                       if kind == "leads" else "."))
        return
    table(ctx.out, None, ["score", "A", "B", "why", "resolve with"],
          [[f"{c.score:.2f}", "{} #{} {}".format(*ref(c.a), label(c.a)),
            "{} #{} {}".format(*ref(c.b), label(c.b)), "; ".join(c.reasons), action(c)]
           for c in pairs])


def _ref(value: str, kind: str | None) -> tuple[str, int]:
    name, sep, rest = value.partition(":")
    if sep:
        name = name.strip().lower().removesuffix("s")
        if name not in KINDS:
            fail(f"{value!r}: write contact:ID, lead:ID or account:ID")
        raw = rest
    elif kind is None:
        fail(f"{value!r}: say what it is (contact:{value}) or pass --kind")
    else:
        name, raw = kind, value
    if not raw.strip().isdigit():
        fail(f"{value!r}: the id must be a number")
    return name, int(raw)


@click.command("merge")
@click.argument("survivor")
@click.argument("other")
@click.option("--kind", type=click.Choice(list(KINDS)), help="When A and B are bare ids.")
@click.option("--note", default="", help="Why (kept with the merge record).")
@json_option
@pass_ctx
def merge_cmd(ctx: CliContext, survivor: str, other: str, kind: str | None, note: str,
              as_json: bool) -> None:
    """Merge record B into record A (e.g. `syncd merge contact:12 contact:15`).

    A keeps every activity, link and opportunity of B, and B's values fill A's empty fields;
    B stays as a tombstone pointing to A so its address still resolves to A. Merging again is
    a no-op.
    """
    kind_a, id_a = _ref(survivor, kind)
    kind_b, id_b = _ref(other, kind)
    if kind_a != kind_b:
        fail(f"cannot merge a {kind_a} with a {kind_b}")
    with _session(ctx) as s:
        result = merge(s, kind_a, id_a, id_b, note)
    if as_json:
        emit_json(result.as_json())
    elif result.already_merged:
        ctx.out.print(f"{kind_a} #{id_b} was already merged into #{id_a}; nothing to do.")
    else:
        moved = ", ".join(f"{v} {k}" for k, v in result.moved.items())
        ctx.out.print(f"{kind_a.capitalize()} #{id_b} merged into #{id_a}: moved {moved}; "
                      f"#{id_a} now has {result.activities} activities"
                      + (f"; filled {', '.join(result.filled)}" if result.filled else "") + ".")


lead_group = _lead_group()
# `syncd leads` is data_cmds' group with the lifecycle commands added by _lead_group(): the lazy
# command map in syncd.cli loads it from here, so that they are always there.
leads_group = data_cmds.leads_group

COMMANDS: list[click.Command] = [lead_group, opportunity, duplicates, merge_cmd]
