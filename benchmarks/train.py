"""Benchmark the bundled training loop: CPU throughput and loss with and without MTP, GPU MFU.

CPU part: the tiny-cpu preset on the demo shards (stage-1 of build/demo/shards), timed
against a peer in the same run. The peer is stock PyTorch ``nn.TransformerEncoder``
(pre-LayerNorm, GELU, causal mask, no document masking) of the same width, depth, heads and
FFN size, trained on the same batches with the same optimiser. It reports tokens/s and the main next-token loss after --steps steps.

GPU part (only when torch finds CUDA; skipped cleanly otherwise): the gpu-0.5b preset in bf16
with torch.compile and FlexAttention at 8,192 tokens per sequence, tokens/s and MFU against
the device's peak, then the largest batch that fits, searched until --time-cap seconds have
passed. Its rows are packed from random-token documents of 204 to 4,095 tokens, because speed
does not depend on the token values and the shared text may not be present on a GPU machine.
With --dry-run the same code runs on the CPU with the tiny-cpu preset at 128 tokens per
sequence (bf16 autocast, torch.compile, fused AdamW, but SDPA in place of FlexAttention) and
prints its section without writing RESULTS.md.

Usage: .venv/bin/python benchmarks/train.py [--part cpu|gpu|all] [--steps 40] [--shards DIR]
       [--time-cap 240] [--dry-run]
Writes the "## Training loop (CPU)" and "## Training loop (GPU)" sections of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimo_data.tokenize import ShardWriter, pack_documents, write_manifest  # noqa: E402
from mimo_data.train.config import PRESETS, load_train_config  # noqa: E402
from mimo_data.train.data import StageReader, load_stage_rows, stage_vocab_size  # noqa: E402
from mimo_data.train.loop import Trainer, learning_rate_at  # noqa: E402
from mimo_data.train.mtp import IGNORE_INDEX  # noqa: E402

CPU_SECTION = "## Training loop (CPU)"
GPU_SECTION = "## Training loop (GPU)"
WARMUP_STEPS = 2  # GPU steps left out of the throughput timing (allocation, compilation)
ROUNDS = 4  # CPU runs alternate in this many chunks of steps
# Input positions per tiny-cpu step: a batch of rows, each one token shorter than stored after the shift.
TOKENS_PER_STEP = PRESETS["tiny-cpu"]["batch_size"] * (PRESETS["tiny-cpu"]["seq_len"] - 1)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def write_section(section: str, text: str) -> None:
    """Replace ``section`` of RESULTS.md, leaving the other sections as they are."""
    results = REPO / "benchmarks" / "RESULTS.md"
    current = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        current = pattern.sub(lambda _: text, current)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    results.write_text(current, "utf-8")


# CPU: ours against stock PyTorch.


class StockDecoder(nn.Module):
    """The peer: torch.nn.TransformerEncoder with a causal mask, as a decoder-only LM."""

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_heads: int, ffn_hidden: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, ffn_hidden, dropout=0.0, activation="gelu", batch_first=True, norm_first=True, bias=False
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, input_ids, targets):
        T = input_ids.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=input_ids.device)
        x = self.encoder(self.embed(input_ids), mask=mask, is_causal=True)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX)


class OursRunner:
    """Steps of our trainer with the tiny-cpu preset."""

    def __init__(self, shards: str, steps: int, mtp_layers: int):
        config = load_train_config("tiny-cpu", {"shards": shards, "steps": steps, "mtp_layers": mtp_layers})
        self.trainer = Trainer(config, log=lambda line: None)
        self.parameters = self.trainer.model.num_parameters()

    def step(self) -> float:
        return self.trainer.train_step()["main"]


class PeerRunner:
    """Steps of the stock PyTorch decoder on the same batches, optimiser and schedule."""

    def __init__(self, shards: str, steps: int):
        self.config = config = load_train_config("tiny-cpu", {"shards": shards, "steps": steps})
        torch.manual_seed(config.seed)
        rows = load_stage_rows(shards, config.seq_len)
        self.model = StockDecoder(stage_vocab_size(shards, rows), config.d_model, config.n_layers, config.n_heads, config.ffn_hidden)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=config.weight_decay
        )
        self.reader = StageReader(rows, batch_size=config.batch_size, seed=config.seed)
        self.parameters = sum(parameter.numel() for parameter in self.model.parameters())
        self.step_index = 0

    def step(self) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(self.step_index, self.config)
        batch = self.reader.next_batch()
        loss = self.model(batch.input_ids, batch.targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.step_index += 1
        return loss.item()


def run_interleaved(runners: dict, steps: int, rounds: int) -> dict:
    """Train every runner ``steps`` steps in ``rounds`` alternating chunks.

    Other jobs share the CPUs, so each runner's tokens/s is its fastest chunk, the one least
    disturbed by them. Alternating spreads any slow spell across the runners.
    """
    chunk = steps // rounds
    results = {name: {"losses": [], "rates": []} for name in runners}
    for round_index in range(rounds):
        for name, runner in runners.items():
            started = time.perf_counter()
            losses = [runner.step() for _ in range(chunk)]
            seconds = time.perf_counter() - started
            results[name]["losses"].extend(losses)
            if round_index > 0:  # the first chunk includes allocation and warm-up
                results[name]["rates"].append(chunk * TOKENS_PER_STEP / seconds)
    return {
        name: {"tokens_per_second": max(result["rates"]), "final_main_loss": float(np.mean(result["losses"][-5:])),
               "parameters": runners[name].parameters}
        for name, result in results.items()
    }


def cpu_part(shards: str, steps: int, command: str) -> str:
    threads = torch.get_num_threads()
    runners = {
        "ours, tiny-cpu with MTP": OursRunner(shards, steps, mtp_layers=1),
        "ours, tiny-cpu without MTP": OursRunner(shards, steps, mtp_layers=0),
        "peer, torch.nn.TransformerEncoder": PeerRunner(shards, steps),
    }
    rows = run_interleaved(runners, steps, ROUNDS)
    lines = [
        CPU_SECTION, "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores visible, {threads} torch threads; torch {torch.__version__}.",
        f"Date: {datetime.date.today().isoformat()}. Command: `{command}`.",
        f"Data: `{shards}` (the demo build), 128-token rows, batch 8, {steps} steps, seed 0.",
        f"The runs alternate in {ROUNDS} chunks of {steps // ROUNDS} steps. Tokens/s counts input positions in the fastest "
        "chunk after the first, because other jobs shared the CPUs.",
        "GPU figures are not in this section: `python benchmarks/train.py --part gpu` on a CUDA machine writes "
        f"the `{GPU_SECTION}` section.", "",
        "| run | parameters | tokens/s | main loss, mean of last 5 steps |",
        "|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['parameters']:,} | {row['tokens_per_second']:,.0f} | {row['final_main_loss']:.3f} |")
    return "\n".join(lines) + "\n"


# GPU: MFU of the 0.5B preset and the largest batch.


@dataclass(frozen=True, kw_only=True)
class GpuPlan:
    """Settings of the GPU part; --dry-run swaps in a CPU plan that runs the same code."""

    preset: str
    seq_len: int  # tokens per packed row
    batch_size: int  # sequences per step for the tokens/s and MFU measurement
    timed_steps: int  # steps timed after WARMUP_STEPS + 1 untimed ones
    search_start: int  # first batch size of the largest-batch search, doubled after each size that fits
    search_limit: int  # largest batch size tried
    overrides: dict = field(default_factory=dict)  # TrainConfig fields set on top of the preset


# On CUDA the preset's defaults already give bf16 autocast, torch.compile, FlexAttention and fused AdamW.
GPU_PLAN = GpuPlan(preset="gpu-0.5b", seq_len=8192, batch_size=4, timed_steps=10, search_start=8, search_limit=64)
# The same steps on a CPU, with every GPU default switched on by hand except FlexAttention.
# torch 2.13 has no FlexAttention backward on CPU, so the dry run trains with SDPA and a dense mask.
DRY_RUN_PLAN = GpuPlan(
    preset="tiny-cpu", seq_len=128, batch_size=2, timed_steps=2, search_start=4, search_limit=16,
    overrides={"device": "cpu", "dtype": "bfloat16", "attention": "sdpa", "fused_adamw": True},
)


def synthetic_stage(stage_dir: Path, seq_len: int, rows: int, seed: int = 0) -> Path:
    """Write a stage of random-token documents of seq_len // 40 to seq_len // 2 - 1 tokens (204 to 4,095 at 8,192)."""
    generator = np.random.default_rng(seed)
    token_lists, total = [], 0
    while total < rows * seq_len:
        length = int(generator.integers(max(seq_len // 40, 1), seq_len // 2))
        token_lists.append(generator.integers(2, 16384, size=length).astype(np.int32))
        total += length + 1
    doc_ids = [f"synthetic-{index}" for index in range(len(token_lists))]
    table = pack_documents(token_lists, doc_ids, seq_len=seq_len, eos_id=0, pad_id=1)
    with ShardWriter(stage_dir, rows_per_shard=64) as writer:
        writer.write(table)
    write_manifest(stage_dir, {"seq_len": seq_len, "tokenizer": {"vocab_size": 16384, "eos_id": 0, "pad_id": 1}})
    return stage_dir


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_gpu(stage_dir: Path, plan: GpuPlan, batch_size: int, steps: int, compile_model: bool = True) -> dict:
    """Time ``steps`` training steps at ``batch_size`` after untimed warm-up steps; return tokens/s, MFU and memory."""
    overrides = {**plan.overrides, "shards": str(stage_dir), "seq_len": plan.seq_len, "batch_size": batch_size,
                 "steps": steps + WARMUP_STEPS + 1, "compile": compile_model}
    config = load_train_config(plan.preset, overrides)
    if config.use_cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(config, log=lambda line: None)
    for _ in range(WARMUP_STEPS + 1):  # the first steps compile the model and the attention kernel
        trainer.train_step()
    synchronize(config.device)

    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    synchronize(config.device)
    tokens_per_second = steps * batch_size * (config.seq_len - 1) / (time.perf_counter() - started)
    memory_gib = torch.cuda.max_memory_allocated() / 2**30 if config.use_cuda else None
    return {"tokens_per_second": tokens_per_second, "mfu": trainer.mfu(tokens_per_second, config.seq_len),
            "parameters": trainer.model.num_parameters(), "memory_gib": memory_gib, "config": config}


def largest_batch(stage_dir: Path, plan: GpuPlan, deadline: float) -> tuple[int, str]:
    """Double the batch from ``plan.search_start`` until a step runs out of memory; return the last that fit and why it stopped.

    The model runs eagerly (FlexAttention still compiled) so each size skips a whole-model
    compilation. Eager activations take at least as much memory, so the result is a lower bound.
    The first trial always runs. A later one is not started when the previous one, doubled,
    would end after ``deadline`` (a time.perf_counter() value), since a trial on twice the
    batch takes about twice as long.
    """
    fits, batch_size, last_trial_seconds = 0, plan.search_start, 0.0
    while batch_size <= plan.search_limit:
        if fits and time.perf_counter() + 2 * last_trial_seconds > deadline:
            return fits, f"time cap reached before batch {batch_size}"
        started = time.perf_counter()
        try:
            measure_gpu(stage_dir, plan, batch_size, steps=1, compile_model=False)
        except torch.OutOfMemoryError:
            return fits, f"batch {batch_size} ran out of memory"
        finally:
            gc.collect()  # frees the trial's trainer before the next, larger one
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        last_trial_seconds = time.perf_counter() - started
        fits, batch_size = batch_size, batch_size * 2
    return fits, f"batch {plan.search_limit}, the largest tried, fit"


def gpu_part(plan: GpuPlan, command: str, time_cap_seconds: float) -> str:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = max(4 * plan.search_limit, 64)  # every trial batch finds enough rows
        stage_dir = synthetic_stage(Path(tmp) / "stage", seq_len=plan.seq_len, rows=rows)
        result = measure_gpu(stage_dir, plan, batch_size=plan.batch_size, steps=plan.timed_steps)
        batch, stop_reason = largest_batch(stage_dir, plan, deadline=started + time_cap_seconds)
    seconds = time.perf_counter() - started

    config = result["config"]
    machine = torch.cuda.get_device_name(0) if config.use_cuda else "CPU (dry run, nothing written)"
    mfu = "n/a (unknown peak)" if result["mfu"] is None else f"{result['mfu']:.1%}"
    memory = "n/a (CPU)" if result["memory_gib"] is None else f"{result['memory_gib']:.1f} GiB"
    compiled = "torch.compile" if config.resolved_compile() else "eager"
    return "\n".join([
        GPU_SECTION, "",
        f"Machine: {machine}; host {cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__}.",
        f"Date: {datetime.date.today().isoformat()}. Command: `{command}`. The part took {seconds:.0f} s.",
        f"Preset {plan.preset}, {config.resolved_dtype()} autocast, {compiled}, {config.resolved_attention()} attention "
        f"with document masking, {plan.seq_len:,}-token rows of random-token documents.", "",
        "| measure | value |", "|---|---|",
        f"| parameters | {result['parameters']:,} |",
        f"| tokens/s, batch {plan.batch_size} | {result['tokens_per_second']:,.0f} |",
        f"| MFU (6N + 12 L H D T against dense BF16 peak) | {mfu} |",
        f"| peak memory, batch {plan.batch_size} | {memory} |",
        f"| largest batch that fits, eager model (powers of two from {plan.search_start}, at most "
        f"{plan.search_limit}; 0: none of them) | {batch} ({stop_reason}) |",
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("cpu", "gpu", "all"), default="all", help="which measurements to run")
    parser.add_argument("--steps", type=int, default=40, help="training steps per CPU run; GPU runs time 10 steps")
    parser.add_argument("--shards", default="build/demo/shards/stage-1", help="demo stage folder, relative to the repository")
    parser.add_argument("--time-cap", type=float, default=240.0,
                        help="seconds after which the GPU part starts no more largest-batch trials (default 240)")
    parser.add_argument("--dry-run", action="store_true",
                        help="run the GPU part's code on the CPU with the tiny-cpu preset at 128 tokens "
                             "and print its section without writing RESULTS.md")
    args = parser.parse_args()
    os.chdir(REPO)
    command = "python benchmarks/train.py " + " ".join(sys.argv[1:])

    if args.part in ("cpu", "all") and not args.dry_run:
        if not Path(args.shards).is_dir():
            sys.exit(f"no demo shards at {args.shards}; run `make demo` first or pass --shards")
        section = cpu_part(args.shards, args.steps, command.strip())
        write_section(CPU_SECTION, section)
        print(section)
    if args.part in ("gpu", "all"):
        if args.dry_run:
            print(gpu_part(DRY_RUN_PLAN, command.strip(), args.time_cap))
            return
        if not torch.cuda.is_available():
            print("torch finds no CUDA device: GPU part skipped (--dry-run runs its code on the CPU)")
            return
        section = gpu_part(GPU_PLAN, command.strip(), args.time_cap)
        write_section(GPU_SECTION, section)
        print(section)


if __name__ == "__main__":
    main()
