"""Pipeline YAML → typed, validated dataclasses.

Every error names the full field path (``stages[1].weights.math``), the value found
and what is allowed, and is raised before any work starts.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SOURCE_FORMATS = ("warc", "html", "pdf", "jsonl", "parquet")

# Stage weights may be off by this much from 1.0 before we call them a mistake.
WEIGHT_SUM_TOLERANCE = 0.01


class ConfigError(ValueError):
    """An invalid pipeline file: names the field path, the value found and what is allowed."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(kw_only=True)
class SourceConfig:
    """One input of the pipeline."""

    name: str  # unique name used in ids, manifests and mixture weights
    format: str  # one of SOURCE_FORMATS
    path: str  # file, folder or glob; relative paths are relative to the YAML file
    domain: str = "web"  # mixture domain, e.g. web, math, code, synthetic
    text_column: str = "text"  # jsonl/parquet only: field holding the document text
    url_column: str | None = "url"  # jsonl/parquet only: field holding the URL, if any


@dataclass(kw_only=True)
class ExtractStepConfig:
    """Per-document limits of HTML and PDF extraction; a document over a limit is dropped with a reason."""

    # A 20 MB page of short paragraphs took 18 s and 0.9 GB to extract (one run on a shared
    # 2-core machine). lxml parsing cannot be interrupted, so only this size limit bounds it.
    html_max_bytes: int = 20_000_000  # raw bytes of a page (after gunzip); larger pages are dropped "too_large"
    pdf_max_bytes: int = 100_000_000  # raw bytes of a PDF; larger files are dropped "too_large"
    html_timeout_seconds: float = 60.0  # wall time per page; slower pages are dropped "extract_timeout"
    pdf_timeout_seconds: float = 120.0  # wall time per PDF; "pdf_timeout" between pages, "extract_timeout" otherwise
    pdf_max_pages: int = 2000  # PDFs with more pages are dropped "pdf_too_many_pages"


@dataclass(kw_only=True)
class LanguageStepConfig:
    """Language identification with fastText lid.176, and which languages to keep."""

    keep: list[str] = field(default_factory=lambda: ["en", "zh"])  # empty list keeps every language
    min_score: float = 0.3  # fastText probability below which a document counts as "und"


@dataclass(kw_only=True)
class HeuristicStepConfig:
    """Heuristic filter thresholds. Prose rules look only at text outside code fences and math."""

    min_words: int = 50  # words in the whole document (each CJK character counts as a word)
    min_prose_words: int = 20  # below this many prose words the prose rules are skipped
    max_dup_line_frac: float = 0.3  # fraction of characters in repeated lines
    max_top_2gram_frac: float = 0.2  # fraction of prose words covered by the most frequent word 2-gram
    max_symbol_ratio: float = 0.1  # symbol characters per non-space prose character
    min_alpha_ratio: float = 0.8  # fraction of prose words that contain a letter
    max_short_line_frac: float | None = None  # fraction of prose lines of <= 30 characters; None disables
    max_boilerplate_line_frac: float | None = 0.5  # fraction of prose lines with a boilerplate phrase (cookie, sign up, ...)
    max_dup_5gram_frac: float | None = None  # fraction of prose characters in repeated word 5-grams (Gopher: 0.15)


@dataclass(kw_only=True)
class QualityStepConfig:
    """Quality scoring; documents below ``min_score`` are dropped (0 keeps all)."""

    model_path: str | None = None  # a fastText quality model, or "default" for the toolkit's; None uses the heuristic score
    min_score: float = 0.0


@dataclass(kw_only=True)
class DomainStepConfig:
    """Domain tags (domain_tag column) and reasoning density; the source's `domain` is not changed."""

    model_path: str | None = None  # fastText domain model from `mimo-data domain train`; None uses rules only
    min_rule_score: float = 1.0  # rule score at or above which the rule tag is used without the model
    min_model_prob: float = 0.5  # model probability at or above which the model's tag is used
    drop_tags: list[str] = field(default_factory=list)  # documents with these tags are dropped, e.g. [ads, jobs]
    min_reasoning_density: float = 0.0  # formulas + code lines + derivation steps per 1,000 words; lower is dropped


@dataclass(kw_only=True)
class BenchmarkConfig:
    """A benchmark file (JSON Lines, optionally .gz) to decontaminate against."""

    name: str  # name used in the manifest report
    path: str  # relative paths are relative to the YAML file
    text_fields: list[str] = field(default_factory=list)  # empty: the first of question, problem, prompt, text
    id_field: str | None = None  # None: the first of task_id, unique_id, id, idx, else the line number


