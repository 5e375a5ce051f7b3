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


def sample_clusters(clusters: dict[str, list[str]], sample: int, seed: int) -> list[str]:
    """Return up to ``sample`` representatives, chosen by a seeded hash so reruns agree."""
    return sorted(clusters, key=lambda root: xxhash.xxh64_intdigest(root.encode("utf-8"), seed=seed))[:sample]


def write_explain(signed, clusters: dict[str, list[str]], config: MinHashConfig, folder: Path, *, sample: int, seed: int) -> None:
    """Write ``clusters.jsonl`` and ``lsh.json`` for a sample of ``clusters`` under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    roots = sample_clusters(clusters, sample, seed)
    wanted = {doc_id for root in roots for doc_id in [root, *clusters[root][:MAX_MEMBERS]]}
    rows = _fetch_rows(signed, wanted)

    with open(folder / "clusters.jsonl", "w", encoding="utf-8") as out:
        for root in roots:
            out.write(json.dumps(_cluster_record(root, clusters[root], rows, config), ensure_ascii=False) + "\n")

    bands, rows_per_band = config.lsh_params()
    lsh = {"threshold": config.threshold, "num_perm": config.num_perm, "bands": bands, "rows": rows_per_band,
           "clusters": len(clusters), "clusters_written": len(roots), "s_curve": s_curve(config)}
    (folder / "lsh.json").write_text(json.dumps(lsh, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %d of %d near-duplicate clusters to %s", len(roots), len(clusters), folder)


def _fetch_rows(signed, wanted: set[str]) -> dict[str, dict]:
    # Only the sampled members cross to the driver: a filter runs per batch first.
    selected = signed.map_batches(_select_ids, fn_kwargs={"wanted": wanted}, batch_format="pyarrow")
    return {row["id"]: row for row in selected.take_all()}


def _select_ids(table: pa.Table, *, wanted: set[str]) -> pa.Table:
    columns = [name for name in _ROW_COLUMNS if name in table.column_names]
    mask = pa.array([doc_id in wanted for doc_id in table.column("id").to_pylist()])
    return table.select(columns).filter(mask)


def _cluster_record(root: str, members: list[str], rows: dict[str, dict], config: MinHashConfig) -> dict:
    kept = rows[root]
    kept_signature = np.asarray(kept["minhash"], dtype=np.uint32)
    entries = [_member(kept, kept=True)]
    for member in members[:MAX_MEMBERS]:
        row = rows[member]
        entry = _member(row, kept=False)
        entry["estimated_jaccard"] = round(estimated_jaccard(kept_signature, np.asarray(row["minhash"], dtype=np.uint32)), 4)
        entry["true_jaccard"] = round(true_jaccard(kept["text"], row["text"], config), 4)
        entries.append(entry)
    return {"representative": root, "size": len(members) + 1, "members": entries}


def _member(row: dict, *, kept: bool) -> dict:
    return {"id": row["id"], "kept": kept, "source": row.get("source"), "url": row.get("url"),
            "quality": row.get("quality"), "words": len((row.get("text") or "").split())}
