"""Explain mode: a sample of near-duplicate clusters and the LSH S-curve, to tune the threshold.

Writes two files under the explain folder:

- ``clusters.jsonl``: one line per sampled cluster, with every member (capped at
  ``MAX_MEMBERS``), its source, URL and quality, and its estimated (signature) and true
  (shingle set) Jaccard similarity to the kept representative;
- ``lsh.json``: threshold, permutations, bands, rows and the S-curve
  ``P(candidate | similarity s) = 1 - (1 - s^rows)^bands`` of those bands and rows.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import xxhash

from mimo_data.dedup.minhash import MinHashConfig, estimated_jaccard, s_curve, true_jaccard

logger = logging.getLogger(__name__)

# Members written per cluster; a cluster of thousands of boilerplate pages stays readable.
MAX_MEMBERS = 20
_ROW_COLUMNS = ("id", "source", "url", "quality", "text", "minhash")


def write_explain(signed, duplicates, config: MinHashConfig, folder: Path, *, sample: int, seed: int, clusters: int) -> None:
    """Write ``clusters.jsonl`` and ``lsh.json`` for a sample of the clusters under ``folder``.

    ``duplicates`` is the ``(id, duplicate_of)`` dataset of the near-duplicate pass and
    ``clusters`` its number of clusters. Only the sampled clusters reach the driver.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    roots = sample_representatives(duplicates, sample, seed)
    members = cluster_members(duplicates, set(roots))
    wanted = {doc_id for root in roots for doc_id in [root, *members[root][1]]}
    rows = _fetch_rows(signed, wanted)

    with open(folder / "clusters.jsonl", "w", encoding="utf-8") as out:
        for root in roots:
            size, shown = members[root]
            out.write(json.dumps(_cluster_record(root, size, shown, rows, config), ensure_ascii=False) + "\n")

    bands, rows_per_band = config.lsh_params()
    lsh = {"threshold": config.threshold, "num_perm": config.num_perm, "bands": bands, "rows": rows_per_band,
           "clusters": clusters, "clusters_written": len(roots), "s_curve": s_curve(config)}
    (folder / "lsh.json").write_text(json.dumps(lsh, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %d of %d near-duplicate clusters to %s", len(roots), clusters, folder)


def _root_order(root: str, seed: int) -> tuple[int, str]:
    # A seeded hash, so reruns sample the same clusters; the id breaks a tie.
    return xxhash.xxh64_intdigest(root.encode("utf-8"), seed=seed), root


def sample_representatives(duplicates, sample: int, seed: int) -> list[str]:
    """Return up to ``sample`` cluster representatives, the first in a seeded hash order."""
    candidates = duplicates.map_batches(_first_roots, fn_kwargs={"sample": sample, "seed": seed}, batch_format="pyarrow")
    roots = {row["root"] for row in candidates.take_all()}
    return sorted(roots, key=lambda root: _root_order(root, seed))[:sample]


def _first_roots(table: pa.Table, *, sample: int, seed: int) -> pa.Table:
    # Each batch offers its own first ``sample`` roots, so the driver gets at most that many per batch.
    roots = sorted(set(table.column("duplicate_of").to_pylist()), key=lambda root: _root_order(root, seed))
    return pa.table({"root": pa.array(roots[:sample], pa.string())})


def cluster_members(duplicates, roots: set[str]) -> dict[str, tuple[int, list[str]]]:
    """Return ``{root: (cluster size, first MAX_MEMBERS other members by id)}`` for ``roots``."""
    selected = duplicates.map_batches(_members_of, fn_kwargs={"roots": roots}, batch_format="pyarrow")
    members: dict[str, tuple[int, list[str]]] = {root: (1, []) for root in roots}
    for row in selected.take_all():
        size, shown = members[row["root"]]
        members[row["root"]] = (size + row["count"], sorted(shown + row["members"])[:MAX_MEMBERS])
    return members


def _members_of(table: pa.Table, *, roots: set[str]) -> pa.Table:
    # Per batch, each root's member count and its first MAX_MEMBERS members by id.
    found: dict[str, list[str]] = {}
    for doc_id, root in zip(table.column("id").to_pylist(), table.column("duplicate_of").to_pylist()):
        if root in roots:
            found.setdefault(root, []).append(doc_id)
    return pa.table({
        "root": pa.array(list(found), pa.string()),
        "count": pa.array([len(ids) for ids in found.values()], pa.int64()),
        "members": pa.array([sorted(ids)[:MAX_MEMBERS] for ids in found.values()], pa.list_(pa.string())),
    })


def _fetch_rows(signed, wanted: set[str]) -> dict[str, dict]:
    # Only the sampled members cross to the driver: a filter runs per batch first.
    selected = signed.map_batches(_select_ids, fn_kwargs={"wanted": wanted}, batch_format="pyarrow")
    return {row["id"]: row for row in selected.take_all()}


def _select_ids(table: pa.Table, *, wanted: set[str]) -> pa.Table:
    columns = [name for name in _ROW_COLUMNS if name in table.column_names]
    mask = pa.array([doc_id in wanted for doc_id in table.column("id").to_pylist()])
    return table.select(columns).filter(mask)


def _cluster_record(root: str, size: int, members: list[str], rows: dict[str, dict], config: MinHashConfig) -> dict:
    kept = rows[root]
    kept_signature = np.asarray(kept["minhash"], dtype=np.uint32)
    entries = [_member(kept, kept=True)]
    for member in members:
        row = rows[member]
        entry = _member(row, kept=False)
        entry["estimated_jaccard"] = round(estimated_jaccard(kept_signature, np.asarray(row["minhash"], dtype=np.uint32)), 4)
        entry["true_jaccard"] = round(true_jaccard(kept["text"], row["text"], config), 4)
        entries.append(entry)
    return {"representative": root, "size": size, "members": entries}


def _member(row: dict, *, kept: bool) -> dict:
    return {"id": row["id"], "kept": kept, "source": row.get("source"), "url": row.get("url"),
            "quality": row.get("quality"), "words": len((row.get("text") or "").split())}
