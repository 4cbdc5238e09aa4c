"""CLI commands for relationship analytics (issue 8, analytics half): `syncd relationship`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from syncd.analytics.chart import sparkline, write_png
from syncd.analytics.report import (
    SORTS,
    Assessment,
    Relationship,
    end_of_day,
    relationship,
    relationship_list,
)
from syncd.analytics.targets import resolve
from syncd.analytics.touches import RECORD_KINDS
from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.queries import QueryError

GRADE_STYLE = {"good": "green", "fair": "yellow", "poor": "red"}
TREND_MARK = {"improving": "↑ improving", "steady": "→ steady", "declining": "↓ declining"}


def parse_as_of(value: str | None) -> datetime:
    """`YYYY-MM-DD` (the end of that UTC day) or an ISO date-time (UTC when no zone)."""
    if value is None:
        return datetime.now(UTC)
    text = value.strip()
    try:
        if len(text) == 10:
            return end_of_day(datetime.fromisoformat(text).replace(tzinfo=UTC))
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: write YYYY-MM-DD or YYYY-MM-DDTHH:MM[+zone]",
                                 param_hint="--as-of") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@click.command("relationship")
@click.argument("words", nargs=-1, metavar="[TARGET]")
@click.option("--list", "as_list", is_flag=True,
              help="List relationships with their KPIs and health instead of one.")
@click.option("--kind", type=click.Choice(RECORD_KINDS),
              help="What TARGET names (needed for a bare id), or what --list lists "
              "(default: contact).")
@click.option("--days", type=click.IntRange(1, 3660),
              help="Length of each period in days (default: [analytics] period_days, 90).")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Compute as of the end of this UTC day (YYYY-MM-DD) or this instant "
              "(default: now); makes output reproducible.")
@click.option("--sort", type=click.Choice(SORTS), default="health", show_default=True,
              help="--list order: health (worst first), last (longest silence first), trend "
              "(declining first), activity (least first), name.")
@click.option("--desc", "descending", is_flag=True, help="--list: reverse the order.")
@click.option("--limit", type=click.IntRange(0), default=50, show_default=True,
              help="--list: at most this many rows (0: all).")
@click.option("--all", "everyone", is_flag=True,
              help="--list: include records that were never in contact.")
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the daily activity of the current period into this PNG file.")
@json_option
@pass_ctx
def relationship_cmd(ctx: CliContext, words: tuple[str, ...], as_list: bool, kind: str | None,
                     days: int | None, as_of: str | None, sort: str, descending: bool,
                     limit: int, everyone: bool, png: Path | None, as_json: bool) -> None:
    """KPIs and health of the relationship with TARGET, now and in the previous period.

    TARGET is a contact, lead, account or opportunity: contact:12 (lead:, account:,
    opportunity:), an address, @domain, or a name (accents optional, quotes optional). With
    --list, every contact (or --kind) ever in contact, worst health first: which relationships
    need attention.
    """
    target = " ".join(words) if words else None
    when = parse_as_of(as_of)
    cfg = ctx.settings.analytics
    period = days or cfg.period_days
    if as_list:
        if target is not None:
            fail("give TARGET or --list, not both", code=2)
        if png is not None:
            fail("--png draws one relationship: give TARGET instead of --list", code=2)
        with ctx.session() as s:
            rows = relationship_list(s, kind or "contact", cfg, days=period, as_of=when,
                                     sort=sort, everyone=everyone, limit=limit or None,
                                     descending=descending)
        if as_json:
            emit_json({"kind": kind or "contact", "as_of": when.isoformat(), "days": period,
                       "sort": sort, "items": [a.as_json() for a in rows]})
            return
        _print_list(ctx, kind or "contact", rows, when, period)
        return
    if target is None:
        fail("give a TARGET (contact:12, an address, @domain or a name) or --list", code=2)
    with ctx.session() as s:
        try:
            record = resolve(s, target, kind)
        except QueryError as exc:
            fail(str(exc))
        rel = relationship(s, record, cfg, days=period, as_of=when)
    if png is not None:
        a = rel.assessment
        try:
            write_png(png, rel.days, f"{record.label} ({record.ref})",
                      f"daily activity, {period} days to {when:%Y-%m-%d %H:%M} UTC; health "
                      f"{a.health.score}/100 {a.health.grade}, {a.trend}")
        except OSError as exc:
            fail(f"cannot write {png}: {exc.strerror or exc}")
    if as_json:
        data = rel.as_json()
        if png is not None:
            data["png"] = str(png)
        emit_json(data)
        return
    _print_one(ctx, rel)
    if png is not None:
        ctx.out.print(f"Chart written to {escape(str(png))}", highlight=False)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d"


def _minutes(value: float) -> str:
    return f"{value / 60:.1f} h" if value >= 60 else f"{value:.0f} min"


def _kpi_rows(a: Assessment) -> list[list[Any]]:
    c, p = a.current, a.previous
    return [
        ["emails sent by us / received", f"{c.emails_sent} / {c.emails_received}",
         f"{p.emails_sent} / {p.emails_received}"],
        ["meetings (we / they organised)", f"{c.meetings} ({c.meetings_ours} / "
         f"{c.meetings_theirs})", f"{p.meetings} ({p.meetings_ours} / {p.meetings_theirs})"],
        ["calls (made / received), minutes", f"{c.calls} ({c.calls_made} / {c.calls_received})"
         f", {c.call_minutes:.0f}", f"{p.calls} ({p.calls_made} / {p.calls_received}), "
         f"{p.call_minutes:.0f}"],
        ["conversations started (us / them)", f"{c.initiated_us} / {c.initiated_them}",
         f"{p.initiated_us} / {p.initiated_them}"],
        ["time invested (ours / theirs)", f"{_minutes(c.minutes_ours)} / "
         f"{_minutes(c.minutes_theirs)}", f"{_minutes(p.minutes_ours)} / "
         f"{_minutes(p.minutes_theirs)}"],
        ["we reply to their emails", f"{_rate(c.our_reply_rate)} in "
         f"{_hours(c.our_response_hours)}", f"{_rate(p.our_reply_rate)} in "
         f"{_hours(p.our_response_hours)}"],
        ["they reply to our emails", f"{_rate(c.their_reply_rate)} in "
         f"{_hours(c.their_response_hours)}", f"{_rate(p.their_reply_rate)} in "
         f"{_hours(p.their_response_hours)}"],
        ["health", f"{a.health.score} {a.health.grade}",
         f"{a.previous_health.score} {a.previous_health.grade}"],
    ]


def _who(t: dict[str, Any]) -> str:
    side = {"us": "us", "them": "them"}.get(t["side"] or "", "unknown side")
    name = t["who_name"] or t["who"] or "unknown"
    return f"{name} ({side})"


def _print_one(ctx: CliContext, rel: Relationship) -> None:
    a = rel.assessment
    w = a.window
    h = a.health
    out = ctx.out
    # Names and subjects are data: "[EXT] Devis" must not be read as console markup.
    out.print(f"[bold]Relationship with {escape(a.record.label)}[/bold] ({a.record.ref})")
    out.print(f"As of {w.as_of:%Y-%m-%d %H:%M} UTC, periods of {w.days} days "
              f"(current from {w.current.start:%Y-%m-%d}, previous from "
              f"{w.previous.start:%Y-%m-%d})")
    style = GRADE_STYLE[h.grade]
    out.print(f"Health [bold {style}]{h.score}/100 {h.grade}[/bold {style}], "
              f"{TREND_MARK[a.trend]} (previous period {a.previous_health.score})")
    for sign, factors in (("+", h.raising), ("-", h.lowering)):
        for f in factors:
            out.print(f"  {sign} {f.name}: {f.detail} ({f.impact:+.0f} points)", highlight=False)
    table(out, None, ["", "current", "previous"], _kpi_rows(a))
    data = rel.as_json()
    last, nxt = data["last_contact"], data["next_scheduled"]
    if last:
        out.print(f"Last contact: {last['at'][:16]} ({last['days_ago']:g} days ago), "
                  f"{last['kind']} from {escape(_who(last))}: {escape(repr(last['subject']))}")
    else:
        out.print("Last contact: never")
    if nxt:
        out.print(f"Next scheduled: {nxt['at'][:16]} (in {nxt['in_days']:g} days), meeting "
                  f"organised by {escape(_who(nxt))}: {escape(repr(nxt['subject']))}")
    else:
        out.print("Next scheduled: no future meeting")
    totals = [d.total for d in rel.days]
    if rel.days:
        out.print(f"Daily activity {rel.days[0].day:%Y-%m-%d} → {rel.days[-1].day:%Y-%m-%d} "
                  f"(max {max(totals)} a day, {sum(totals)} in all):")
        out.print(sparkline(totals))
        ours = [d.email_sent + d.meeting_sent + d.call_made for d in rel.days]
        theirs = [d.email_received + d.meeting_received + d.call_received for d in rel.days]
        out.print(f"{sparkline(ours)}  ours\n{sparkline(theirs)}  theirs", highlight=False)


def _print_list(ctx: CliContext, kind: str, rows: list[Assessment], when: datetime,
                days: int) -> None:
    if not rows:
        ctx.out.print(f"No {kind} has any captured activity (use --all to list them anyway).")
        return

    def last(a: Assessment) -> str:
        if a.last_at is None:
            return "never"
        return f"{a.last_at:%Y-%m-%d} ({(when - a.last_at).days} d)"

    table(ctx.out, f"{kind.capitalize()} relationships as of {when:%Y-%m-%d %H:%M} UTC "
          f"({days}-day periods)",
          [kind, "name", "health", "trend (before)", "last contact", "emails out/in",
           "meetings", "calls", "they reply", "next meeting"],
          [[a.record.ref, escape(a.record.name or a.record.detail),
            f"{a.health.score} {a.health.grade}",
            f"{TREND_MARK[a.trend]} ({a.previous_health.score})", last(a),
            f"{a.current.emails_sent}/{a.current.emails_received}", a.current.meetings,
            a.current.calls, _rate(a.current.their_reply_rate),
            f"{a.next_at:%Y-%m-%d}" if a.next_at else ""] for a in rows])


COMMANDS: list[click.Command] = [relationship_cmd]
