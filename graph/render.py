"""Drawings of graph answers: Graphviz DOT text, and SVG without Graphviz.

Why a hand-written SVG renderer: Graphviz is a system package we would have to install for a
handful of small drawings (a target and its colleagues, or k chains of a few hops), whose
layouts are simple enough to compute: a star for a neighbourhood, columns for paths. The DOT
output is there for people who have Graphviz and want its layouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape  # xml.sax.saxutils pulls in urllib.request: 80 ms at start-up

KIND_COLOUR = {"target": "#d62728", "colleague": "#1f77b4", "via": "#7f7f7f",
               "external": "#2ca02c"}


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    label: str
    kind: str  # target | colleague | via | external


@dataclass(frozen=True, slots=True)
class Edge:
    a: str
    b: str
    strength: float
    label: str = ""
    dashed: bool = False  # indirect evidence


@dataclass
class Drawing:
    title: str
    nodes: list[Node]
    edges: list[Edge]
    layout: str = "star"  # star: nodes[0] in the centre; columns: `columns` gives x ranks
    columns: dict[str, int] | None = None
    rows: dict[str, int] | None = None


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(d: Drawing) -> str:
    lines = [f"graph {_dot_id(d.title)} {{", "  graph [overlap=false, splines=true"
             + (", rankdir=LR" if d.layout == "columns" else "") + "];",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", '
             'fillcolor="#ffffff"];']
    for n in d.nodes:
        lines.append(f"  {_dot_id(n.key)} [label={_dot_id(n.label)}, "
                     f"color={_dot_id(KIND_COLOUR.get(n.kind, '#000000'))}];")
    for e in d.edges:
        attrs = [f"penwidth={1 + 4 * e.strength:.2f}",
                 f"label={_dot_id(e.label or f'{e.strength:.2f}')}"]
        if e.dashed:
            attrs.append("style=dashed")
        lines.append(f"  {_dot_id(e.a)} -- {_dot_id(e.b)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


BOX_W, BOX_H = 210, 34


def _positions(d: Drawing) -> tuple[dict[str, tuple[float, float]], float, float]:
    if d.layout == "columns" and d.columns is not None:
        rows = d.rows or {}
        width = (max(d.columns.values(), default=0) + 1) * (BOX_W + 70) + 40.0
        height = (max(rows.values(), default=0) + 1) * (BOX_H + 50) + 80.0
        pos = {n.key: (40 + BOX_W / 2 + d.columns[n.key] * (BOX_W + 70),
                       70 + BOX_H / 2 + rows.get(n.key, 0) * (BOX_H + 50)) for n in d.nodes}
        return pos, width, height
    others = d.nodes[1:]
    radius = max(220.0, len(others) * (BOX_H + 12) / (2 * math.pi))
    width = height = 2 * radius + BOX_W + 80
    cx, cy = width / 2, height / 2 + 20
    pos = {d.nodes[0].key: (cx, cy)} if d.nodes else {}
    for i, n in enumerate(others):
        angle = -math.pi / 2 + 2 * math.pi * i / max(1, len(others))
        pos[n.key] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    return pos, width, height + 20


def to_svg(d: Drawing) -> str:
    pos, width, height = _positions(d)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
           'font-size="12">',
           f'<title>{escape(d.title)}</title>',
           f'<text x="20" y="28" font-size="16" font-weight="bold">{escape(d.title)}</text>']
    for e in d.edges:
        if e.a not in pos or e.b not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e.a], pos[e.b]
        dash = ' stroke-dasharray="6,4"' if e.dashed else ""
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                   f'stroke="#555" stroke-opacity="0.7" '
                   f'stroke-width="{1 + 5 * e.strength:.2f}"{dash}/>')
        out.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" '
                   f'text-anchor="middle" fill="#333">'
                   f'{escape(e.label or f"{e.strength:.2f}")}</text>')
    for n in d.nodes:
        x, y = pos[n.key]
        colour = KIND_COLOUR.get(n.kind, "#000000")
        label = n.label if len(n.label) <= 32 else n.label[:31] + "…"
        out.append(f'<g><title>{escape(n.key)}</title>'
                   f'<rect x="{x - BOX_W / 2:.1f}" y="{y - BOX_H / 2:.1f}" width="{BOX_W}" '
                   f'height="{BOX_H}" rx="8" fill="#fff" stroke="{colour}" stroke-width="2"/>'
                   f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(label)}'
                   '</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
