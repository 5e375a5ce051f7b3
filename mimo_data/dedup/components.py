"""Connected components of the near-duplicate graph, with one representative per cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class UnionFind:
    """Disjoint sets of document ids whose root is always the best-ranked member.

    ``rank`` maps an id to a sortable key; the smallest key is the representative. The
    result depends only on the set of edges, not on their order.
    """

    def __init__(self, rank: Callable[[str], Any]) -> None:
        self.rank = rank
        self.parents: dict[str, str] = {}

    def find(self, node: str) -> str:
        parents = self.parents
        parents.setdefault(node, node)
        while parents[node] != node:
            parents[node] = parents[parents[node]]  # path halving keeps the trees shallow
            node = parents[node]
        return node

    def union(self, first: str, second: str) -> None:
        first_root, second_root = self.find(first), self.find(second)
        if first_root == second_root:
            return
        if self.rank(first_root) < self.rank(second_root):
            self.parents[second_root] = first_root
        else:
            self.parents[first_root] = second_root

    def clusters(self) -> dict[str, list[str]]:
        """Return ``{representative: sorted members other than it}`` for every cluster."""
        members: dict[str, list[str]] = {}
        for node in self.parents:
            root = self.find(node)
            if root != node:
                members.setdefault(root, []).append(node)
        return {root: sorted(others) for root, others in members.items()}


def connected_components(edges: Iterable[tuple[str, str]], rank: Callable[[str], Any]) -> dict[str, list[str]]:
    """Return ``{representative: other members}`` of the clusters that ``edges`` connect."""
    union_find = UnionFind(rank)
    for first, second in edges:
        union_find.union(first, second)
    return union_find.clusters()


def clusters_to_duplicates(clusters: dict[str, list[str]]) -> dict[str, str]:
    """Return ``{dropped id: kept id}`` from ``{representative: other members}``."""
    return {member: root for root, members in clusters.items() for member in members}
