"""Build the Ray Data plan of a pipeline and run it: documents → stage shards.

The flow: read → extract → language → heuristics → quality → exact, URL and
MinHash dedup across all sources → tokenize → per stage: mixture plan, ordering,
packing and Parquet shards with a manifest. Per-document steps are Ray Data
``map_batches`` calls on Arrow batches. Global decisions (duplicates, the mixture)
are made on the driver from compact keys (ids, hashes, signatures, token counts),
never from the texts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from mimo_data import __version__
from mimo_data.accounting import step_accounting
from mimo_data.config import PipelineConfig, StageConfig
from mimo_data.decontam import decontaminate
from mimo_data.mixture.plan import Candidate, StagePlan, plan_stage
from mimo_data.steps import INPUT_FILE_SCHEMA, AnnotateStep, TokenizeStep, extract_text, read_files

logger = logging.getLogger(__name__)

# Steps in the order they run; the accounting lists them in this order.
STEP_ORDER = ("read", "extract", "language", "heuristics", "quality", "dedup_exact", "dedup_url", "dedup_minhash", "decontam", "tokenize")

# Blocks of the input file list; more files than this share blocks.
MAX_READ_BLOCKS = 512

# Columns left out of the kept documents written under documents/: bulky or meaningless once kept.
DOCUMENT_COLUMNS_SKIPPED = {"content", "token_ids", "drop_reason", "drop_step"}

# Columns kept on the driver for accounting and the mixture: no text, no token ids.
LEDGER_COLUMNS = ["id", "source", "domain", "format", "path", "url", "lang", "quality", "token_count", "drop_step", "drop_reason"]


@dataclass
class BuildResult:
    """The outputs of a build: per-step accounting and one manifest per stage."""

    output_dir: Path
    accounting: list[dict]
    manifests: dict[str, dict] = field(default_factory=dict)


def init_ray(address: str | None, num_cpus: int | None) -> None:
    """Join the cluster at ``address`` (or RAY_ADDRESS), or start an embedded local Ray."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(address=address, log_to_driver=False)
    else:
        logger.info("starting an embedded local Ray (num_cpus=%s)", num_cpus)
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


def build(config: PipelineConfig, *, output: str | None = None, address: str | None = None) -> BuildResult:
    """Run the whole pipeline and write the stage shards under the output folder."""
    import ray.data

    init_ray(address or config.ray.address, config.ray.num_cpus)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # reruns give byte-identical shards

    output_dir = Path(output or config.resolve(config.output)).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)

    # 1. Per-document steps, then global dedup, then tokenization.
    documents = _annotated_documents(config)
    documents = _deduplicate(documents, config, output_dir)
    documents, decontamination = decontaminate(documents, config)
    documents = documents.map_batches(
        TokenizeStep, fn_constructor_kwargs={"tokenizer": config.tokenizer}, batch_format="pyarrow",
        batch_size=64, compute=_actor_pool(config),
    ).materialize()

    # 2. Accounting over every document ever read.
    ledger = _collect(documents, LEDGER_COLUMNS)
    accounting = step_accounting(ledger, STEP_ORDER)
    if config.write_dropped:
        _write_dropped(ledger, output_dir / "dropped")
    if config.write_documents:
        _write_documents(documents, output_dir / "documents")

    # 3. One mixture, ordering, packing and set of shards per stage.
    result = BuildResult(output_dir=output_dir, accounting=accounting)
    candidates = _candidates(ledger)
    for stage in config.stages:
        plan = plan_stage(candidates, stage, seed=config.seed)
        result.manifests[stage.name] = _write_stage(
            documents, stage, plan, config, output_dir, accounting, len(candidates), decontamination=decontamination
        )
    return result


def _input_files(config: PipelineConfig) -> pa.Table:
    """List every input file of every source; a source that matches nothing fails the build."""
    from mimo_data.io import list_inputs

    rows = []
    for source in config.sources:
        for path in list_inputs(source.format, config.resolve(source.path)):
            rows.append(
                {"path": path, "format": source.format, "source": source.name, "domain": source.domain,
                 "text_column": source.text_column, "url_column": source.url_column}
            )
    logger.info("reading %d input files from %d sources", len(rows), len(config.sources))
    return pa.Table.from_pylist(rows, schema=INPUT_FILE_SCHEMA)


