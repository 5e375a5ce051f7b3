"""Train the project's byte-level BPE tokenizer and write it as a tokenizer.json.

Usage (from the repository root):

    python tokenizer/build_tokenizer.py --shared ../shared --out tokenizer/mimo-bpe-16k.json

The training text mixes English prose and reStructuredText (PEPs, Shakespeare), math
reasoning in LaTeX (questions, reference solutions and model responses from the JSONL
files) and Chinese Markdown (the expected text of the Chinese HTML pages). Chinese, LaTeX
and indented code therefore all get merges of their own.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Iterator

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

logger = logging.getLogger(__name__)

VOCAB_SIZE = 16384  # 2**14: fits int16 and keeps the JSON asset under 2 MB
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>"]  # ids 0 and 1, in this order
# Bytes the ByteLevel alphabet adds as single-byte tokens, so every input encodes.
BYTE_ALPHABET = pre_tokenizers.ByteLevel.alphabet()

# JSONL fields with free text. A list value contains several sampled responses.
REASONING_TEXT_FIELDS = ("question", "solution", "gt_cot", "response")
# Fields whose list repeats "response" in some files, used only when "response" is absent.
REASONING_FALLBACK_FIELDS = ("code",)


def build_tokenizer() -> Tokenizer:
    """Build an untrained BPE tokenizer with the project's normalizer and pre-tokenizer."""
    tokenizer = Tokenizer(models.BPE())

    # NFC folds canonically equivalent code point sequences, so "é" has one spelling.
    tokenizer.normalizer = normalizers.NFC()

    # Digits go one per token so numbers are never merged into arbitrary chunks.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def iter_text_files(shared_dir: Path) -> Iterator[str]:
    """Yield the contents of the plain-text training files, in sorted path order."""
    text_dir = shared_dir / "text"
    yield (text_dir / "tinyshakespeare_input.txt").read_text(encoding="utf-8")
    for path in sorted((text_dir / "peps").glob("*")):
        if path.is_file():
            yield path.read_text(encoding="utf-8")

    zh_dir = shared_dir / "corpus" / "html_zh"
    for pattern in ("*.expected.md", "*.expected.txt", "*.md"):
        for path in sorted(zh_dir.glob(pattern)):
            # "*.md" also matches "*.expected.md", so skip those repeats and the licence notes.
            if pattern == "*.md" and (path.name.endswith(".expected.md") or path.name == "SOURCES.md"):
                continue
            yield path.read_text(encoding="utf-8")


def iter_reasoning_texts(shared_dir: Path) -> Iterator[str]:
    """Yield problem statements, reference solutions and model responses from the JSONL files."""
    for path in sorted((shared_dir / "reasoning").glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line_number, line in enumerate(lines, start=1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    logger.warning("skipping %s line %d: invalid JSON (%s)", path.name, line_number, error)
                    continue
                yield from record_texts(record)


def record_texts(record: dict) -> Iterator[str]:
    """Yield the free-text values of one reasoning record."""
    fields = list(REASONING_TEXT_FIELDS)
    if "response" not in record:
        fields.extend(REASONING_FALLBACK_FIELDS)
    for field in fields:
        value = record.get(field)
        values = value if isinstance(value, list) else [value]
        yield from (item for item in values if isinstance(item, str) and item.strip())

    prediction = record.get("model_prediction")
    if isinstance(prediction, dict) and isinstance(prediction.get("proof"), str):
        yield prediction["proof"]


def train(shared_dir: Path, vocab_size: int) -> Tokenizer:
    """Train the tokenizer on every training text under ``shared_dir``."""
    texts = list(iter_text_files(shared_dir)) + list(iter_reasoning_texts(shared_dir))
    logger.info("training on %d texts, %d characters", len(texts), sum(map(len, texts)))

    tokenizer = build_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=BYTE_ALPHABET,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))

    for expected_id, token in enumerate(SPECIAL_TOKENS):
        found_id = tokenizer.token_to_id(token)
        if found_id != expected_id:
            raise RuntimeError(f"special token {token!r} got id {found_id}, expected {expected_id}")
    return tokenizer


def main(argv: list[str] | None = None) -> int:
    repo_root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=repo_root / ".." / "shared", help="shared data folder")
    parser.add_argument("--out", type=Path, default=repo_root / "tokenizer" / "mimo-bpe-16k.json")
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE, help="vocabulary size in tokens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    tokenizer = train(args.shared.resolve(), args.vocab_size)

    # Write beside the target and rename, so a reader never sees half a file.
    tmp_path = args.out.with_name(args.out.name + ".tmp")
    tokenizer.save(str(tmp_path), pretty=False)
    tmp_path.replace(args.out)
    logger.info("wrote %s: vocab %d, %d bytes", args.out, tokenizer.get_vocab_size(), args.out.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
