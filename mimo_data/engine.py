"""Build the Ray Data plan of a pipeline and run it: documents → stage shards.

The flow: read → extract → language → heuristics → quality → exact, URL and
MinHash dedup across all sources → tokenize → per stage: mixture plan, ordering,
packing and Parquet shards with a manifest. Per-document steps are Ray Data
``map_batches`` calls on Arrow batches. Global decisions (duplicates, the mixture)
are made on the driver from compact keys (ids, hashes, signatures, token counts),
never from the texts.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
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
from mimo_data.steps import INPUT_FILE_SCHEMA, UNIT_SCHEMA, TokenizeStep
from mimo_data.units import (
    UNITS_DIR_NAME, WORK_DIR_NAME, commit_units, load_units, prepare_units_dir, remove_other_units, remove_temp_files,
    scan_units, steps_fingerprint, unit_path, unit_steps,
)

logger = logging.getLogger(__name__)

# Ray 2.60 warns on every map_batches call that sets max_retries, because it routes it through
# ray_remote_args; the setting still takes effect (tests/test_worker_kill.py checks it).
warnings.filterwarnings("ignore", message=r"`ray_remote_args` is deprecated")

# Steps in the order they run; the accounting lists them in this order.
STEP_ORDER = ("read", "extract", "language", "heuristics", "quality", "domain", "dedup_exact", "dedup_url", "dedup_minhash", "decontam", "tokenize")

# Blocks of the input file and unit lists; more files or units than this share blocks.
MAX_READ_BLOCKS = 512

# Folder under OUTPUT/_work where each stage is written before it is renamed into place.
STAGING_DIR_NAME = "stages"

# Columns left out of the kept documents written under documents/: bulky or meaningless once kept.
DOCUMENT_COLUMNS_SKIPPED = {"content", "token_ids", "drop_reason", "drop_step"}

# Columns kept on the driver for accounting and the mixture: no text, no token ids.
LEDGER_COLUMNS = ["id", "source", "domain", "format", "path", "url", "lang", "quality", "token_count", "drop_step", "drop_reason"]


@dataclass
class BuildResult:
    """The outputs of a build: per-step accounting, one manifest per stage, and the units reused and computed."""

    output_dir: Path
    accounting: list[dict]
    manifests: dict[str, dict] = field(default_factory=dict)
    units_reused: int = 0  # units whose committed documents an earlier run wrote
    units_computed: int = 0  # units read, extracted and annotated by this run


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
    if not logger.isEnabledFor(logging.INFO):
        # Ray Data logs every operator at INFO and draws progress bars; show them only with --verbose.
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)

    output_dir = Path(output or config.resolve(config.output)).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    work_dir = output_dir / WORK_DIR_NAME

    # 1. Per-document steps, committed unit by unit, then global dedup, then tokenization.
    documents, units_reused, units_computed = _annotated_documents(config, work_dir)
    documents = _deduplicate(documents, config, output_dir)
    documents, decontamination = decontaminate(documents, config)
    documents = documents.map_batches(
        TokenizeStep, fn_constructor_kwargs={"tokenizer": config.tokenizer}, batch_format="pyarrow",
        batch_size=64, compute=_actor_pool(config), **_actor_retries(config),
    ).materialize()

    # 2. Accounting over every document ever read. Every stage is planned before anything
    # is written, so an infeasible stage leaves no partial output.
    ledger = _collect(documents, LEDGER_COLUMNS)
    accounting = step_accounting(ledger, STEP_ORDER)
    candidates = _candidates(ledger)
    plans = {stage.name: plan_stage(candidates, stage, seed=config.seed) for stage in config.stages}
    if config.write_dropped:
        _write_dropped(ledger, output_dir / "dropped")
    if config.write_documents:
        _write_documents(documents, output_dir / "documents")

    # 3. One mixture, ordering, packing and set of shards per stage, each written to a
    # staging folder and renamed into place, so a stage folder is never half written.
    result = BuildResult(output_dir=output_dir, accounting=accounting, units_reused=units_reused,
                         units_computed=units_computed)
    staging_dir = work_dir / STAGING_DIR_NAME
    for stage in config.stages:
        plan = plans[stage.name]
        shutil.rmtree(staging_dir / stage.name, ignore_errors=True)  # a killed run may have left part of it
        result.manifests[stage.name] = _write_stage(
            documents, stage, plan, config, staging_dir, accounting, len(candidates), decontamination=decontamination
        )
        _publish_stage(staging_dir / stage.name, output_dir / stage.name)
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


def _annotated_documents(config: PipelineConfig, work_dir: Path):
    """Read, extract and annotate every document; filters mark drops, nothing is removed.

    Returns the documents in input order, and how many units were reused and computed.
    The work is done and committed unit by unit (see ``mimo_data.units``), so a rerun
    after a crash computes only the units that no earlier run committed.
    """
    steps = unit_steps(config)
    fingerprint = steps_fingerprint(steps)
    units_dir = work_dir / UNITS_DIR_NAME
    prepare_units_dir(units_dir, resume=config.resume)

    # 1. Cut the input files into units, and find the ones an earlier run committed.
    units = _units(config, fingerprint)
    keys = units.column("key").to_pylist()
    committed = [unit_path(units_dir, key).exists() for key in keys]
    todo = units.filter(pa.array([not done for done in committed]))
    logger.info("units: %d of %d committed by an earlier run, %d to compute", sum(committed), len(keys), todo.num_rows)

    # 2. Compute the rest, one task per unit, retried when its worker dies.
    # NOTE: Ray 2.60 takes max_retries only through ray_remote_args, which it plans to remove in 2.64.
    computed = 0
    if todo.num_rows:
        commits = _blocks(todo).map_batches(
            commit_units, fn_kwargs={"units_dir": str(units_dir), "steps": steps, "fingerprint": fingerprint},
            batch_format="pyarrow", batch_size=1, max_retries=config.ray.task_retries,
        )
        computed = sum(table.column("computed").to_pylist().count(True) for table in _tables(commits))
    reused = len(keys) - computed
    removed = remove_other_units(units_dir, set(keys))
    # A unit task killed while writing leaves its temporary file behind, and its retry rewrote the unit.
    abandoned = remove_temp_files(units_dir)
    if abandoned:
        logger.info("units: removed %d temporary files of unit tasks killed while writing", abandoned)
    logger.info("units: %d reused, %d computed, %d stale unit files removed", reused, computed, removed)

    # 3. Every document comes from the committed files, so a resumed build reads the same bytes.
    documents = _blocks(units.select(["key"])).map_batches(
        load_units, fn_kwargs={"units_dir": str(units_dir)}, batch_format="pyarrow", batch_size=1,
        max_retries=config.ray.task_retries,
    )
    return documents.materialize(), reused, computed


def _units(config: PipelineConfig, fingerprint: str) -> pa.Table:
    """Cut every input file into units, scanning the files in parallel; units keep the input order."""
    units = _blocks(_input_files(config)).map_batches(
        scan_units, fn_kwargs={"unit_records": config.ray.unit_records, "fingerprint": fingerprint},
        batch_format="pyarrow", batch_size=1, max_retries=config.ray.task_retries,
    )
    tables = _tables(units)
    return pa.concat_tables(tables) if tables else UNIT_SCHEMA.empty_table()


def _tables(dataset) -> list[pa.Table]:
    """Run ``dataset`` and bring its blocks, which must be small, to the driver in order."""
    import ray

    return ray.get(dataset.to_arrow_refs())


def _blocks(table: pa.Table):
    """Return ``table`` as a dataset of one block per row, up to ``MAX_READ_BLOCKS`` blocks."""
    import ray.data

    return ray.data.from_arrow(table).repartition(max(1, min(table.num_rows, MAX_READ_BLOCKS)))


def _actor_retries(config: PipelineConfig) -> dict:
    """Ray options of an actor step: restart a dead actor and retry its tasks, ``ray.task_retries`` times."""
    return {"max_restarts": config.ray.task_retries, "max_task_retries": config.ray.task_retries}


def _publish_stage(staged: Path, stage_dir: Path) -> None:
    """Replace ``stage_dir`` with the fully written ``staged`` folder."""
    old = staged.with_name(f"{staged.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if stage_dir.exists():
        os.replace(stage_dir, old)
    os.replace(staged, stage_dir)
    if old.exists():
        shutil.rmtree(old)


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
    method = stage.packing or config.packing
    writer = ShardWriter(stage_dir, rows_per_shard=config.rows_per_shard)
    packer = _GroupPacker(seq_len=row_len, eos_id=tokenizer.eos_id, pad_id=tokenizer.pad_id, method=method,
                          group_tokens=config.rows_per_shard * row_len, writer=writer, copies=plan.copies, crops=plan.crops)
    for batch in ordered.iter_batches(batch_format="pyarrow", batch_size=256):
        packer.add(batch)
    packer.flush()
    shard_paths = writer.close()

    # 3. The manifest proves the budget: planned tokens equal non-padding tokens read back from the shards.
    manifest = _stage_manifest(stage, plan, config, tokenizer, shard_paths, accounting, documents_in, decontamination,
                               packer=packer)
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

    ``method`` is a name of ``PACKING_METHODS``. Greedy packing pads only the last row of
    each group, so padding stays below one row per shard, while best-fit packing may pad
    any row. The copy of a document in ``crops`` that arrives last is cut to the planned
    prefix, and the tokens left out are counted in ``cropped_tokens``.
    """

    def __init__(self, *, seq_len: int, eos_id: int, pad_id: int, method: str, group_tokens: int, writer,
                 copies: dict[str, int], crops: dict[str, int]):
        from mimo_data.tokenize.packing import packing_function

        self.seq_len, self.eos_id, self.pad_id = seq_len, eos_id, pad_id
        self.method = method
        self.pack = packing_function(method)
        self.group_tokens = group_tokens
        self.writer = writer
        self.copies, self.crops = copies, crops
        self.copies_seen: dict[str, int] = {}
        self.token_lists: list = []
        self.doc_ids: list[str] = []
        self.tokens = 0
        self.cropped_tokens = 0

    def add(self, batch: pa.Table) -> None:
        for doc_id, token_ids in zip(batch.column("id").to_pylist(), batch.column("token_ids").to_numpy(zero_copy_only=False)):
            seen = self.copies_seen.get(doc_id, 0) + 1
            self.copies_seen[doc_id] = seen
            if doc_id in self.crops and seen == self.copies[doc_id]:
                self.cropped_tokens += len(token_ids) - self.crops[doc_id]
                token_ids = token_ids[: self.crops[doc_id]]

            self.token_lists.append(token_ids)
            self.doc_ids.append(doc_id)
            self.tokens += len(token_ids) + 1
            if self.tokens >= self.group_tokens:
                self.flush()

    def flush(self) -> None:
        if not self.token_lists:
            return
        packed = self.pack(self.token_lists, self.doc_ids, seq_len=self.seq_len, eos_id=self.eos_id, pad_id=self.pad_id)
        self.writer.write(packed)
        self.token_lists, self.doc_ids, self.tokens = [], [], 0