@dataclass(kw_only=True)
class DecontamStepConfig:
    """Drop documents that share word n-grams with benchmark items; no benchmarks turns it off."""

    benchmarks: list[BenchmarkConfig] = field(default_factory=list)
    n: int = 13  # words per n-gram (CJK: characters)
    min_item_tokens: int = 8  # items with fewer tokens are ignored
    min_matched_ngrams: int = 1  # distinct shared n-grams with one item that make a document contaminated
    action: str = "drop"  # drop, or tag (only record the matches and report them)


@dataclass(kw_only=True)
class DedupStepConfig:
    """Global deduplication across all sources."""

    exact: bool = True  # drop documents whose normalised text hash repeats
    url: bool = True  # drop documents whose normalised URL repeats
    minhash: bool = True  # drop near-duplicates found with MinHash LSH
    num_perm: int = 128  # MinHash permutations per signature
    shingle_words: int = 5  # words per shingle
    shingle_chars: int = 5  # characters per shingle for CJK text
    threshold: float = 0.8  # estimated Jaccard similarity at or above which documents are duplicates
    shingle_unit: str = "auto"  # auto (characters for CJK text, words otherwise), word or char
    bands: int | None = None  # LSH bands (rows = num_perm // bands); None derives them from threshold
    verify: bool = False  # also require true Jaccard similarity of shingles >= threshold for each candidate pair
    explain_clusters: int = 0  # near-duplicate clusters written to OUTPUT/dedup-explain/ (0 writes none)


@dataclass(kw_only=True)
class StepsConfig:
    extract: ExtractStepConfig = field(default_factory=ExtractStepConfig)
    language: LanguageStepConfig = field(default_factory=LanguageStepConfig)
    heuristics: HeuristicStepConfig = field(default_factory=HeuristicStepConfig)
    quality: QualityStepConfig = field(default_factory=QualityStepConfig)
    domain: DomainStepConfig = field(default_factory=DomainStepConfig)
    decontam: DecontamStepConfig = field(default_factory=DecontamStepConfig)
    dedup: DedupStepConfig = field(default_factory=DedupStepConfig)


@dataclass(kw_only=True)
class StageConfig:
    """One stage of the pretraining mixture."""

    name: str  # folder name of the stage's shards, e.g. stage-1
    seq_len: int  # tokens per packed sequence
    tokens_target: int  # total tokens the stage should contain
    weights: dict[str, float]  # share of tokens_target per domain; must sum to 1
    exclude_sources: list[str] = field(default_factory=list)  # source names left out of this stage
    max_epochs: float = 4.0  # a source is repeated at most this many times to reach its budget
    min_quality: float = 0.0  # documents with a lower quality score are not eligible
    source_weights: dict[str, float] = field(default_factory=dict)  # share of tokens_target for a source, taken from its domain's weight
    source_max_epochs: dict[str, float] = field(default_factory=dict)  # max_epochs for one source, overriding max_epochs
    domain_min_quality: dict[str, float] = field(default_factory=dict)  # min_quality for one domain (the higher floor applies)
    packing: str | None = None  # packing method of this stage's rows (greedy or best_fit); None uses the pipeline's


@dataclass(kw_only=True)
class RayConfig:
    num_cpus: int | None = None  # CPUs of the embedded local Ray; None lets Ray use all of them
    address: str | None = None  # an existing cluster; --address and RAY_ADDRESS override it
    max_actors_per_step: int = 1  # workers of an actor step (MinHash, dedup marking, decontamination, tokenize); each takes 1 CPU
    unit_records: int = 1000  # JSONL lines, Parquet rows or WARC records per unit of resumable work; an HTML or PDF file is one unit
    task_retries: int = 3  # retries of a task, and restarts of an actor, whose worker or node died


