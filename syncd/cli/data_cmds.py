"""Commands that bring data in or list it: import, accounts, contacts, leads, activities."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.crm import ImportSummary, import_accounts, import_contacts, import_leads
from syncd.importer import run_import
from syncd.queries import QueryError, list_activities
from syncd.store import models as m


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--mailbox", help="Owner of the imported mail (inferred per folder when absent).")
@json_option
@pass_ctx
def import_cmd(ctx: CliContext, paths: tuple[Path, ...], mailbox: str | None,
               as_json: bool) -> None:
    """Import mbox files, Maildir folders, .eml files and .ics calendars.

    Re-importing the same files is a no-op; the same message in several folders becomes one
    interaction with several sightings.
    """
    for p in paths:
        if not p.exists():
            fail(f"{p}: no such file or directory")
    with ctx.progress() as progress:
        task = progress.add_task("importing", total=None)

        def on_page(res: object) -> None:
            progress.advance(task, getattr(res, "items_seen", 0))

        try:
            report = run_import(ctx.app, list(paths), mailbox=mailbox,
                                on_stream_start=lambda key, i: progress.update(
                                    task, description=f"stream {i + 1}: {Path(key).name}"),
                                on_page=on_page)
        except ValueError as exc:
            fail(str(exc))
    data = report.as_json()
    if as_json:
        emit_json(data)
        return
    t = report.totals
    rate = t.items_seen / report.seconds if report.seconds else 0.0
    ctx.out.print(
        f"Imported {report.streams} stream(s): {t.items_seen} messages seen, "
        f"{t.interactions_new} new interactions, {t.sightings_new} new sightings, "
        f"{t.captured} captured as activities, {t.rejected} rejected "
        f"in {report.seconds:.1f} s ({rate:,.0f} msg/s)."
    )
    if report.inferred:
        ctx.out.print(f"Mailbox owner inferred for {len(report.inferred)} stream(s) "
                      "(most frequent recipient); pass --mailbox to set it.")


def _print_summary(ctx: CliContext, what: str, summary: ImportSummary, as_json: bool) -> None:
    if as_json:
        emit_json(summary.as_json())
        return
    ctx.out.print(f"{what}: {summary.created} created, {summary.updated} updated, "
                  f"{summary.unchanged} unchanged, {len(summary.problems)} problem(s).")
    for problem in summary.problems[:20]:
        ctx.err.print(f"  {problem}")


def _crm_group(name: str, importer: str) -> click.Group:
    @click.group(name)
    def group() -> None:
        pass

    group.help = f"Import and list {name} (CSV: comma or semicolon, English or French headers)."

    @group.command("import")
    @click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @json_option
    @pass_ctx
    def do_import(ctx: CliContext, csv_path: Path, as_json: bool) -> None:
        """Create or update records from a CSV file; re-imports never duplicate."""
        with ctx.session() as s:
            try:
                if importer == "accounts":
                    summary = import_accounts(s, csv_path)
                elif importer == "contacts":
                    summary = import_contacts(s, csv_path, ctx.app.policy)
                else:
                    summary = import_leads(s, csv_path, ctx.app.policy)
            except ValueError as exc:
                fail(str(exc))
        _print_summary(ctx, name.capitalize(), summary, as_json)

    @group.command("list")
    @click.option("--limit", default=100, show_default=True)
    @json_option
    @pass_ctx
    def do_list(ctx: CliContext, limit: int, as_json: bool) -> None:
        """List records with their activity counts."""
        with ctx.session() as s:
            rows = _list_rows(s, importer, limit)
        if as_json:
            emit_json(rows)
        elif rows:
            table(ctx.out, None, list(rows[0].keys()), [list(r.values()) for r in rows])
        else:
            ctx.out.print(f"No {name} yet: `syncd {name} import FILE.csv`.")

    return group


def _activity_count(s: Session, target_type: str, target_id: int) -> int:
    return s.scalar(select(func.count()).select_from(m.ActivityLink).where(
        m.ActivityLink.target_type == target_type, m.ActivityLink.target_id == target_id)) or 0


def _list_rows(s: Session, kind: str, limit: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    if kind == "accounts":
        live = select(m.Account).where(m.Account.merged_into_id.is_(None))  # not merge tombstones
        for acc in s.scalars(live.order_by(m.Account.name).limit(limit)):
            domains = s.scalars(select(m.AccountDomain.domain).where(
                m.AccountDomain.account_id == acc.id)).all()
            rows.append({"id": acc.id, "name": acc.name, "domains": ", ".join(domains),
                         "city": acc.city, "activities": _activity_count(s, "account", acc.id)})
    elif kind == "contacts":
        cq = select(m.Contact, m.Person.email).join(m.Person, m.Person.id == m.Contact.person_id)
        cq = cq.where(m.Contact.merged_into_id.is_(None))
        for c, email in s.execute(cq.order_by(m.Person.email).limit(limit)):
            rows.append({"id": c.id, "email": email, "name": c.name, "title": c.title,
                         "account_id": c.account_id,
                         "activities": _activity_count(s, "contact", c.id)})
    else:
        lq = select(m.Lead, m.Person.email).join(m.Person, m.Person.id == m.Lead.person_id)
        for lead, email in s.execute(lq.order_by(m.Lead.id).limit(limit)):
            rows.append({"id": lead.id, "email": email, "name": lead.name,
                         "company": lead.company, "status": lead.status, "source": lead.source,
                         "activities": _activity_count(s, "lead", lead.id)})
    return rows


@click.group("activities")
def activities() -> None:
    """CRM activities captured from mail, meetings and calls."""


@activities.command("list")
@click.option("--contact", help="Only activities regarding this contact (address).")
@click.option("--account", help="Only activities regarding this account (domain or name).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only since this date (UTC).")
@click.option("--limit", default=50, show_default=True)
@json_option
@pass_ctx
def activities_list(ctx: CliContext, contact: str | None, account: str | None,
                    since: datetime | None, limit: int, as_json: bool) -> None:
    """List captured activities, newest first."""
    with ctx.session() as s:
        try:
            rows = list_activities(s, contact=contact, account=account,
                                   since=since.replace(tzinfo=UTC) if since else None,
                                   limit=limit)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json(rows)
        return
    if not rows:
        ctx.out.print("No activities match.")
        return
    table(ctx.out, None, ["id", "when", "kind", "direction", "subject", "regarding"],
          [[r["activity_id"], r["occurred_at"][:16], r["kind"], r["direction"],
            r["subject"][:60], ", ".join(r["links"])] for r in rows])


# Named so that syncd.cli's lazy command map can point at them.
accounts_group = _crm_group("accounts", "accounts")
contacts_group = _crm_group("contacts", "contacts")
leads_group = _crm_group("leads", "leads")

COMMANDS = [import_cmd, accounts_group, contacts_group, leads_group, activities]
