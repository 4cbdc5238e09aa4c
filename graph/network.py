"""The tie table as a networkx graph, for questions that need more than one person's ties:
introduction paths (and drawings of them).

networkx is untyped; it stays behind this class. Edges carry one attribute, `w` =
-log(strength), so that the strongest chain (the largest product of strengths) is the shortest
path; the k best chains come from a bounded meet-in-the-middle search (see best_paths).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import networkx as nx

MIN_STRENGTH = 1e-6  # weaker ties are noise for introductions and only slow the search
MAX_HOPS = 4  # an introduction through more than three people is not one anybody asks for
FAN_OUT = 40  # paths go through each person's strongest ties only


class TieGraph:
    """An undirected graph over person ids."""

    def __init__(self, graph: Any, as_of: datetime) -> None:
        self.graph = graph
        self.as_of = as_of

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, float | None]], *, hidden: set[int],
                  as_of: datetime) -> TieGraph:
        """Rows are (person_a, person_b, strength); ties touching `hidden` persons are left
        out (forgotten, opted out, robots)."""
        g = nx.Graph()
        log = math.log
        if hidden:
            edges = ((a, b, -log(s)) for a, b, s in rows
                     if s is not None and s > MIN_STRENGTH and a not in hidden
                     and b not in hidden)
        else:
            edges = ((a, b, -log(s)) for a, b, s in rows if s is not None and s > MIN_STRENGTH)
        g.add_weighted_edges_from(edges, weight="w")
        return cls(g, as_of)

    @property
    def persons(self) -> int:
        return int(self.graph.number_of_nodes())

    @property
    def ties(self) -> int:
        return int(self.graph.number_of_edges())

    def strength(self, a: int, b: int) -> float:
        return math.exp(-float(self.graph[a][b]["w"]))

    def best_paths(self, source: int, target: int, k: int,
                   max_hops: int = MAX_HOPS) -> list[list[int]]:
        """Up to k simple paths of at most `max_hops` (<= 4) hops, strongest chain (smallest
        sum of -log(strength)) first; [] when there is none.

        Meet in the middle: chains of up to two hops grow from each end, through each
        person's FAN_OUT strongest ties, and join where they meet. Why not networkx's
        shortest_simple_paths (Yen): around hubs it runs a Dijkstra over most of the graph per
        candidate and took minutes on a million ties; introductions are short, so bounded
        enumeration is both exact enough and fast.
        """
        g = self.graph
        if source not in g or target not in g or source == target:
            return []
        max_hops = min(max_hops, 4)
        from_s = self._chains(source, min(2, max_hops))
        from_t = self._chains(target, min(2, max_hops))
        by_end: dict[int, list[tuple[float, tuple[int, ...]]]] = {}
        for w, chain in from_t:
            by_end.setdefault(chain[-1], []).append((w, chain))
        found: dict[tuple[int, ...], float] = {}
        for w1, left in from_s:
            for w2, right in by_end.get(left[-1], ()):
                path = left + right[-2::-1]
                if len(path) - 1 > max_hops or len(set(path)) != len(path):
                    continue
                found[path] = w1 + w2
        best = sorted(found, key=lambda p: (found[p], len(p), p))[:k]
        return [list(p) for p in best]

    def _chains(self, start: int, depth: int) -> list[tuple[float, tuple[int, ...]]]:
        """(sum of weights, chain from start) for chains of 0..depth hops."""
        out: list[tuple[float, tuple[int, ...]]] = [(0.0, (start,))]
        frontier = out
        for _ in range(depth):
            grown = []
            for w, chain in frontier:
                for other, ew in self._strongest(chain[-1]):
                    if other not in chain:
                        grown.append((w + ew, (*chain, other)))
            out = out + grown
            frontier = grown
        return out

    def _strongest(self, node: int) -> list[tuple[int, float]]:
        adj = self.graph[node]
        if len(adj) <= FAN_OUT:
            return [(o, float(d["w"])) for o, d in adj.items()]
        # Ties of equal strength (one mass mail) are cut by person id, not by the order the
        # graph happened to be built in, so the whole graph and local_graph agree.
        return [(o, float(d["w"])) for o, d in
                heapq.nsmallest(FAN_OUT, adj.items(), key=lambda item: (item[1]["w"], item[0]))]

    def neighbourhood(self, centre: int, limit: int) -> list[tuple[int, int, float]]:
        """The `limit` strongest ties of `centre`, as (centre, other, strength)."""
        if centre not in self.graph:
            return []
        edges = sorted(((centre, other, math.exp(-float(data["w"])))
                        for other, data in self.graph[centre].items()),
                       key=lambda e: (-e[2], e[1]))
        return edges[:limit]
