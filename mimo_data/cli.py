"""The ``mimo-data`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger("mimo_data")

# Extensions that `extract` maps to a reader format.
EXTRACT_FORMATS = {
    ".html": "html", ".htm": "html", ".html.gz": "html", ".htm.gz": "html", ".pdf": "pdf",
    ".warc": "warc", ".warc.gz": "warc", ".arc": "warc", ".arc.gz": "warc",
}


class UsageError(Exception):
    """A command line that cannot be carried out as given, such as an unknown file type."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except _USER_ERRORS as error:
        print(f"mimo-data {args.command}: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimo-data", description="Turn web pages and PDFs into MiMo-style pretraining shards.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = _command(commands, "build", _run_build, "run a pipeline YAML: read, extract, annotate, dedup, mix, write stage shards")
    build.add_argument("pipeline", help="pipeline YAML file")
    build.add_argument("--output", help="output folder (default: the YAML's `output`, relative to the YAML file)")
    build.add_argument("--address", help="Ray cluster address to join (default: RAY_ADDRESS, else an embedded local Ray)")
    build.add_argument(
        "--write-dropped", action=argparse.BooleanOptionalAction, default=None,
        help="write every dropped document (id, source, path, step, reason) to OUTPUT/dropped/ (default: the YAML's `write_dropped`)",
    )

    extract = _command(commands, "extract", _run_extract, "print one JSON object per document of HTML, .html.gz, PDF or WARC files")
    extract.add_argument("files", nargs="+", help="input files")

    inspect = _command(commands, "inspect", _run_inspect, "summarise stage shards (manifest, decoded sample) and kept documents with their attributes")
    inspect.add_argument("shard_dir", help="a stage folder (with manifest.json), a build output folder, or its documents/ folder")
    inspect.add_argument("--sample-chars", type=int, default=600, help="characters of decoded text to show per stage")
    inspect.add_argument("--sample-docs", type=int, default=2,
                         help="kept documents to show with all their attributes when the folder has documents/")

    quality = commands.add_parser("quality", help="train the quality classifier", description="train the quality classifier")
    quality_commands = quality.add_subparsers(dest="quality_command", required=True, metavar="COMMAND")
    quality_train = _command(quality_commands, "train", _run_quality_train, "train the fastText quality classifier from positive and negative texts")
    quality_train.add_argument("--positive", nargs="+", required=True, help="JSONL, Parquet or .txt files or folders of high-quality texts")
    quality_train.add_argument("--negative", nargs="+", required=True, help="JSONL, Parquet or .txt files or folders of low-quality texts")
    _add_training_options(quality_train)

    domain = commands.add_parser("domain", help="train the domain classifier", description="train the domain classifier")
    domain_commands = domain.add_subparsers(dest="domain_command", required=True, metavar="COMMAND")
    domain_train = _command(domain_commands, "train", _run_domain_train, "train the fastText domain classifier")
    domain_train.add_argument("--input", nargs="+", required=True, help="JSONL, Parquet or .txt files or folders of texts (with `url` where present)")
    _add_training_options(domain_train)

    train = _command(commands, "train", _run_train, "train the bundled MiMo-style decoder on stage shards (CPU by default)")
    _add_train_arguments(train)

    sample = _command(commands, "sample-corpus", _run_sample_corpus, "write the small demo corpus (HTML, WARC, PDF, JSONL)")
    sample.add_argument("dir", help="folder to write into")
    sample.add_argument("--seed", type=int, default=0, help="seed of the generated text")
    return parser


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    # Flags left unset keep the value of --config (or the TrainConfig default).
    train.add_argument("--config", help="preset (tiny-cpu, gpu-0.5b, mimo-7b) or YAML file of TrainConfig fields")
    train.add_argument("--shards", help="stage folder with Parquet shards and manifest.json (a YAML `stages:` list replaces it)")
    train.add_argument("--steps", type=int, help="optimizer steps")
    train.add_argument("--batch-size", type=int, help="sequences per micro-batch")
    train.add_argument("--grad-accum", dest="grad_accum_steps", type=int, help="micro-batches per optimizer step")
    train.add_argument("--seq-len", type=int, help="crop sequences to this many tokens (default: the shard length)")
    train.add_argument("--d-model", type=int, help="model width")
    train.add_argument("--n-layers", type=int, help="transformer blocks")
    train.add_argument("--n-heads", type=int, help="query heads")
    train.add_argument("--n-kv-heads", type=int, help="key/value heads (GQA groups)")
    train.add_argument("--mtp-layers", type=int, choices=(0, 1), help="1 adds the MTP module that predicts token t+2")
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--device", help="torch device, e.g. cpu or cuda")
    train.add_argument("--checkpoint-dir", help="write step-NNNNNN.pt checkpoints into this folder")
    train.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: only after the last step)")
    train.add_argument("--resume", help="checkpoint file to continue from; --steps is the total, not the steps added")
    train.add_argument("--log-every", type=int, help="steps between log lines")


