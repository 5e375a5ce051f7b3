"""Benchmark tokenize + pack + write against the bare tokenizer, and shard reads against a flat file.

Packing is timed with both methods, greedy and best-fit, and their padding is reported.
The bare encode and ours run in alternation, with the same thread count, and each keeps its
fastest round, so that a burst of load from other jobs is less likely to favour one side.

Usage: .venv/bin/python benchmarks/shards.py [--shared ../shared] [--tokenizer qwen2] [--threads 1]

Writes its section, "## Tokenize, pack and Parquet shards", into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mimo_data.tokenize import Qwen2Tokenizer, ShardWriter, load_tokenizer
from mimo_data.tokenize.packing import PACKING_METHODS, packing_function
from results_page import write_section  # benchmarks/ is on sys.path when this file runs as a script

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


def bare_encode(tokenizer, texts: list[str], num_threads: int) -> int:
    """The tokenizer's own batch encode, without our wrapper, packing or writing."""
    if tokenizer.name == "qwen2":
        from mimo_data.tokenize.qwen2 import _encoding

        return sum(len(ids) for ids in _encoding().encode_ordinary_batch(texts, num_threads=num_threads))
    # The HF tokenizer's thread count is RAYON_NUM_THREADS, which main() sets for both sides.
    return sum(len(encoding.ids) for encoding in tokenizer._tokenizer.encode_batch(texts, add_special_tokens=False))


def ours(tokenizer, texts: list[str], out_dir: Path, method: str) -> dict:
    """Encode, pack with ``method`` and write shards. Return the tokens, the padding and the rows continuing a document."""
    token_lists = tokenizer.encode_batch(texts)
    pack = packing_function(method)
    table = pack(token_lists, [f"doc-{i}" for i in range(len(texts))], seq_len=SEQ_LEN + 1,
                 eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id)
    with ShardWriter(out_dir, rows_per_shard=256, overwrite=True) as writer:
        writer.write(table)
    real_tokens = pc.sum(table.column("n_tokens")).as_py()
    return {
        "tokens": sum(len(ids) for ids in token_lists),
        "padding_fraction": 1 - real_tokens / (table.num_rows * (SEQ_LEN + 1)),
        "continued_rows": pc.sum(table.column("first_segment_continued")).as_py(),
    }


