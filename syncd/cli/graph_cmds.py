"""Who knows whom: who-knows, path, contacts-of, coverage (tables, JSON, DOT, SVG) and forget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from graph.privacy import OptOut
from graph.rank import Ranked
from graph.render import Drawing, Edge, Node, to_dot, to_svg
from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.graph_queries import GraphContext, contacts_of, coverage, forget, paths, who_knows
from syncd.queries import QueryError

F = TypeVar("F", bound=Callable[..., Any])


def format_option(func: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["table", "dot", "svg"]),
                        default="table", show_default=True,
                        help="dot/svg: draw the answer (Graphviz DOT text, or SVG) on stdout.")(
        func)


def as_of_option(func: F) -> F:
    return click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
                        help="Decay strengths to this date (default: the latest contact).")(
        func)


def _ctx(ctx: CliContext) -> GraphContext:
    graph = ctx.settings.graph
    return GraphContext(ctx.app.policy, graph.half_life_days, OptOut(graph.opt_out))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _draw(fmt: str, drawing: Drawing) -> None:
    click.echo(to_dot(drawing) if fmt == "dot" else to_svg(drawing), nl=False)


def _strength(value: float) -> str:
    return f"{value:.2f}" if value >= 0.005 else "<0.01"


def _label(email: str, name: str) -> str:
    return name or email


@click.command("who-knows")
@click.argument("target")
@click.option("--limit", default=10, show_default=True, help="How many colleagues to show.")
@click.option("--all", "everyone", is_flag=True,
              help="Rank anyone, not only internal colleagues.")
@click.option("--direct-only", is_flag=True, help="Leave out indirect evidence.")
@as_of_option
@format_option
@json_option
@pass_ctx
def who_knows_cmd(ctx: CliContext, target: str, limit: int, everyone: bool, direct_only: bool,
                  as_of: datetime | None, fmt: str, as_json: bool) -> None:
    """Who in the company knows TARGET, how well, and why.

    TARGET is an address (jane@fabrikam.com), a domain (@fabrikam.com), an account name or a
    person's name (accents optional). Strength is 0-1 (see graph/strength.py), decayed to the
    latest captured contact. When few colleagues know the target directly, colleagues who know
    the target's contacts or share threads with them follow, marked indirect.
    """
    if limit < 1:
        fail("--limit must be at least 1")
    with ctx.session() as s:
        try:
            tgt, ranked, when = who_knows(s, target, _ctx(ctx), everyone=everyone, limit=limit,
                                          as_of=_utc(as_of), indirect=not direct_only)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json([r.as_json() for r in ranked])
        return
    if fmt != "table":
        _draw(fmt, _who_drawing(tgt.label, ranked))
        return
    if not tgt.person_ids:
        ctx.out.print(f"Nobody matching {target!r} appears in the captured mail.")
        return
    if not ranked:
        ctx.out.print(f"No colleague has been in touch with {tgt.label}, directly or not.")
        return
    table(ctx.out, f"Who knows {tgt.label} (as of {when:%Y-%m-%d})",
          ["#", "colleague", "name", "strength", "direct", "evidence"],
          [[i + 1, r.email, r.name, _strength(r.strength), "yes" if r.direct else "indirect",
            r.summary] for i, r in enumerate(ranked)])


def _who_drawing(label: str, ranked: list[Ranked]) -> Drawing:
    nodes = [Node(label, label, "target")]
    edges = []
    for r in ranked:
        nodes.append(Node(r.email, _label(r.email, r.name), "colleague"))
        edges.append(Edge(r.email, label, r.strength, dashed=not r.direct))
    return Drawing(f"Who knows {label}", nodes, edges)


@click.command("path")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.option("--k", "k", default=3, show_default=True, help="How many paths.")
@as_of_option
@format_option
@json_option
@pass_ctx
def path_cmd(ctx: CliContext, source: str, target: str, k: int, as_of: datetime | None,
             fmt: str, as_json: bool) -> None:
    """The K strongest introduction chains from FROM to TO (addresses), each hop with its
    evidence. A chain's strength is the product of its ties' strengths."""
    if k < 1:
        fail("--k must be at least 1")
    with ctx.session() as s:
        try:
            found, when = paths(s, source, target, _ctx(ctx), k=k, as_of=_utc(as_of))
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json(found)
        return
    if fmt != "table":
        _draw(fmt, _path_drawing(source, target, found))
        return
    if not found:
        ctx.out.print(f"No chain of relationships links {source} to {target}.")
        return
    for i, p in enumerate(found, 1):
        table(ctx.out, f"Path {i}: strength {p['strength']:.3f}, {p['length']} hops "
              f"(as of {when:%Y-%m-%d})", ["from", "to", "strength", "evidence"],
              [[_label(h["from"], h["from_name"]), _label(h["to"], h["to_name"]),
                f"{h['strength']:.2f}", h["summary"]] for h in p["hops"]])


def _path_drawing(source: str, target: str, found: list[dict[str, Any]]) -> Drawing:
    nodes: dict[str, Node] = {}
    columns: dict[str, int] = {}
    rows: dict[str, int] = {}
    edges: dict[tuple[str, str], Edge] = {}
    for row, p in enumerate(found):
        for col, h in enumerate(p["hops"]):
            for key, name, c in ((h["from"], h["from_name"], col), (h["to"], h["to_name"],
                                                                     col + 1)):
                if key not in nodes:
                    kind = "target" if c == 0 or c == len(p["hops"]) else "via"
                    nodes[key] = Node(key, _label(key, name), kind)
                    columns[key] = c
                    rows[key] = row if 0 < c < len(p["hops"]) else 0
            edges[(h["from"], h["to"])] = Edge(h["from"], h["to"], h["strength"])
    return Drawing(f"Introduction paths from {source} to {target}", list(nodes.values()),
                   list(edges.values()), layout="columns", columns=columns, rows=rows)


@click.command("contacts-of")
@click.argument("colleague")
@click.option("--limit", default=20, show_default=True)
@click.option("--all", "everyone", is_flag=True, help="Internal relationships too.")
@as_of_option
@format_option
@json_option
@pass_ctx
def contacts_of_cmd(ctx: CliContext, colleague: str, limit: int, everyone: bool,
                    as_of: datetime | None, fmt: str, as_json: bool) -> None:
    """A colleague's strongest external relationships, with evidence."""
    with ctx.session() as s:
        try:
            key, ranked, when = contacts_of(s, colleague, _ctx(ctx), limit=limit,
                                            as_of=_utc(as_of), everyone=everyone)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json([r.as_json() for r in ranked])
        return
    if fmt != "table":
        nodes = [Node(key, key, "colleague")] + [Node(r.email, _label(r.email, r.name),
                                                      "external") for r in ranked]
        _draw(fmt, Drawing(f"Contacts of {key}", nodes,
                           [Edge(key, r.email, r.strength) for r in ranked]))
        return
    if not ranked:
        ctx.out.print(f"{key} has no external relationship in the captured mail.")
        return
    table(ctx.out, f"Contacts of {key} (as of {when:%Y-%m-%d})",
          ["#", "contact", "name", "strength", "evidence"],
          [[i + 1, r.email, r.name, f"{r.strength:.2f}", r.summary]
           for i, r in enumerate(ranked)])


