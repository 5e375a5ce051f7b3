"""Connected components on Ray Data against the in-memory union-find."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from mimo_data.dedup.components import clusters_to_duplicates, connected_components, distributed_components
from mimo_data.dedup.exact import rank_key


def _graphs() -> tuple[list[tuple[str, str]], dict[str, float | None]]:
    """Return edges and qualities of disjoint graphs that need several steps to settle."""
    rng = random.Random(7)
    edges: list[tuple[str, str]] = []
    qualities: dict[str, float | None] = {}

    # 1. A path whose best-ranked node sits in the middle, qualities falling to both ends.
    path = [f"path-{index:02d}" for index in range(24)]
    for index, node in enumerate(path):
        qualities[node] = 1.0 - abs(index - 12) / 24
    edges += list(zip(path, path[1:]))

    # 2. Random sparse graphs with null and tied qualities, so ids break ties.
    for graph in range(4):
        nodes = [f"random-{graph}-{index:02d}" for index in range(20)]
        for node in nodes:
            qualities[node] = rng.choice([None, 0.5, 0.5, rng.random()])
        edges += [tuple(rng.sample(nodes, 2)) for _ in range(18)]

    # 3. A star and a single pair, already settled.
    qualities.update({"star-centre": 0.9, "pair-a": None, "pair-b": None})
    for leaf in range(5):
        qualities[f"star-leaf-{leaf}"] = 0.1
        edges.append((f"star-leaf-{leaf}", "star-centre"))
    edges.append(("pair-b", "pair-a"))
    return edges, qualities


def _edge_dataset(edges, qualities):
    import ray.data

    table = pa.table({
        "source": [source for source, _ in edges],
        "target": [target for _, target in edges],
        "source_quality": pa.array([qualities[source] for source, _ in edges], pa.float64()),
        "target_quality": pa.array([qualities[target] for _, target in edges], pa.float64()),
    })
    return ray.data.from_arrow([table.slice(start, 10) for start in range(0, table.num_rows, 10)])


def test_components_match_union_find(ray_session):
    edges, qualities = _graphs()
    clusters = connected_components(edges, lambda node: rank_key(node, qualities[node]))
    expected = clusters_to_duplicates(clusters)
    assert len(clusters) >= 7
    assert expected["path-00"] == "path-12"

    duplicates, cluster_count = distributed_components(_edge_dataset(edges, qualities), num_partitions=3)
    rows = duplicates.take_all()
    found = {row["id"]: row["duplicate_of"] for row in rows}
    assert len(rows) == len(found)
    assert found == expected
    assert cluster_count == len(clusters)


def test_no_edges_no_duplicates(ray_session):
    duplicates, cluster_count = distributed_components(_edge_dataset([], {}), num_partitions=1)
    assert duplicates.count() == 0
    assert cluster_count == 0


@pytest.mark.parametrize("large", [True, False])
def test_star_step_keeps_settled_star(large):
    from mimo_data.dedup.components import star_step

    group = pa.table({
        "node": ["centre"] * 2, "node_quality": [0.9] * 2, "neighbor": ["leaf-a", "leaf-b"],
        "neighbor_quality": [0.1, 0.2], "unsettled": pa.array([0, 0], pa.int8()), "centre": pa.array([0, 0], pa.int8()),
    })
    out = star_step(group, large=large)
    assert sum(out.column("unsettled").to_pylist()) == 0
    assert sum(out.column("centre").to_pylist()) == 1