TRAIN_OVERRIDES = (
    "shards", "steps", "batch_size", "grad_accum_steps", "seq_len", "d_model", "n_layers", "n_heads", "n_kv_heads",
    "mtp_layers", "lr", "device", "checkpoint_dir", "checkpoint_every", "resume", "log_every",
)


def _command(commands, name: str, handler, help_text: str) -> argparse.ArgumentParser:
    command = commands.add_parser(name, help=help_text, description=help_text,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    command.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    command.set_defaults(handler=handler)
    return command


def _add_training_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--out", required=True, help="model file to write (fastText .bin)")
    command.add_argument("--text-column", default="text", help="field or column with the text in JSONL and Parquet inputs")
    command.add_argument("--epoch", type=int, default=20, help="passes over the training data")
    command.add_argument("--seed", type=int, default=0, help="seed of the shuffle and of fastText")


def _run_quality_train(args) -> int:
    from mimo_data.annotate.fasttext_train import FastTextTrainConfig
    from mimo_data.annotate.quality import train_quality_model
    from mimo_data.annotate.training_inputs import read_texts

    positive = [text for text, _ in read_texts(args.positive, text_column=args.text_column)]
    negative = [text for text, _ in read_texts(args.negative, text_column=args.text_column)]
    counts = train_quality_model(positive, negative, args.out, config=FastTextTrainConfig(epoch=args.epoch, seed=args.seed))
    print(f"quality model written to {args.out}: " + ", ".join(f"{label}={n}" for label, n in sorted(counts.items())))
    return 0


def _run_domain_train(args) -> int:
    from mimo_data.annotate.domain import train_domain_model
    from mimo_data.annotate.fasttext_train import FastTextTrainConfig
    from mimo_data.annotate.training_inputs import read_texts

    documents = read_texts(args.input, text_column=args.text_column)
    counts = train_domain_model(documents, args.out, config=FastTextTrainConfig(epoch=args.epoch, seed=args.seed))
    print(f"domain model written to {args.out}: " + ", ".join(f"{label}={n}" for label, n in sorted(counts.items())))
    return 0


def _run_build(args) -> int:
    from mimo_data.config import load_pipeline
    from mimo_data.engine import build
    from mimo_data.inspect import accounting_table, stage_tokens_table

    config = load_pipeline(args.pipeline)
    if args.write_dropped is not None:
        config.write_dropped = args.write_dropped
    _check_build_paths(config, args.output)
    _check_tokenizer(config.tokenizer)
    result = build(config, output=args.output, address=args.address)
    print(f"\nDocuments per step ({config.name}):")
    print(accounting_table(result.accounting))
    print("\nTokens per source per stage:")
    print(stage_tokens_table(result.manifests))
    print(f"\nShards and manifests written under {result.output_dir}")
    return 0


def _check_build_paths(config, output: str | None) -> None:
    """Fail before Ray starts when an input path matches no file or the output folder is not writable."""
    import tempfile

    from mimo_data.io import InputError, list_inputs

    for source in config.sources:
        try:
            list_inputs(source.format, config.resolve(source.path))
        except InputError as error:
            raise InputError(f"source {source.name!r}: {error}") from error

    output_dir = Path(output or config.resolve(config.output))
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as error:
        raise UsageError(f"output folder {output_dir} is not writable ({error}); choose another --output") from error


def _check_tokenizer(spec: str) -> None:
    """Fail before Ray starts when the pipeline names a tokenizer that cannot be loaded."""
    from mimo_data.tokenize import load_tokenizer
    from mimo_data.tokenize.tokenizer import TokenizerFormatError, TokenizerNotFoundError

    try:
        load_tokenizer(spec)
    except (TokenizerNotFoundError, TokenizerFormatError) as error:
        raise UsageError(f"tokenizer: {error}") from error


def _run_extract(args) -> int:
    from mimo_data.io import read_file
    from mimo_data.steps import extract_text
    from mimo_data.document import documents_from_rows

    for path in args.files:
        if Path(path).is_dir():
            raise UsageError(f"{path} is a folder; pass the files in it, e.g. {path}/*.html")
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: file not found")
        fmt = _extract_format(path)
        rows = list(read_file(fmt, path, source=path))
        table = extract_text(documents_from_rows(rows))
        for row in table.select(["id", "format", "url", "text", "drop_reason"]).to_pylist():
            row = {"id": row["id"], "source": path, **{k: v for k, v in row.items() if k != "id"}}
            print(json.dumps(row, ensure_ascii=False))
    return 0


def _extract_format(path: str) -> str:
    name = path.lower()
    for extension, fmt in sorted(EXTRACT_FORMATS.items(), key=lambda item: -len(item[0])):
        if name.endswith(extension):
            return fmt
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: file not found")
    raise UsageError(f"{path}: unknown file type; expected one of {', '.join(sorted(EXTRACT_FORMATS))}")


def _run_inspect(args) -> int:
    from mimo_data.inspect import describe_documents, describe_stage, documents_dir, stage_dirs

    documents = documents_dir(args.shard_dir)
    try:
        stages = stage_dirs(args.shard_dir)
    except FileNotFoundError:
        if documents is None:
            raise
        stages = []  # a documents/ folder, or a build output that has no stage folders yet
    for stage_dir in stages:
        print(describe_stage(stage_dir, sample_chars=args.sample_chars))
        print()
    if documents is not None:
        print(describe_documents(documents, sample_docs=args.sample_docs, sample_chars=args.sample_chars))
    return 0


def _run_train(args) -> int:
    from mimo_data.tokenize.shards import ManifestError, ShardError
    from mimo_data.train.checkpoint import CheckpointError
    from mimo_data.train.config import TrainConfigError, load_train_config
    from mimo_data.train.data import StageDataError
    from mimo_data.train.loop import FINAL_LOSS_WINDOW, train
    from mimo_data.train.model import ModelConfigError

    overrides = {name: getattr(args, name) for name in TRAIN_OVERRIDES}
    try:
        config = load_train_config(args.config, overrides)
        result = train(config)
    except (TrainConfigError, ModelConfigError, StageDataError, CheckpointError, ManifestError, ShardError) as error:
        raise UsageError(str(error)) from error
    steps = len(result.losses)
    window = min(FINAL_LOSS_WINDOW, steps)
    print(f"loss {result.first_loss:.4f} -> {result.final_loss:.4f} (first step -> mean of the last {window} steps) "
          f"over {steps} steps, {result.tokens_seen} tokens")
    return 0


def _run_sample_corpus(args) -> int:
    from mimo_data.sample_corpus import write_sample_corpus

    counts = write_sample_corpus(args.dir, seed=args.seed)
    print(f"sample corpus written to {args.dir}: " + ", ".join(f"{kind}={n}" for kind, n in counts.items()))
    return 0


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors caused by the user's input or config: printed as one line, exit code 2."""
    from mimo_data.config import ConfigError
    from mimo_data.io import InputError

    from mimo_data.annotate.fasttext_train import TrainingDataError
    from mimo_data.mixture.plan import MixtureInfeasibleError

    return (ConfigError, InputError, FileNotFoundError, UsageError, TrainingDataError, MixtureInfeasibleError)


_USER_ERRORS = _user_errors()

if __name__ == "__main__":
    sys.exit(main())