@click.command("coverage")
@click.argument("account")
@click.option("--weak", default=0.2, show_default=True,
              help="A person known only below this strength counts as a gap.")
@as_of_option
@format_option
@json_option
@pass_ctx
def coverage_cmd(ctx: CliContext, account: str, weak: float, as_of: datetime | None, fmt: str,
                 as_json: bool) -> None:
    """Which colleagues know whom at ACCOUNT (a domain or account name), and the gaps."""
    with ctx.session() as s:
        try:
            data = coverage(s, account, _ctx(ctx), as_of=_utc(as_of), weak=weak)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json(data)
        return
    if fmt != "table":
        nodes: dict[str, Node] = {}
        edges = []
        for p in data["people"]:
            nodes[p["email"]] = Node(p["email"], _label(p["email"], p["name"]), "external")
            for k in p["known_by"][:3]:
                nodes.setdefault(k["colleague"], Node(k["colleague"],
                                                      _label(k["colleague"], k["name"]),
                                                      "colleague"))
                edges.append(Edge(k["colleague"], p["email"], k["strength"]))
        title = f"Coverage of {data['account']}"
        _draw(fmt, Drawing(title, [Node(title, data["account"], "target"),
                                   *nodes.values()], edges))
        return
    table(ctx.out, f"Coverage of {data['account']} (as of {data['as_of'][:10]}): "
          f"{len(data['people'])} people, {data['colleagues']} colleagues in touch, "
          f"{len(data['gaps'])} gaps",
          ["person", "name", "best", "known by"],
          [[p["email"], p["name"], f"{p['best']:.2f}" if p["known_by"] else "GAP",
            "; ".join(f"{k['colleague']} {k['strength']:.2f}" for k in p["known_by"][:3])
            or "nobody"] for p in data["people"]])


@click.command("forget")
@click.argument("address")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_ctx
def forget_cmd(ctx: CliContext, address: str, yes: bool, as_json: bool) -> None:
    """Erase ADDRESS from the relationship graph and from interactions' participants, and
    keep it out of every later capture (a nameless tombstone stays for that)."""
    if not yes and not click.confirm(f"Erase {address} from the graph for good?", err=True):
        fail("nothing done")
    with ctx.session() as s:
        try:
            counts = forget(s, address)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json({"address": address, **counts})
        return
    ctx.out.print(f"Forgot {address}: {counts['ties']} ties and {counts['participations']} "
                  "participations erased; later captures will skip this address.")


@click.group("graph")
def graph_group() -> None:
    """Maintenance of the relationship graph."""


@graph_group.command("rebuild")
@json_option
@pass_ctx
def rebuild_cmd(ctx: CliContext, as_json: bool) -> None:
    """Recompute every tie from the stored interactions (after changing [graph]
    half_life_days, or upgrading a store captured before the per-channel tie model). Queries
    never need this: ties are maintained at capture time."""
    from sqlalchemy import func, select

    from syncd.graph_queries import rebuild_ties
    from syncd.store import models as m

    with ctx.session() as s:
        total = s.scalar(select(func.count()).select_from(m.Interaction)) or 0
        with ctx.progress() as bar:
            task = bar.add_task("rebuilding ties", total=total)
            counts = rebuild_ties(s, ctx.app.capturer,
                                  on_chunk=lambda n: bar.advance(task, n))
    if as_json:
        emit_json(counts)
        return
    ctx.out.print(f"Rebuilt {counts['ties']} ties from {counts['interactions']} interactions "
                  f"(half-life {ctx.settings.graph.half_life_days:g} days).")


COMMANDS: list[click.Command] = [who_knows_cmd, path_cmd, contacts_of_cmd, coverage_cmd,
                                 forget_cmd, graph_group]
