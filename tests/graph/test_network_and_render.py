"""Introduction paths against brute force, the strength function's shape, and drawings."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.network import TieGraph
from graph.render import Drawing, Edge, Node, to_dot, to_svg
from graph.strength import TieFeatures, strength_from, strength_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
edges = st.dictionaries(
    st.tuples(st.integers(0, 7), st.integers(0, 7)).filter(lambda p: p[0] < p[1]),
    st.floats(min_value=0.01, max_value=0.99), min_size=1, max_size=20)


def brute_force(g: TieGraph, s: int, t: int, k: int) -> list[float]:
    weights = []
    for p in nx.all_simple_paths(g.graph, s, t, cutoff=4):
        weights.append(sum(g.graph[a][b]["w"] for a, b in itertools.pairwise(p)))
    return sorted(weights)[:k]


@settings(max_examples=80, deadline=None)
@given(edges, st.integers(1, 4))
def test_best_paths_are_the_strongest_short_chains(ties: dict[tuple[int, int], float],
                                                   k: int) -> None:
    g = TieGraph.from_rows([(a, b, s) for (a, b), s in ties.items()], hidden=set(), as_of=T0)
    nodes = sorted(g.graph.nodes)
    s, t = nodes[0], nodes[-1]
    found = g.best_paths(s, t, k)
    got = [sum(g.graph[a][b]["w"] for a, b in itertools.pairwise(p)) for p in found]
    assert all(p[0] == s and p[-1] == t and len(set(p)) == len(p) <= 5 for p in found)
    assert [round(w, 9) for w in got] == [round(w, 9) for w in brute_force(g, s, t, k)]


def test_hidden_people_are_not_in_the_graph() -> None:
    g = TieGraph.from_rows([(1, 2, 0.5), (2, 3, 0.5), (1, 3, 0.1)], hidden={2}, as_of=T0)
    assert g.best_paths(1, 3, 3) == [[1, 3]]
    assert math.isclose(g.strength(1, 3), 0.1)


@given(st.floats(0, 100), st.floats(0, 100), st.integers(0, 50), st.integers(0, 50))
def test_strength_is_bounded_monotone_and_rewards_reciprocity(w1: float, w2: float, a: int,
                                                              b: int) -> None:
    lo, hi = sorted((w1, w2))
    assert 0.0 <= strength_from(lo, a, b, 0, 0) <= strength_from(hi, a, b, 0, 0) <= 1.0
    one_way = strength_from(hi, a + b, 0, 0, 0)
    two_way = strength_from(hi, max(a, b), min(a, b), 0, 0)
    assert two_way >= one_way


def test_strength_decays_with_the_half_life_and_rewards_responsiveness() -> None:
    f = TieFeatures(a_to_b=3, b_to_a=0, latency_sum=0.0, latency_n=0, weight=10.0, score_at=T0)
    now = strength_of(f, T0, 90)
    later = strength_of(f, T0 + timedelta(days=90), 90)
    assert math.isclose(later, strength_from(5.0, 3, 0, 0.0, 0))
    assert later < now
    fast = strength_from(5.0, 3, 3, 3600.0, 1)
    slow = strength_from(5.0, 3, 3, 30 * 86400.0, 1)
    assert fast > slow > strength_from(5.0, 3, 3, 0.0, 0) - 1e-12


def drawing() -> Drawing:
    return Drawing("Who knows <Jeanne> & co", [
        Node("@fabrikam.com", "@fabrikam.com", "target"),
        Node("alice@contoso.fr", "Alice Martin", "colleague"),
        Node("bob@contoso.fr", "Bob \"the\" Builder", "colleague")],
        [Edge("alice@contoso.fr", "@fabrikam.com", 0.8),
         Edge("bob@contoso.fr", "@fabrikam.com", 0.2, dashed=True)])


def test_svg_is_well_formed_and_shows_every_node_and_edge() -> None:
    root = ET.fromstring(to_svg(drawing()))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "Alice Martin" in texts and 'Bob "the" Builder' in texts
    lines = list(root.iter(f"{ns}line"))
    assert len(lines) == 2 and lines[1].get("stroke-dasharray")
    assert float(lines[0].get("stroke-width", 0)) > float(lines[1].get("stroke-width", 0))


def test_dot_quotes_names_and_marks_indirect_edges() -> None:
    dot = to_dot(drawing())
    assert dot.startswith('graph "Who knows <Jeanne> & co" {')
    assert '"bob@contoso.fr" [label="Bob \\"the\\" Builder"' in dot
    assert '"bob@contoso.fr" -- "@fabrikam.com" [penwidth=1.80, label="0.20", style=dashed]' \
        in dot