def timed_rounds(runs: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, float, Any]]:
    """Run every function once per round, in the same order, and keep each one's fastest time.

    Returns ``(best CPU seconds, best wall seconds, last result)`` per name. CPU seconds are
    this process's (``time.process_time``, all its threads).
    """
    best: dict[str, list] = {name: [float("inf"), float("inf"), None] for name in runs}
    for _ in range(rounds):
        for name, function in runs.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            result = function()
            cpu_s, wall_s = time.process_time() - cpu_start, time.perf_counter() - wall_start
            best[name] = [min(best[name][0], cpu_s), min(best[name][1], wall_s), result]
    return {name: (cpu_s, wall_s, result) for name, (cpu_s, wall_s, result) in best.items()}


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
    parser.add_argument("--threads", type=int, default=1, help="number of encode threads, the same for the bare encode and ours")
    parser.add_argument("--rounds", type=int, default=5, help="number of timed rounds, of which each side keeps its fastest")
    args = parser.parse_args()
    if args.threads < 1 or args.rounds < 1:
        parser.error(f"--threads and --rounds must be at least 1, got {args.threads} and {args.rounds}")
    # Rayon reads this when the HF tokenizer first encodes a batch, so it must be set before that.
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    texts = benchmark_texts(Path(args.shared))
    load_before = os.getloadavg()[0]
    megabytes = sum(len(text.encode()) for text in texts) / 1e6

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tokenizer or ["qwen2", "mimo-bpe-16k"]:
            tokenizer = Qwen2Tokenizer(num_threads=args.threads) if name == "qwen2" else load_tokenizer(name)
            runs = {"bare": functools.partial(bare_encode, tokenizer, texts, args.threads)}
            for method in PACKING_METHODS:
                runs[method] = functools.partial(ours, tokenizer, texts, Path(tmp) / f"{name}-{method}", method)
            times = timed_rounds(runs, args.rounds)
            bare_cpu_s, bare_wall_s, tokens = times["bare"]
            for method in PACKING_METHODS:
                ours_cpu_s, ours_wall_s, packed = times[method]
                if packed["tokens"] != tokens:
                    raise RuntimeError(f"{name} {method}: ours encoded {packed['tokens']} tokens, the bare encode {tokens}")
                rows.append((name, method, tokens, (bare_cpu_s, ours_cpu_s), (bare_wall_s, ours_wall_s), packed))

        # Reads: every shard's input_ids into one numpy array, against a flat int32 file of the same tokens.
        out_dir = Path(tmp) / f"{rows[0][0]}-{rows[0][1]}"
        flat = Path(tmp) / "flat.int32"
        values = np.concatenate([pq.read_table(p, columns=["input_ids"]).column("input_ids").combine_chunks().values.to_numpy()
                                 for p in sorted(out_dir.glob("part-*.parquet"))])
        values.tofile(flat)
        shard_bytes = sum(path.stat().st_size for path in out_dir.glob("part-*.parquet"))
        reads = timed_rounds({"parquet": functools.partial(read_shards, out_dir),
                              "flat": functools.partial(read_flat, flat)}, rounds=5)
        parquet_s, _, read_tokens = reads["parquet"]
        flat_s = reads["flat"][0]

    lines = [
        SECTION, "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores visible, one process. Date: {datetime.date.today()}.",
        f"1-minute load average before and after the run: {load_before:.1f} and {os.getloadavg()[0]:.1f}.",
        f"Command: `.venv/bin/python benchmarks/shards.py --threads {args.threads} --rounds {args.rounds}`.",
        f"The bare encode and ours alternate for {args.rounds} rounds with {args.threads} encode thread(s) each "
        "(tiktoken `num_threads`, or `RAYON_NUM_THREADS` for HF tokenizers), and each side keeps its fastest round.",
        "Each ratio is our tokens/s over the bare encode's tokens/s, both on the same clock: CPU seconds of this",
        "process (`time.process_time`, all its threads), which other jobs on the CPUs change less, or wall seconds.",
        "Tokens/s are tokens per CPU second.",
        f"Texts: {len(texts)} documents, {megabytes:.1f} MB (PEPs, Tiny Shakespeare in 20 kB pieces, Qwen2.5-Math CoT responses);",
        f"rows of {SEQ_LEN}+1 tokens, 256 rows per shard, zstd; the {rows[0][0]} {rows[0][1]} shards take "
        f"{shard_bytes / 1e6:.2f} MB.", "",
        "| tokenizer | packing | tokens | bare batch encode, tokens/s | ours: encode + pack + write, tokens/s "
        "| ratio, CPU time | ratio, wall time | padding | rows continuing a document |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, method, tokens, (bare_cpu_s, ours_cpu_s), (bare_wall_s, ours_wall_s), packed in rows:
        lines.append(f"| {name} | {method} | {tokens:,} | {tokens / bare_cpu_s / 1e6:.2f} M | {tokens / ours_cpu_s / 1e6:.2f} M "
                     f"| {bare_cpu_s / ours_cpu_s:.2f} | {bare_wall_s / ours_wall_s:.2f} "
                     f"| {packed['padding_fraction']:.2%} | {packed['continued_rows']} |")
    lines += [
        "", "| read | tokens/s (one process, per CPU second) |", "|---|---|",
        f"| Parquet shards → numpy (pyarrow, input_ids only) | {read_tokens / parquet_s / 1e6:.0f} M |",
        f"| flat int32 file → numpy (np.fromfile) | {read_tokens / flat_s / 1e6:.0f} M |", "",
    ]
    write_section(SECTION, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