def _annotated_documents(config: PipelineConfig):
    """Read, extract and annotate every document; filters mark drops, nothing is removed."""
    import ray.data

    steps = config.steps
    input_files = _input_files(config)
    # One block per file (up to a cap) so that files are read and extracted in parallel.
    files = ray.data.from_arrow(input_files).repartition(max(1, min(input_files.num_rows, MAX_READ_BLOCKS)))
    documents = files.map_batches(read_files, batch_format="pyarrow", batch_size=1)
    documents = documents.map_batches(extract_text, batch_format="pyarrow", batch_size=8)
    documents = documents.drop_columns(["content"])
    documents = documents.map_batches(
        AnnotateStep,
        fn_constructor_kwargs={
            "language": dataclasses.asdict(steps.language),
            "heuristics": dataclasses.asdict(steps.heuristics),
            "quality": dataclasses.asdict(steps.quality),
            "domain": dataclasses.asdict(steps.domain),
        },
        batch_format="pyarrow", batch_size=64, compute=_actor_pool(config),
    )
    return documents.materialize()


def _actor_pool(config: PipelineConfig):
    """Actors for a step that loads a model: one per worker, at most ``ray.max_actors_per_step``."""
    from ray.data import ActorPoolStrategy

    return ActorPoolStrategy(min_size=1, max_size=config.ray.max_actors_per_step)


def _deduplicate(documents, config: PipelineConfig, output_dir: Path):
    """Exact, URL and MinHash dedup across all sources; only keys and signatures are shuffled."""
    from mimo_data.dedup import deduplicate

    dedup = config.steps.dedup
    explain_dir = output_dir / "dedup-explain" if dedup.explain_clusters else None
    return deduplicate(
        documents, dedup, seed=config.seed + 1, max_actors=config.ray.max_actors_per_step, explain_dir=explain_dir
    )


def _collect(documents, columns: list[str]) -> pa.Table:
    """Bring a few columns of a materialized dataset to the driver as one table."""
    import ray

    tables = [table for table in ray.get(documents.select_columns(columns).to_arrow_refs()) if table.num_rows]
    if not tables:
        return documents.select_columns(columns).schema().base_schema.empty_table()
    return pa.concat_tables(tables, promote_options="permissive")


def _candidates(ledger: pa.Table) -> list[Candidate]:
    kept = ledger.filter(pc.is_null(ledger.column("drop_reason")))
    return [
        Candidate(id=row["id"], source=row["source"], domain=row["domain"], quality=row["quality"] or 0.0, token_count=row["token_count"] or 0)
        for row in kept.select(["id", "source", "domain", "quality", "token_count"]).to_pylist()
    ]


def _write_dropped(ledger: pa.Table, folder: Path) -> None:
    dropped = ledger.filter(pc.is_valid(ledger.column("drop_reason")))
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["id", "source", "format", "path", "url", "drop_step", "drop_reason"]
    pq.write_table(dropped.select(columns), folder / "part-00000.parquet", compression="zstd")


def _write_documents(documents, folder: Path) -> None:
    """Write the kept documents with their text and attributes, in a stable order, for inspection."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    columns = [name for name in documents.columns() if name not in DOCUMENT_COLUMNS_SKIPPED]
    writer = None
    for batch in documents.select_columns(columns + ["drop_reason"]).iter_batches(batch_format="pyarrow", batch_size=1024):
        kept = batch.filter(pc.is_null(batch.column("drop_reason"))).select(columns)
        if writer is None:
            writer = pq.ParquetWriter(folder / "part-00000.parquet", kept.schema, compression="zstd")
        writer.write_table(kept.cast(writer.schema))
    if writer is not None:
        writer.close()


def _write_stage(documents, stage: StageConfig, plan: StagePlan, config: PipelineConfig,
                 output_dir: Path, accounting: list[dict], documents_in: int, *, decontamination: dict | None = None) -> dict:
    """Order the stage's document copies, pack them into sequences and write shards + manifest."""
    from mimo_data.tokenize import ShardWriter, load_tokenizer, write_manifest

    tokenizer = load_tokenizer(config.tokenizer)
    stage_dir = output_dir / stage.name
    _clear_stage_dir(stage_dir)
    logger.info("stage %s: %d documents selected, %d tokens planned", stage.name, len(plan.copies), plan.tokens_planned)

    # 1. Expand copies and give each copy a seeded sort key, so the order is shuffled but reproducible.
    ordered = documents.map_batches(
        _expand_copies, fn_kwargs={"copies": plan.copies, "stage": stage.name, "seed": config.seed}, batch_format="pyarrow"
    ).sort("mix_key")

    # 2. Pack groups of about one shard of tokens each and write them in order. A row has
    # seq_len + 1 tokens, so shifting it by one gives seq_len inputs and seq_len targets.
    row_len = stage.seq_len + 1
    writer = ShardWriter(stage_dir, rows_per_shard=config.rows_per_shard)
    packer = _GroupPacker(seq_len=row_len, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id,
                          group_tokens=config.rows_per_shard * row_len, writer=writer)
    for batch in ordered.iter_batches(batch_format="pyarrow", batch_size=256):
        packer.add(batch)
    packer.flush()
    shard_paths = writer.close()

    # 3. The manifest proves the budget: planned tokens equal non-padding tokens read back from the shards.
    manifest = _stage_manifest(stage, plan, config, tokenizer, shard_paths, accounting, documents_in, decontamination)
    write_manifest(stage_dir, manifest)
    return manifest


