"""Read packed Parquet shards of a stage folder as next-token training batches."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from mimo_data.tokenize.shards import ManifestError, read_manifest, shard_paths
from mimo_data.train.mtp import IGNORE_INDEX

logger = logging.getLogger(__name__)

COLUMNS = ["input_ids", "loss_mask", "segment_ids"]


class StageDataError(ValueError):
    """The shards of a stage cannot be read as packed training rows."""


class Batch(NamedTuple):
    input_ids: torch.Tensor  # (B, T-1) int64, row tokens 0 .. T-2
    targets: torch.Tensor  # (B, T-1) int64, row tokens 1 .. T-1; IGNORE_INDEX on padding
    loss_mask: torch.Tensor  # (B, T-1) float32, 1 where the target counts
    segment_ids: torch.Tensor  # (B, T-1) int64, segment of each input token, 0 on padding


def load_stage_rows(stage_dir: str | os.PathLike, seq_len: int | None = None) -> dict[str, np.ndarray]:
    """Load every packed row of a stage as (rows, T) arrays, cropped to ``seq_len`` when given.

    The whole stage is held in memory, which suits the small stages this trainer is for.
    """
    arrays: dict[str, list[np.ndarray]] = {name: [] for name in COLUMNS}
    for path in shard_paths(stage_dir):
        table = pq.read_table(path, columns=COLUMNS)
        for name in COLUMNS:
            arrays[name].append(_fixed_rows(table, name, path))

    rows = {name: np.concatenate(parts) for name, parts in arrays.items()}
    row_len = rows["input_ids"].shape[1]
    if seq_len is not None:
        if not 2 <= seq_len <= row_len:
            raise StageDataError(f"seq_len {seq_len} must be between 2 and the stored row length {row_len}")
        if seq_len < row_len:
            logger.warning("training on the first %d of each row's %d tokens; the other %d are not trained on "
                           "(set seq_len to %d to use whole rows)", seq_len, row_len, row_len - seq_len, row_len)
        rows = {name: values[:, :seq_len] for name, values in rows.items()}
    return rows


def _fixed_rows(table: pa.Table, name: str, path: Path) -> np.ndarray:
    column = table.column(name).combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) == 0:
        raise StageDataError(f"{path} has no rows")
    if (lengths != lengths[0]).any():
        raise StageDataError(f"{path}: column {name} has rows of lengths {sorted(set(lengths.tolist()))}, expected one")
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(lengths), int(lengths[0]))


def stage_vocab_size(stage_dir: str | os.PathLike, rows: dict[str, np.ndarray]) -> int:
    """Return the vocabulary size from the stage manifest, or max token id + 1 without one."""
    try:
        manifest = read_manifest(stage_dir)
    except ManifestError:
        manifest = None
    if manifest is not None:
        vocab_size = manifest.get("tokenizer", {}).get("vocab_size")
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise StageDataError(f"manifest in {stage_dir} has tokenizer.vocab_size {vocab_size!r}, expected a positive int")
        return vocab_size

    vocab_size = int(rows["input_ids"].max()) + 1
    logger.warning("no manifest in %s; using max token id + 1 = %d as vocab size", stage_dir, vocab_size)
    return vocab_size


def make_batch(input_ids: np.ndarray, loss_mask: np.ndarray, segment_ids: np.ndarray) -> Batch:
    """Shift (B, T) rows into next-token inputs and targets with padding ignored."""
    ids = torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64))
    mask = torch.from_numpy(np.ascontiguousarray(loss_mask, dtype=np.float32))
    segments = torch.from_numpy(np.ascontiguousarray(segment_ids, dtype=np.int64))

    targets = ids[:, 1:].clone()
    target_mask = mask[:, 1:]
    targets[target_mask == 0] = IGNORE_INDEX
    return Batch(ids[:, :-1], targets, target_mask, segments[:, :-1])


class StageReader:
    """Deterministic, resumable batches of one stage's rows, reshuffled every epoch.

    The order of epoch e is a permutation drawn from ``(seed, e)``, so the position in the
    data is just ``(epoch, cursor)`` and a checkpoint restores it without any RNG state.
    Each epoch skips its last partial batch.
    """

    def __init__(self, rows: dict[str, np.ndarray], *, batch_size: int, seed: int = 0, device: str = "cpu"):
        self.rows = rows
        self.n_rows = len(rows["input_ids"])
        if self.n_rows < batch_size:
            raise StageDataError(f"stage has {self.n_rows} rows, fewer than batch_size {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.epoch = 0
        self.cursor = 0  # rows of the current epoch's order already served
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.n_rows)

    def next_batch(self) -> Batch:
        if self.cursor + self.batch_size > self.n_rows:
            self.epoch += 1
            self.cursor = 0
            self._order = self._epoch_order(self.epoch)
        index = self._order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size

        batch = make_batch(self.rows["input_ids"][index], self.rows["loss_mask"][index], self.rows["segment_ids"][index])
        return Batch(*(tensor.to(self.device) for tensor in batch))

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "n_rows": self.n_rows}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore a position saved by ``state_dict``; the rows and seed must be the ones it was saved with."""
        if state["seed"] != self.seed or state["n_rows"] != self.n_rows:
            raise StageDataError(
                f"saved data position is for seed {state['seed']} over {state['n_rows']} rows, "
                f"but this stage has seed {self.seed} over {self.n_rows} rows; resume with the same shards and seed"
            )
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self._order = self._epoch_order(self.epoch)
