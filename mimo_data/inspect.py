"""Summaries of a build and of stage shards, for the CLI and for notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq


def format_table(header: list[str], rows: list[list]) -> str:
    """Render rows as a plain text table with right-aligned numbers."""
    cells = [header] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = [value.rjust(width) if _is_number(value) and n else value.ljust(width) for value, width in zip(row, widths)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def accounting_table(accounting: list[dict]) -> str:
    """Documents in, kept and dropped by reason at each step."""
    rows = []
    for entry in accounting:
        reasons = ", ".join(f"{reason}={count}" for reason, count in entry["dropped"].items()) or "-"
        rows.append([entry["step"], entry["documents_in"], entry["kept"], sum(entry["dropped"].values()), reasons])
    return format_table(["step", "in", "kept", "dropped", "dropped by reason"], rows)


def stage_tokens_table(manifests: dict[str, dict]) -> str:
    """Tokens per source per stage: target (per domain), achieved, epochs."""
    rows = []
    for stage, manifest in manifests.items():
        for source, report in manifest["sources"].items():
            domain = manifest["domains"].get(report["domain"], {})
            rows.append([stage, source, report["domain"], domain.get("tokens_target", 0), report["tokens_achieved"],
                         report["docs_selected"], f"{report['epochs']:.2f}"])
        rows.append([stage, "(all)", "-", manifest["tokens_target"], manifest["tokens_written"], manifest["selection"]["selected"],
                     f"{manifest['sequences']} seq x {manifest['seq_len']}"])
    return format_table(["stage", "source", "domain", "domain target", "tokens", "docs", "epochs"], rows)


def stage_shares_table(manifest: dict) -> str:
    """Target and achieved share of the stage's tokens per domain and per source, with epochs and repeats."""
    rows = []
    for kind, reports in (("domain", manifest["domains"]), ("source", manifest["sources"])):
        for name, report in reports.items():
            target = report.get("share_target")
            rows.append([kind, name, "-" if target is None else f"{target:.4f}", f"{report.get('share_achieved', 0.0):.4f}",
                         report.get("tokens_target") if report.get("tokens_target") is not None else "-",
                         report["tokens_achieved"], f"{report['epochs']:.2f}", report.get("docs_repeated", 0)])
    return format_table(["kind", "name", "share target", "share achieved", "tokens target", "tokens", "epochs", "docs repeated"], rows)


def stage_dirs(path: str | Path) -> list[Path]:
    """Return the stage folders at ``path``: the folder itself if it has a manifest, else its children that do."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found")
    if (path / "manifest.json").is_file():
        return [path]
    found = sorted(child for child in path.iterdir() if (child / "manifest.json").is_file()) if path.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no manifest.json in {path} or its subfolders; point at a stage folder or a build output folder")
    return found


def decode_rows(stage_dir: str | Path, rows: int = 1, *, tokenizer=None) -> list[list[tuple[str, str]]]:
    """Decode the first ``rows`` packed rows of a stage into (document id, text) segments."""
    from mimo_data.tokenize import load_tokenizer

    stage_dir = Path(stage_dir)
    manifest = json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))
    tokenizer = tokenizer or load_tokenizer(manifest["tokenizer"]["name"])
    decoded = []
    for shard in manifest["shards"]:
        for row in pq.read_table(stage_dir / shard["file"]).slice(0, rows - len(decoded)).to_pylist():
            segments = []
            for index, doc_id in enumerate(row["doc_ids"], start=1):
                ids = [t for t, segment in zip(row["input_ids"], row["segment_ids"]) if segment == index]
                segments.append((doc_id, tokenizer.decode(ids)))
            decoded.append(segments)
        if len(decoded) >= rows:
            break
    return decoded


def describe_stage(stage_dir: str | Path, *, sample_chars: int = 600, sample_rows: int = 1) -> str:
    """Return the manifest tables of a stage and the decoded start of its first rows."""
    stage_dir = Path(stage_dir)
    manifest = json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))
    padding = manifest.get("padding_fraction")
    lines = [
        f"stage {manifest['stage']} of pipeline {manifest['pipeline']}: {manifest['sequences']} sequences of "
        f"{manifest.get('row_len', manifest['seq_len'])} tokens (seq_len {manifest['seq_len']}) in {len(manifest['shards'])} shards",
        f"tokens: target {manifest['tokens_target']}, planned {manifest['tokens_planned']}, written {manifest['tokens_written']}, "
        f"padding {manifest['padding_tokens']}" + (f" ({padding:.2%})" if padding is not None else "")
        + f"; tokenizer {manifest['tokenizer']['name']}; seed {manifest['seed']}",
        "",
        stage_tokens_table({manifest["stage"]: manifest}),
        "",
        stage_shares_table(manifest),
    ]

    for number, segments in enumerate(decode_rows(stage_dir, sample_rows) if manifest["shards"] else []):
        lines += ["", f"sequence {number} ({len(segments)} documents), decoded:"]
        for doc_id, text in segments:
            lines.append(f"[{doc_id}] {text[:sample_chars]}")
    return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _is_number(value: str) -> bool:
    return value.replace(",", "").replace(".", "").isdigit()


# Columns of documents/ that identify a document or hold its text; every other column is an attribute.
DOCUMENT_IDENTITY_COLUMNS = ("id", "source", "format", "path", "url", "text")


def documents_dir(path: str | Path) -> Path | None:
    """Return the folder of kept documents at ``path`` (a build output folder or documents/ itself), if any.

    Only a folder named ``documents`` counts, because stage folders hold ``part-*.parquet`` shards too.
    """
    path = Path(path)
    for folder in (path, path / "documents"):
        if folder.name == "documents" and folder.is_dir() and any(folder.glob("part-*.parquet")):
            return folder
    return None


def describe_documents(folder: str | Path, *, sample_docs: int = 2, sample_chars: int = 300) -> str:
    """Return per-attribute statistics of the kept documents and a few documents with all their attributes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    folder = Path(folder)
    table = pa.concat_tables(pq.read_table(part) for part in sorted(folder.glob("part-*.parquet")))
    attributes = [name for name in table.column_names if name not in DOCUMENT_IDENTITY_COLUMNS]

    rows = []
    for name in attributes:
        column = table.column(name)
        valid = len(column) - column.null_count
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            summary = "-" if not valid else (
                f"min {_number(pc.min(column).as_py())}, mean {_number(pc.mean(column).as_py())}, max {_number(pc.max(column).as_py())}"
            )
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            counts = pc.value_counts(column.drop_null()).to_pylist()
            top = sorted(counts, key=lambda item: (-item["counts"], item["values"]))[:5]
            summary = ", ".join(f"{item['values']}={item['counts']}" for item in top) or "-"
        elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            lengths = pc.list_value_length(column)
            non_empty = pc.sum(pc.greater(lengths, 0)).as_py() or 0
            summary = f"{non_empty} non-empty lists, {pc.sum(lengths).as_py() or 0} items in all"
        else:
            summary = str(column.type)
        rows.append([name, valid, summary])

    lines = [f"documents in {folder}: {table.num_rows} kept documents, {len(attributes)} attributes", "",
             format_table(["attribute", "documents with a value", "values"], rows)]
    for row in table.slice(0, sample_docs).to_pylist():
        lines += ["", f"document {row['id']} (source {row['source']}, {row.get('url') or row.get('path')}):"]
        lines += [f"  {name} = {_number(row[name]) if isinstance(row[name], float) else row[name]}" for name in attributes]
        text = (row.get("text") or "")[:sample_chars]
        lines.append(f"  text: {text}")
    return "\n".join(lines)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
