"""Connected components of the near-duplicate graph, with one representative per cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mimo_data.dedup.exact import rank_key

logger = logging.getLogger(__name__)


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


# Distributed connected components on Ray Data: the large-star / small-star algorithm of
# Kiveris et al., "Connected Components in MapReduce and Beyond". Edges live in
# a dataset of directed rows that contains each undirected edge once per direction. Every step
# groups the rows by node, and no step brings edges or clusters to the driver. Nodes are
# ordered by ``rank_key`` (highest quality, then smallest id), so each final star's centre
# is the member that :class:`UnionFind` would keep.
STAR_SCHEMA = pa.schema(
    [
        ("node", pa.string()),
        ("node_quality", pa.float64()),
        ("neighbor", pa.string()),
        ("neighbor_quality", pa.float64()),
        # Flags, set on one row per node and 0 elsewhere. ``unsettled`` is 1 when the node
        # broke the star condition on the step's input, ``centre`` when it had no
        # better-ranked neighbor.
        ("unsettled", pa.int8()),
        ("centre", pa.int8()),
    ]
)
DUPLICATE_SCHEMA = pa.schema([("id", pa.string()), ("duplicate_of", pa.string())])

# The 24-node path of tests/dedup/test_components.py settles in 8 steps, and each step
# shrinks every cluster's diameter, so this bound only stops a bug from looping forever.
MAX_STAR_STEPS = 200


class ComponentsNotConvergedError(RuntimeError):
    """Large-star / small-star steps did not reach a forest of stars within MAX_STAR_STEPS."""


def distributed_components(edges, *, num_partitions: int):
    """Return ``(duplicates, clusters)`` for the edge dataset ``edges``.

    ``edges`` has the columns ``source``, ``target``, ``source_quality`` and
    ``target_quality``. ``duplicates`` is a dataset of ``(id, duplicate_of)`` rows: one per
    cluster member other than the best-ranked one, which ``duplicate_of`` names.
    ``clusters`` is the number of clusters. The result equals :func:`connected_components`
    on the same edges.
    """
    from mimo_data.dedup.global_dedup import on_current_context, sort_shuffle

    if edges.count() == 0:
        return _empty_dataset(), 0
    with sort_shuffle():
        current = on_current_context(edges).map_batches(_directed_rows, batch_format="pyarrow")

    # Alternate large-star and small-star steps until a step finds its input already a
    # forest of stars centred on each cluster's best-ranked member.
    for step in range(MAX_STAR_STEPS):
        grouped = current.groupby("node", num_partitions=num_partitions)
        stepped = grouped.map_groups(star_step, fn_kwargs={"large": step % 2 == 0}, batch_format="pyarrow").materialize()
        unsettled, centres = _flag_totals(stepped)
        logger.debug("connected components step %d: %d unsettled nodes", step, unsettled)
        if unsettled == 0:
            # The step's output is its settled input with each edge once per direction,
            # where the input repeats an edge that several LSH bands found.
            return stepped.map_batches(star_duplicates, batch_format="pyarrow"), centres
        current = stepped.map_batches(_edge_rows, batch_format="pyarrow")
    raise ComponentsNotConvergedError(
        f"connected components did not converge within {MAX_STAR_STEPS} large-star / small-star steps; "
        "this is a bug, please report it with the candidate edges"
    )


def _flag_totals(stepped) -> tuple[int, int]:
    # One row of sums per block reaches the driver, never the edges.
    totals = stepped.map_batches(_block_flag_totals, batch_format="pyarrow").take_all()
    return sum(row["unsettled"] for row in totals), sum(row["centre"] for row in totals)


def _block_flag_totals(table: pa.Table) -> pa.Table:
    return pa.table({"unsettled": [pc.sum(table.column("unsettled")).as_py() or 0],
                     "centre": [pc.sum(table.column("centre")).as_py() or 0]})


def _empty_dataset():
    import ray.data

    return ray.data.from_arrow(DUPLICATE_SCHEMA.empty_table())


def _directed_rows(table: pa.Table) -> pa.Table:
    # Each candidate edge in both directions, so grouping by node finds all its neighbors.
    forward = pa.table({"node": table.column("source"), "node_quality": table.column("source_quality"),
                        "neighbor": table.column("target"), "neighbor_quality": table.column("target_quality")})
    backward = pa.table({"node": table.column("target"), "node_quality": table.column("target_quality"),
                         "neighbor": table.column("source"), "neighbor_quality": table.column("source_quality")})
    rows = pa.concat_tables([forward, backward])
    zeros = pa.array(np.zeros(rows.num_rows, dtype=np.int8))
    return rows.append_column("unsettled", zeros).append_column("centre", zeros).cast(STAR_SCHEMA)


def _edge_rows(table: pa.Table) -> pa.Table:
    # Drop the status rows that carry only a node's flags.
    return table.filter(table.column("neighbor").is_valid())


def star_step(group: pa.Table, *, large: bool) -> pa.Table:
    """Run one large-star (``large``) or small-star step for the rows of one node.

    Large-star links every worse-ranked neighbor of the node to the best-ranked member of
    the node and its neighbors. Small-star links the node and its better-ranked neighbors
    to the best of them. Both keep every cluster connected and shrink its diameter.
    """
    node, node_quality = group.column("node")[0].as_py(), group.column("node_quality")[0].as_py()
    neighbors = dict(zip(group.column("neighbor").to_pylist(), group.column("neighbor_quality").to_pylist()))
    neighbors.pop(None, None)
    node_rank = rank_key(node, node_quality)
    better = {other: quality for other, quality in neighbors.items() if rank_key(other, quality) < node_rank}
    worse = {other: quality for other, quality in neighbors.items() if other not in better}

    # 1. The star condition: a centre has only worse-ranked neighbors, and a leaf has
    # exactly one neighbor, which ranks better.
    unsettled = bool(better) and not (len(better) == 1 and not worse)

    # 2. The links this step makes.
    if large:
        candidates = {**neighbors, node: node_quality}
        linked = worse
    else:
        candidates = {**better, node: node_quality}
        linked = {**better, node: node_quality}
    best = min(candidates.items(), key=lambda item: rank_key(*item))
    pairs = [(other, quality) for other, quality in linked.items() if other != best[0]]
    return _star_rows(node, node_quality, best, pairs, unsettled=unsettled, centre=not better)


def _star_rows(node, node_quality, best: tuple, pairs: list[tuple], *, unsettled: bool, centre: bool) -> pa.Table:
    best_id, best_quality = best
    nodes, node_qualities, neighbors, neighbor_qualities = [], [], [], []
    for other, quality in pairs:
        nodes += [other, best_id]
        node_qualities += [quality, best_quality]
        neighbors += [best_id, other]
        neighbor_qualities += [best_quality, quality]
    if not nodes:
        # A status row without a neighbor, so the node's flags are still counted.
        nodes, node_qualities, neighbors, neighbor_qualities = [node], [node_quality], [None], [None]
    flags = [0] * len(nodes)
    unsettled_flags, centre_flags = list(flags), list(flags)
    unsettled_flags[0], centre_flags[0] = int(unsettled), int(centre)
    return pa.table([nodes, node_qualities, neighbors, neighbor_qualities, unsettled_flags, centre_flags], schema=STAR_SCHEMA)


def star_duplicates(table: pa.Table) -> pa.Table:
    """Return ``(id, duplicate_of)`` for each leaf row of a forest of stars.

    Each edge must appear once per direction, as :func:`star_step` outputs them.
    """
    rows = _edge_rows(table)
    ids, duplicate_of = [], []
    columns = (rows.column(name).to_pylist() for name in ("node", "node_quality", "neighbor", "neighbor_quality"))
    for node, node_quality, neighbor, neighbor_quality in zip(*columns):
        if rank_key(neighbor, neighbor_quality) < rank_key(node, node_quality):
            ids.append(node)
            duplicate_of.append(neighbor)
    return pa.table([ids, duplicate_of], schema=DUPLICATE_SCHEMA)
