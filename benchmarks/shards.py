"""Benchmark tokenize + pack + write against the bare tokenizer, and shard reads against a flat file.

Packing is timed with both methods, greedy and best-fit, and their padding is reported.

Usage: .venv/bin/python benchmarks/shards.py [--shared ../shared] [--tokenizer qwen2]

Writes its section, "## Tokenize, pack and Parquet shards", into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mimo_data.tokenize import ShardWriter, load_tokenizer
from mimo_data.tokenize.packing import PACKING_METHODS, packing_function

REPO_ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Tokenize, pack and Parquet shards"
SEQ_LEN = 8192


def benchmark_texts(shared: Path) -> list[str]:
    """English prose, reStructuredText and LaTeX reasoning from the shared folder (about 10 MB)."""
    texts = [path.read_text(encoding="utf-8") for path in sorted((shared / "text" / "peps").glob("*.rst"))]
    play = (shared / "text" / "tinyshakespeare_input.txt").read_text(encoding="utf-8")
    texts += [play[start : start + 20_000] for start in range(0, len(play), 20_000)]
    with (shared / "reasoning" / "qwen25math_math_cot_100x8.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            texts += [record["question"] + "\n\n" + response for response in record["response"]]
    return texts


def bare_encode(tokenizer, texts: list[str]) -> int:
    """The tokenizer's own batch encode, without our wrapper, packing or writing."""
    if tokenizer.name == "qwen2":
        from mimo_data.tokenize.qwen2 import _encoding

        return sum(len(ids) for ids in _encoding().encode_ordinary_batch(texts, num_threads=1))
    return sum(len(encoding.ids) for encoding in tokenizer._tokenizer.encode_batch(texts, add_special_tokens=False))


def ours(tokenizer, texts: list[str], out_dir: Path, method: str) -> dict:
    """Encode, pack with ``method`` and write shards. Return the tokens, the padding and the rows continuing a document."""
    token_lists = tokenizer.encode_batch(texts)
    pack = packing_function(method)
    table = pack(token_lists, [f"doc-{i}" for i in range(len(texts))], seq_len=SEQ_LEN + 1,
                 eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id)
    with ShardWriter(out_dir, rows_per_shard=256, overwrite=True) as writer:
        writer.write(table)
    real_tokens = sum(table.column("n_tokens").to_pylist())
    return {
        "tokens": sum(len(ids) for ids in token_lists),
        "padding_fraction": 1 - real_tokens / (table.num_rows * (SEQ_LEN + 1)),
        "continued_rows": sum(table.column("first_segment_continued").to_pylist()),
    }


def timed(function, *args, repeats: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), 0
    for _ in range(repeats):
        start = time.process_time()
        result = function(*args)
        best = min(best, time.process_time() - start)
    return best, result


def read_shards(out_dir: Path) -> int:
    total = 0
    for path in sorted(out_dir.glob("part-*.parquet")):
        column = pq.read_table(path, columns=["input_ids"]).column("input_ids").combine_chunks()
        total += column.values.to_numpy(zero_copy_only=False).size
    return total


def read_flat(path: Path) -> int:
    return np.fromfile(path, dtype=np.int32).size


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(REPO_ROOT.parent / "shared"), help="the shared data folder")
    parser.add_argument("--tokenizer", action="append", help="tokenizer names (default: qwen2 and mimo-bpe-16k)")
    args = parser.parse_args()
    texts = benchmark_texts(Path(args.shared))
    load_before = os.getloadavg()[0]
    megabytes = sum(len(text.encode()) for text in texts) / 1e6

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tokenizer or ["qwen2", "mimo-bpe-16k"]:
            tokenizer = load_tokenizer(name)
            bare_s, tokens = timed(bare_encode, tokenizer, texts)
            for method in PACKING_METHODS:
                ours_s, packed = timed(ours, tokenizer, texts, Path(tmp) / f"{name}-{method}", method)
                rows.append((name, method, tokens, tokens / bare_s, tokens / ours_s, packed))

        # Reads: every shard's input_ids into one numpy array, against a flat int32 file of the same tokens.
        out_dir = Path(tmp) / f"{rows[0][0]}-{rows[0][1]}"
        flat = Path(tmp) / "flat.int32"
        values = np.concatenate([pq.read_table(p, columns=["input_ids"]).column("input_ids").combine_chunks().values.to_numpy()
                                 for p in sorted(out_dir.glob("part-*.parquet"))])
        values.tofile(flat)
        parquet_s, read_tokens = timed(read_shards, out_dir, repeats=5)
        flat_s, _ = timed(read_flat, flat, repeats=5)

    lines = [
        SECTION, "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores visible, one process. Date: {datetime.date.today()}.",
        f"1-minute load average before and after the run: {load_before:.1f} and {os.getloadavg()[0]:.1f}.",
        "Command: `.venv/bin/python benchmarks/shards.py`. Best of 3 runs (reads: best of 5).",
        "Times are CPU seconds of this process (`time.process_time`, all its threads), not wall time,",
        "so that other jobs sharing the CPUs change them less; tokens/s are tokens per CPU second.",
        f"Texts: {len(texts)} documents, {megabytes:.1f} MB (PEPs, Tiny Shakespeare in 20 kB pieces, Qwen2.5-Math CoT responses);",
        f"rows of {SEQ_LEN}+1 tokens, 256 rows per shard, zstd.", "",
        "| tokenizer | packing | tokens | bare batch encode, tokens/s | ours: encode + pack + write, tokens/s | ratio "
        "| padding | rows continuing a document |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, method, tokens, bare, full, packed in rows:
        lines.append(f"| {name} | {method} | {tokens:,} | {bare / 1e6:.2f} M | {full / 1e6:.2f} M | {full / bare:.2f} "
                     f"| {packed['padding_fraction']:.2%} | {packed['continued_rows']} |")
    lines += [
        "", "| read | tokens/s (one process, per CPU second) |", "|---|---|",
        f"| Parquet shards → numpy (pyarrow, input_ids only) | {read_tokens / parquet_s / 1e6:.0f} M |",
        f"| flat int32 file → numpy (np.fromfile) | {read_tokens / flat_s / 1e6:.0f} M |", "",
    ]
    write_section("\n".join(lines))
    print("\n".join(lines))


def write_section(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md, leaving the other sections as they are."""
    path = REPO_ROOT / "benchmarks" / "RESULTS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if SECTION in current:
        before, rest = current.split(SECTION, 1)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        current = before.rstrip("\n") + "\n\n" + text + after
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