@dataclass(kw_only=True)
class PipelineConfig:
    """A whole pipeline file."""

    name: str
    sources: list[SourceConfig]
    stages: list[StageConfig]
    output: str = "out"  # relative paths are relative to the YAML file; --output overrides
    tokenizer: str = "mimo-bpe-16k"  # a bundled tokenizer name or a path to tokenizer.json
    seed: int = 0
    rows_per_shard: int = 1024  # packed sequences per Parquet file
    packing: str = "greedy"  # how documents fill rows: greedy (split across rows) or best_fit (placed whole where possible)
    write_documents: bool = True  # write the kept documents (text and attributes) under documents/
    write_dropped: bool = True  # write the dropped documents (id, source, step, reason) under dropped/
    resume: bool = True  # reuse the units committed under OUTPUT/_work/units by an earlier run; false recomputes them
    steps: StepsConfig = field(default_factory=StepsConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    base_dir: str = "."  # folder of the YAML file; set by load_pipeline, not read from YAML

    def resolve(self, path: str) -> str:
        """Return ``path`` made absolute against the YAML file's folder, with ``~`` and $VARS expanded."""
        expanded = os.path.expandvars(os.path.expanduser(path))
        if os.path.isabs(expanded):
            return expanded
        return os.path.normpath(os.path.join(self.base_dir, expanded))


def load_pipeline(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "pipeline file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(str(path), f"invalid YAML: {error}") from error
    config = parse_pipeline(raw)
    config.base_dir = str(path.resolve().parent)
    return config


def parse_pipeline(raw: Any) -> PipelineConfig:
    """Validate a parsed YAML mapping and return the typed pipeline config."""
    config = _build(PipelineConfig, raw, "pipeline", skip={"base_dir"})
    _check_pipeline(config)
    return config


def _build(cls: type, raw: Any, path: str, skip: set[str] = frozenset()) -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown and missing keys."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"expected a mapping, found {type(raw).__name__}: {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown key; allowed keys: {', '.join(sorted(fields))}")

    values = {}
    for name, spec in fields.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], f"{path}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}.{name}", "missing required key")
    return cls(**values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    """Check ``value`` against a type hint, converting nested dataclasses and containers."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        return _convert(inner[0], value, path)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(path, f"expected a list, found {value!r}")
        return [_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, found {value!r}")
        return {str(k): _convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
    return _convert_scalar(hint, value, path)


def _convert_scalar(hint: Any, value: Any, path: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, found {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, found {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, found {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, found {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint!r} at {path}")


def _check_pipeline(config: PipelineConfig) -> None:
    """Cross-field checks: unique names, known formats and domains, weights that sum to 1."""
    if not config.sources:
        raise ConfigError("pipeline.sources", "at least one source is required")
    if not config.stages:
        raise ConfigError("pipeline.stages", "at least one stage is required")

    names = set()
    for i, source in enumerate(config.sources):
        where = f"pipeline.sources[{i}]"
        if source.format not in SOURCE_FORMATS:
            raise ConfigError(f"{where}.format", f"unknown format {source.format!r}; allowed: {', '.join(SOURCE_FORMATS)}")
        if source.name in names:
            raise ConfigError(f"{where}.name", f"duplicate source name {source.name!r}")
        names.add(source.name)

    domains = {source.domain for source in config.sources}
    stage_names = set()
    for i, stage in enumerate(config.stages):
        _check_stage(stage, f"pipeline.stages[{i}]", {source.name: source.domain for source in config.sources}, domains)
        if stage.name in stage_names:
            raise ConfigError(f"pipeline.stages[{i}].name", f"duplicate stage name {stage.name!r}")
        # The name becomes a folder under the output folder, so it must not lead out of it.
        if stage.name in ("", ".", "..") or "/" in stage.name or "\\" in stage.name:
            raise ConfigError(f"pipeline.stages[{i}].name", f"must be a plain folder name without '/' or '\\', found {stage.name!r}")
        stage_names.add(stage.name)

    _check_steps(config.steps)
    if config.ray.max_actors_per_step < 1:
        raise ConfigError("pipeline.ray.max_actors_per_step", f"must be at least 1, found {config.ray.max_actors_per_step}")
    if config.ray.unit_records < 1:
        raise ConfigError("pipeline.ray.unit_records", f"must be at least 1, found {config.ray.unit_records}")
    if config.ray.task_retries < 0:
        raise ConfigError("pipeline.ray.task_retries", f"must not be negative, found {config.ray.task_retries}")
    if config.rows_per_shard < 1:
        raise ConfigError("pipeline.rows_per_shard", f"must be at least 1, found {config.rows_per_shard}")
    _check_packing(config.packing, "pipeline.packing")
    for i, stage in enumerate(config.stages):
        if stage.packing is not None:
            _check_packing(stage.packing, f"pipeline.stages[{i}].packing")


def _check_packing(method: str, where: str) -> None:
    from mimo_data.tokenize.packing import PACKING_METHODS

    if method not in PACKING_METHODS:
        raise ConfigError(where, f"unknown packing method {method!r}; allowed: {', '.join(PACKING_METHODS)}")


def _check_stage(stage: StageConfig, where: str, sources: dict[str, str], domains: set[str]) -> None:
    if stage.seq_len < 8:
        raise ConfigError(f"{where}.seq_len", f"must be at least 8 tokens, found {stage.seq_len}")
    if stage.tokens_target < stage.seq_len:
        raise ConfigError(f"{where}.tokens_target", f"must be at least seq_len ({stage.seq_len}), found {stage.tokens_target}")
    if stage.max_epochs <= 0:
        raise ConfigError(f"{where}.max_epochs", f"must be positive, found {stage.max_epochs}")
    for source in stage.exclude_sources:
        if source not in sources:
            raise ConfigError(f"{where}.exclude_sources", f"unknown source {source!r}; sources: {', '.join(sorted(sources))}")
    for domain, weight in stage.weights.items():
        if domain not in domains:
            raise ConfigError(f"{where}.weights.{domain}", f"unknown domain; domains of the sources: {', '.join(sorted(domains))}")
        if weight < 0:
            raise ConfigError(f"{where}.weights.{domain}", f"must not be negative, found {weight}")
    total = sum(stage.weights.values())
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise ConfigError(f"{where}.weights", f"must sum to 1.0, found {total:.4f}")
    _check_stage_sources(stage, where, sources)


def _check_stage_sources(stage: StageConfig, where: str, source_domains: dict[str, str]) -> None:
    """Source shares fit inside their domain's weight; caps and quality floors name known keys."""
    carved: dict[str, float] = {}
    for source, share in stage.source_weights.items():
        if source not in source_domains:
            raise ConfigError(f"{where}.source_weights.{source}", f"unknown source; sources: {', '.join(sorted(source_domains))}")
        if share < 0:
            raise ConfigError(f"{where}.source_weights.{source}", f"must not be negative, found {share}")
        if source in stage.exclude_sources:
            raise ConfigError(f"{where}.source_weights.{source}", "the source is also in exclude_sources; remove one of the two")
        domain = source_domains[source]
        carved[domain] = carved.get(domain, 0.0) + share
    for domain, share in carved.items():
        if share > stage.weights.get(domain, 0.0) + 1e-9:
            raise ConfigError(f"{where}.source_weights", f"shares of {domain} sources sum to {share:.4f}, more than weights.{domain} "
                              f"({stage.weights.get(domain, 0.0):.4f}); raise the domain weight or lower the source shares")
    for source, cap in stage.source_max_epochs.items():
        if source not in source_domains:
            raise ConfigError(f"{where}.source_max_epochs.{source}", f"unknown source; sources: {', '.join(sorted(source_domains))}")
        if cap <= 0:
            raise ConfigError(f"{where}.source_max_epochs.{source}", f"must be positive, found {cap}")
    domains = set(source_domains.values())
    for domain, floor in stage.domain_min_quality.items():
        if domain not in domains:
            raise ConfigError(f"{where}.domain_min_quality.{domain}", f"unknown domain; domains of the sources: {', '.join(sorted(domains))}")
        if not 0.0 <= floor <= 1.0:
            raise ConfigError(f"{where}.domain_min_quality.{domain}", f"must be in [0, 1], found {floor}")


def _check_steps(steps: StepsConfig) -> None:
    dedup = steps.dedup
    if not 0.0 < dedup.threshold <= 1.0:
        raise ConfigError("pipeline.steps.dedup.threshold", f"must be in (0, 1], found {dedup.threshold}")
    if dedup.num_perm < 16:
        raise ConfigError("pipeline.steps.dedup.num_perm", f"must be at least 16, found {dedup.num_perm}")
    if dedup.shingle_words < 1:
        raise ConfigError("pipeline.steps.dedup.shingle_words", f"must be at least 1, found {dedup.shingle_words}")
    if dedup.shingle_chars < 1:
        raise ConfigError("pipeline.steps.dedup.shingle_chars", f"must be at least 1, found {dedup.shingle_chars}")
    _check_dedup(dedup)
    if not 0.0 <= steps.language.min_score <= 1.0:
        raise ConfigError("pipeline.steps.language.min_score", f"must be in [0, 1], found {steps.language.min_score}")
    if not 0.0 <= steps.quality.min_score <= 1.0:
        raise ConfigError("pipeline.steps.quality.min_score", f"must be in [0, 1], found {steps.quality.min_score}")
    _check_heuristics(steps.heuristics)
    _check_extract(steps.extract)
    _check_domain(steps.domain)
    _check_decontam(steps.decontam)


def _check_heuristics(heuristics: HeuristicStepConfig) -> None:
    where = "pipeline.steps.heuristics"
    for name in ("max_dup_line_frac", "max_top_2gram_frac", "max_symbol_ratio", "min_alpha_ratio",
                 "max_short_line_frac", "max_boilerplate_line_frac", "max_dup_5gram_frac"):
        value = getattr(heuristics, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where}.{name}", f"must be a fraction in [0, 1], found {value}")


def _check_extract(extract: ExtractStepConfig) -> None:
    where = "pipeline.steps.extract"
    for name in ("html_max_bytes", "pdf_max_bytes", "pdf_max_pages"):
        if getattr(extract, name) < 1:
            raise ConfigError(f"{where}.{name}", f"must be at least 1, found {getattr(extract, name)}")
    for name in ("html_timeout_seconds", "pdf_timeout_seconds"):
        if not getattr(extract, name) > 0:
            raise ConfigError(f"{where}.{name}", f"must be positive, found {getattr(extract, name)}")


def _check_domain(domain: DomainStepConfig) -> None:
    from mimo_data.annotate.domain import DOMAIN_TAGS

    where = "pipeline.steps.domain"
    for i, tag in enumerate(domain.drop_tags):
        if tag not in DOMAIN_TAGS:
            raise ConfigError(f"{where}.drop_tags[{i}]", f"unknown tag {tag!r}; allowed: {', '.join(DOMAIN_TAGS)}")
    if domain.min_rule_score <= 0:
        raise ConfigError(f"{where}.min_rule_score", f"must be positive, found {domain.min_rule_score}")
    if not 0.0 <= domain.min_model_prob <= 1.0:
        raise ConfigError(f"{where}.min_model_prob", f"must be in [0, 1], found {domain.min_model_prob}")
    if domain.min_reasoning_density < 0:
        raise ConfigError(f"{where}.min_reasoning_density", f"must not be negative, found {domain.min_reasoning_density}")


DECONTAM_ACTIONS = ("drop", "tag")


def _check_decontam(decontam: DecontamStepConfig) -> None:
    where = "pipeline.steps.decontam"
    if decontam.n < 1:
        raise ConfigError(f"{where}.n", f"must be at least 1, found {decontam.n}")
    if decontam.min_item_tokens < 1:
        raise ConfigError(f"{where}.min_item_tokens", f"must be at least 1, found {decontam.min_item_tokens}")
    if decontam.min_matched_ngrams < 1:
        raise ConfigError(f"{where}.min_matched_ngrams", f"must be at least 1, found {decontam.min_matched_ngrams}")
    if decontam.action not in DECONTAM_ACTIONS:
        raise ConfigError(f"{where}.action", f"unknown action {decontam.action!r}; allowed: {', '.join(DECONTAM_ACTIONS)}")
    names = set()
    for i, benchmark in enumerate(decontam.benchmarks):
        if benchmark.name in names or "/" in benchmark.name:
            raise ConfigError(f"{where}.benchmarks[{i}].name", f"must be unique and contain no '/', found {benchmark.name!r}")
        names.add(benchmark.name)


# Longest shingle the MinHash signer supports (its number of position multipliers).
MAX_SHINGLE_SIZE = 16
SHINGLE_UNITS = ("auto", "word", "char")


def _check_dedup(dedup: DedupStepConfig) -> None:
    where = "pipeline.steps.dedup"
    for name in ("shingle_words", "shingle_chars"):
        if getattr(dedup, name) > MAX_SHINGLE_SIZE:
            raise ConfigError(f"{where}.{name}", f"must be at most {MAX_SHINGLE_SIZE}, found {getattr(dedup, name)}")
    if dedup.shingle_unit not in SHINGLE_UNITS:
        raise ConfigError(f"{where}.shingle_unit", f"unknown unit {dedup.shingle_unit!r}; allowed: {', '.join(SHINGLE_UNITS)}")
    if dedup.bands is not None and not 2 <= dedup.bands <= dedup.num_perm:
        raise ConfigError(f"{where}.bands", f"must be between 2 and num_perm ({dedup.num_perm}), found {dedup.bands}")
    if dedup.explain_clusters < 0:
        raise ConfigError(f"{where}.explain_clusters", f"must not be negative, found {dedup.explain_clusters}")
