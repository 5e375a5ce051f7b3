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

    extract = _command(commands, "extract", _run_extract, "print one JSON object per document of HTML, .html.gz, PDF or WARC files")
    extract.add_argument("files", nargs="+", help="input files")

    inspect = _command(commands, "inspect", _run_inspect, "summarise stage shards: manifest and a decoded sample")
    inspect.add_argument("shard_dir", help="a stage folder (with manifest.json) or a build output folder")
    inspect.add_argument("--sample-chars", type=int, default=600, help="characters of decoded text to show per stage")

    train = _command(commands, "train", _run_train, "train the bundled small decoder LM on a stage's shards (CPU by default)")
    train.add_argument("--shards", required=True, help="stage folder with Parquet shards and manifest.json")
    train.add_argument("--steps", type=int, required=True, help="optimizer steps")
    train.add_argument("--batch-size", type=int, default=8, help="sequences per step")
    train.add_argument("--seq-len", type=int, default=None, help="crop sequences to this many tokens (default: the shard length)")
    train.add_argument("--d-model", type=int, default=128, help="model width")
    train.add_argument("--n-layers", type=int, default=2, help="transformer blocks")
    train.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    train.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    train.add_argument("--checkpoint", default=None, help="write the final weights to this file")

    sample = _command(commands, "sample-corpus", _run_sample_corpus, "write the small demo corpus (HTML, WARC, PDF, JSONL)")
    sample.add_argument("dir", help="folder to write into")
    sample.add_argument("--seed", type=int, default=0, help="seed of the generated text")
    return parser


def _command(commands, name: str, handler, help_text: str) -> argparse.ArgumentParser:
    command = commands.add_parser(name, help=help_text, description=help_text)
    command.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    command.set_defaults(handler=handler)
    return command


def _run_build(args) -> int:
    from mimo_data.config import load_pipeline
    from mimo_data.engine import build
    from mimo_data.inspect import accounting_table, stage_tokens_table

    config = load_pipeline(args.pipeline)
    result = build(config, output=args.output, address=args.address)
    print(f"\nDocuments per step ({config.name}):")
    print(accounting_table(result.accounting))
    print("\nTokens per source per stage:")
    print(stage_tokens_table(result.manifests))
    print(f"\nShards and manifests written under {result.output_dir}")
    return 0


def _run_extract(args) -> int:
    from mimo_data.io import read_file
    from mimo_data.steps import extract_text
    from mimo_data.document import documents_from_rows

    for path in args.files:
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
    from mimo_data.inspect import describe_stage, stage_dirs

    for stage_dir in stage_dirs(args.shard_dir):
        print(describe_stage(stage_dir, sample_chars=args.sample_chars))
        print()
    return 0


def _run_train(args) -> int:
    from mimo_data.train.loop import TrainConfig, train

    config = TrainConfig(shards=args.shards, steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
                         d_model=args.d_model, n_layers=args.n_layers, lr=args.lr, device=args.device, checkpoint=args.checkpoint)
    result = train(config)
    print(f"loss {result.first_loss:.4f} -> {result.final_loss:.4f} over {args.steps} steps, {result.tokens_seen} tokens")
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

    return (ConfigError, InputError, FileNotFoundError, UsageError)


_USER_ERRORS = _user_errors()

if __name__ == "__main__":
    sys.exit(main())