def _stage_manifest(stage: StageConfig, plan: StagePlan, config: PipelineConfig, tokenizer,
                    shard_paths: list, accounting: list[dict], documents_in: int, decontamination: dict | None = None,
                    *, packer: _GroupPacker) -> dict:
    """Record the stage's targets next to what the shards contain, read back from the shards."""
    shards = []
    tokens_written = 0
    sequences = 0
    continued_rows = 0
    for path in shard_paths:
        columns = pq.read_table(path, columns=["n_tokens", "first_segment_continued"])
        n_tokens = columns.column("n_tokens")
        shards.append({"file": Path(path).name, "sequences": len(n_tokens), "tokens": int(pc.sum(n_tokens).as_py() or 0),
                       "bytes": Path(path).stat().st_size})
        tokens_written += shards[-1]["tokens"]
        sequences += len(n_tokens)
        continued_rows += int(pc.sum(columns.column("first_segment_continued")).as_py() or 0)

    row_len = stage.seq_len + 1
    padding_tokens = sequences * row_len - tokens_written
    padding_fraction = round(padding_tokens / (sequences * row_len), 6) if sequences else 0.0
    tokens_before_crops = tokens_written + packer.cropped_tokens
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
        "padding_fraction": padding_fraction,
        # Measured while packing and from the shards. Packing itself drops no token, so the
        # cropped tokens are the ends of the documents that the plan cut to fill a budget.
        # continued_rows counts rows whose first segment continues the previous row's document.
        "packing": {
            "method": packer.method,
            "padding_tokens": padding_tokens,
            "padding_fraction": padding_fraction,
            "cropped_tokens": packer.cropped_tokens,
            "cropped_fraction": round(packer.cropped_tokens / tokens_before_crops, 6) if tokens_before_crops else 0.0,
            "documents_cropped": len(plan.crops),
            "continued_rows": continued_rows,
        },
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