def _clear_stage_dir(stage_dir: Path) -> None:
    """Remove shards of an earlier run so a smaller rerun leaves no stale files."""
    if stage_dir.exists():
        for old in stage_dir.glob("part-*.parquet"):
            old.unlink()
    stage_dir.mkdir(parents=True, exist_ok=True)


def _expand_copies(table: pa.Table, *, copies: dict[str, int], stage: str, seed: int) -> pa.Table:
    """Keep the selected documents, one row per copy, with a ``mix_key`` to order them by."""
    ids = table.column("id").to_pylist()
    take: list[int] = []
    keys: list[int] = []
    for row, doc_id in enumerate(ids):
        for copy in range(copies.get(doc_id, 0)):
            take.append(row)
            keys.append(xxhash.xxh64_intdigest(f"{seed}\x00{stage}\x00{doc_id}\x00{copy}".encode()))
    selected = table.select(["id", "token_ids"]).take(pa.array(take, pa.int64()))
    return selected.append_column("mix_key", pa.array(keys, pa.uint64()))


class _GroupPacker:
    """Packs document copies in arrival order, one group of about ``group_tokens`` tokens at a time.

    Only the last sequence of each group is padded, so padding stays below one
    sequence per shard.
    """

    def __init__(self, *, seq_len: int, eos_id: int, pad_id: int, group_tokens: int, writer):
        self.seq_len, self.eos_id, self.pad_id = seq_len, eos_id, pad_id
        self.group_tokens = group_tokens
        self.writer = writer
        self.token_lists: list = []
        self.doc_ids: list[str] = []
        self.tokens = 0

    def add(self, batch: pa.Table) -> None:
        for doc_id, token_ids in zip(batch.column("id").to_pylist(), batch.column("token_ids").to_numpy(zero_copy_only=False)):
            self.token_lists.append(token_ids)
            self.doc_ids.append(doc_id)
            self.tokens += len(token_ids) + 1
            if self.tokens >= self.group_tokens:
                self.flush()

    def flush(self) -> None:
        from mimo_data.tokenize import pack_documents

        if not self.token_lists:
            return
        packed = pack_documents(self.token_lists, self.doc_ids, seq_len=self.seq_len, eos_id=self.eos_id, pad_id=self.pad_id)
        self.writer.write(packed)
        self.token_lists, self.doc_ids, self.tokens = [], [], 0


def _stage_manifest(stage: StageConfig, plan: StagePlan, config: PipelineConfig, tokenizer,
                    shard_paths: list, accounting: list[dict], documents_in: int, decontamination: dict | None = None) -> dict:
    """Record the stage's targets next to what the shards contain, read back from the shards."""
    shards = []
    tokens_written = 0
    sequences = 0
    for path in shard_paths:
        n_tokens = pq.read_table(path, columns=["n_tokens"]).column("n_tokens")
        shards.append({"file": Path(path).name, "sequences": len(n_tokens), "tokens": int(pc.sum(n_tokens).as_py() or 0),
                       "bytes": Path(path).stat().st_size})
        tokens_written += shards[-1]["tokens"]
        sequences += len(n_tokens)

    row_len = stage.seq_len + 1
    padding_tokens = sequences * row_len - tokens_written
    return {
        "pipeline": config.name,
        "stage": stage.name,
        "created_by": f"mimo-data {__version__}",
        "seed": config.seed,
        "seq_len": stage.seq_len,
        "row_len": row_len,
        "tokenizer": tokenizer.manifest_entry(),
        "tokens_target": stage.tokens_target,
        "tokens_planned": plan.tokens_planned,
        "tokens_written": tokens_written,
        "sequences": sequences,
        "padding_tokens": padding_tokens,
        "padding_fraction": round(padding_tokens / (sequences * row_len), 6) if sequences else 0.0,
        # Greedy packing splits a document across rows instead of cutting it, so no token is dropped.
        "packing": {"method": "greedy, documents split across rows", "cropped_tokens": 0, "cropped_fraction": 0.0},
        "exclude_sources": stage.exclude_sources,
        "max_epochs": stage.max_epochs,
        "domains": plan.domains,
        "sources": plan.sources,
        "selection": {"documents_in": documents_in, "selected": len(plan.copies), "not_selected": plan.not_selected,
                      "copies": sum(plan.copies.values()),
                      "documents_repeated": sum(1 for count in plan.copies.values() if count > 1)},
        "accounting": accounting,
        "decontamination": decontamination,  # None when the pipeline lists no benchmarks
        "shards": shards,
    }
