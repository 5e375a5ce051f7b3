"""Load a tokenizer.json (bundled by name, or from a path) behind a small batch API.

Bundled tokenizers are looked up by name, as ``<name>.json``, in two folders in this
order:

1. ``mimo_data/tokenize/assets/``, which setup.cfg ships as package data. In the
   repository its files are symlinks to ``tokenizer/``, and a wheel build copies the
   target file, so a non-editable install carries the asset itself.
2. ``tokenizer/`` at the repository root, where ``tokenizer/build_tokenizer.py`` writes
   the asset, for a checkout whose symlinks were not kept.

The name ``qwen2`` is not a file: it loads the Qwen2 vocabulary from an installed wheel
(see ``mimo_data.tokenize.qwen2``).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer as HFTokenizer

from mimo_data.tokenize.qwen2 import QWEN2_NAME, Qwen2Tokenizer

logger = logging.getLogger(__name__)

DEFAULT_TOKENIZER = "mimo-bpe-16k"
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"

BUNDLED_DIRS = (
    Path(__file__).resolve().parent / "assets",
    Path(__file__).resolve().parents[2] / "tokenizer",
)


class TokenizerNotFoundError(FileNotFoundError):
    """A tokenizer spec names neither a bundled tokenizer nor an existing file."""


class TokenizerFormatError(ValueError):
    """A tokenizer file could not be parsed or lacks a required special token."""


class Tokenizer:
    """A HF ``tokenizers`` tokenizer that encodes batches to int32 numpy arrays.

    Text that spells a special token, such as a literal ``<|endoftext|>`` in a
    document, is encoded as ordinary text, so ``eos_id`` appears only where packing
    puts it.
    """

    def __init__(self, hf_tokenizer: HFTokenizer, *, name: str, sha256: str | None = None):
        self._tokenizer = hf_tokenizer
        self._tokenizer.encode_special_tokens = True
        self.name = name
        self.sha256 = sha256
        self.vocab_size = hf_tokenizer.get_vocab_size(with_added_tokens=True)

        eos_id = hf_tokenizer.token_to_id(EOS_TOKEN)
        if eos_id is None:
            raise TokenizerFormatError(
                f"tokenizer {name!r} has no {EOS_TOKEN!r} token; add it as a special token"
            )
        self.eos_id: int = eos_id

        pad_id = hf_tokenizer.token_to_id(PAD_TOKEN)
        if pad_id is None:
            # Padding is masked out of the loss, so its id only has to be a valid one.
            logger.warning("tokenizer %r has no %r token; padding with the EOS id %d", name, PAD_TOKEN, eos_id)
            pad_id = eos_id
        self.pad_id: int = pad_id

    def __setstate__(self, state: dict) -> None:
        # tokenizers 0.23 drops encode_special_tokens when pickled (as Ray does), so set it again.
        self.__dict__.update(state)
        self._tokenizer.encode_special_tokens = True

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode each text to a 1-D int32 array of ids, adding no special tokens."""
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{index}] is {type(text).__name__}, expected str")
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [np.asarray(encoding.ids, dtype=np.int32) for encoding in encodings]

    def decode(self, ids, *, skip_special_tokens: bool = False) -> str:
        """Decode ids back to text, keeping special tokens unless ``skip_special_tokens`` is set.

        The round trip is exact for NFC-normalized text, because encoding applies NFC.
        """
        id_list = [int(token_id) for token_id in np.asarray(ids).reshape(-1)]
        return self._tokenizer.decode(id_list, skip_special_tokens=skip_special_tokens)

    def manifest_entry(self) -> dict:
        """Return the facts a stage manifest records about this tokenizer."""
        return {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "sha256": self.sha256,
        }

    def __repr__(self) -> str:
        return f"Tokenizer(name={self.name!r}, vocab_size={self.vocab_size})"


def bundled_tokenizer_names() -> list[str]:
    """Return the names of the bundled tokenizers: ``qwen2`` and the tokenizer.json files of the bundled folders."""
    names = {path.stem for folder in BUNDLED_DIRS if folder.is_dir() for path in folder.glob("*.json")}
    return sorted(names | {QWEN2_NAME})


def load_tokenizer(spec: str = DEFAULT_TOKENIZER) -> Tokenizer | Qwen2Tokenizer:
    """Load ``qwen2``, a bundled tokenizer by name, or a tokenizer.json file by path."""
    if spec == QWEN2_NAME:
        return Qwen2Tokenizer()
    path = _resolve_spec(spec)
    data = path.read_bytes()
    try:
        hf_tokenizer = HFTokenizer.from_str(data.decode("utf-8"))
    # tokenizers 0.23 raises a bare Exception for malformed JSON, so nothing narrower catches it.
    except Exception as error:
        raise TokenizerFormatError(f"cannot parse tokenizer file {path}: {error}") from error

    name = path.stem if path.parent in BUNDLED_DIRS else str(path)
    return Tokenizer(hf_tokenizer, name=name, sha256=hashlib.sha256(data).hexdigest())


def _resolve_spec(spec: str) -> Path:
    for folder in BUNDLED_DIRS:
        candidate = folder / f"{spec}.json"
        if candidate.is_file():
            return candidate

    path = Path(spec).expanduser()
    if path.is_file():
        return path
    raise TokenizerNotFoundError(
        f"tokenizer {spec!r} is neither a bundled name nor an existing file; "
        f"bundled names: {', '.join(bundled_tokenizer_names()) or '(none found)'}"
    )
