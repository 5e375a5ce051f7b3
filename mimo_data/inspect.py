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


def stage_dirs(path: str | Path) -> list[Path]:
    """Return the stage folders at ``path``: the folder itself if it has a manifest, else its children that do."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        return [path]
    found = sorted(child for child in path.iterdir() if (child / "manifest.json").is_file()) if path.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no manifest.json in {path} or its subfolders; point at a stage folder or a build output folder")
    return found


def describe_stage(stage_dir: str | Path, *, sample_chars: int = 600) -> str:
    """Return a manifest summary and the decoded start of the first sequence of a stage."""
    from mimo_data.tokenize import load_tokenizer

    stage_dir = Path(stage_dir)
    manifest = json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))
    lines = [
        f"stage {manifest['stage']} of pipeline {manifest['pipeline']}: {manifest['sequences']} sequences of "
        f"{manifest['seq_len']} tokens in {len(manifest['shards'])} shards",
        f"tokens: target {manifest['tokens_target']}, planned {manifest['tokens_planned']}, written {manifest['tokens_written']}, "
        f"padding {manifest['padding_tokens']}; tokenizer {manifest['tokenizer']['name']}",
        "",
        stage_tokens_table({manifest["stage"]: manifest}),
    ]

    if manifest["shards"]:
        first = pq.read_table(stage_dir / manifest["shards"][0]["file"]).slice(0, 1).to_pylist()[0]
        tokenizer = load_tokenizer(manifest["tokenizer"]["name"])
        text = tokenizer.decode([t for t, m in zip(first["input_ids"], first["loss_mask"]) if m])
        lines += ["", f"first sequence ({len(first['doc_ids'])} documents), decoded:", text[:sample_chars]]
    return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _is_number(value: str) -> bool:
    return value.replace(",", "").replace(".", "").isdigit()
