"""The Qwen2 vocabulary, loaded offline from the BPE ranks that the ``dashscope`` wheel ships.

``dashscope`` (Alibaba's SDK, pinned in setup.cfg) contains ``dashscope/resources/qwen.tiktoken``:
151,643 byte-level BPE tokens with their merge ranks, one ``base64(token) rank`` line each.
The file is read through the package metadata, so the ``dashscope`` package itself (and its
network client) is never imported. ``tiktoken`` applies the ranks with Qwen2's
pre-tokenization pattern.

Ids 0 .. 151,642 are Qwen2's ordinary tokens and 151,643 .. 151,645 its special tokens
(``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``), so a document encodes to the ids Qwen2
gives it. The vocabulary is padded to 151,680 ids as in MiMo-7B. The last id is our padding
token, ``<|pad|>``. The ids between are reserved and decode to nothing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)

QWEN2_NAME = "qwen2"
RANKS_DISTRIBUTION = "dashscope"
RANKS_FILE = "dashscope/resources/qwen.tiktoken"
# SHA-256 of qwen.tiktoken in the dashscope 2.0.2 wheel; another file fails to load.
RANKS_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
ORDINARY_TOKENS = 151_643

# Qwen2's pre-tokenization regex, the same as in dashscope/tokenizers/qwen_tokenizer.py: digits
# split one by one, letters with one leading non-letter, punctuation runs, newlines, spaces.
PRETOKENIZE_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
# MiMo-7B pads the Qwen2 vocabulary to 151,680 rows (a multiple of 128).
VOCAB_SIZE = 151_680
SPECIAL_TOKENS = {
    EOS_TOKEN: 151_643,
    "<|im_start|>": 151_644,
    "<|im_end|>": 151_645,
    PAD_TOKEN: VOCAB_SIZE - 1,
}

# tiktoken merges a pre-token recursively, so one pre-token of hundreds of thousands of characters
# can overflow its stack (dashscope 2.0.2 splits for the same reason). Texts are therefore cut
# into pieces of at most this many characters, at a line break where there is one.
MAX_PIECE_CHARS = 100_000


class Qwen2RanksError(RuntimeError):
    """The Qwen2 BPE ranks are missing from the environment or are not the expected file."""


def ranks_path() -> Path:
    """Return the path of qwen.tiktoken inside the installed dashscope distribution."""
    try:
        distribution = importlib.metadata.distribution(RANKS_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as error:
        raise Qwen2RanksError(
            f"the {RANKS_DISTRIBUTION!r} package, which ships the Qwen2 BPE ranks, is not installed; "
            "install the version pinned in setup.cfg"
        ) from error
    path = Path(distribution.locate_file(RANKS_FILE))
    if not path.is_file():
        raise Qwen2RanksError(f"{RANKS_FILE} is missing from {RANKS_DISTRIBUTION} {distribution.version} at {path}")
    return path


@functools.lru_cache(maxsize=1)
def _encoding():
    """Build the tiktoken Encoding once per process (about 0.4 s)."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    path = ranks_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != RANKS_SHA256:
        raise Qwen2RanksError(f"{path} has SHA-256 {digest}, expected {RANKS_SHA256}; install the pinned dashscope")
    ranks = load_tiktoken_bpe(str(path))
    if len(ranks) != ORDINARY_TOKENS:
        raise Qwen2RanksError(f"{path} has {len(ranks)} tokens, expected {ORDINARY_TOKENS}")
    return tiktoken.Encoding(QWEN2_NAME, pat_str=PRETOKENIZE_PATTERN, mergeable_ranks=ranks, special_tokens=SPECIAL_TOKENS)


class Qwen2Tokenizer:
    """Qwen2-compatible tokenizer with the same batch API as ``Tokenizer``.

    Text is NFC-normalized before encoding, as Qwen2's tokenizer does. Text that spells a
    special token is encoded as ordinary text, so ``eos_id`` appears only where packing
    puts it. ``encode_batch`` spreads the texts over ``num_threads`` threads, which run in
    parallel because tiktoken releases the GIL while it encodes.
    """

    def __init__(self, num_threads: int = 1) -> None:
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
        encoding = _encoding()
        self._encoding = encoding
        self.num_threads = num_threads
        self.name = QWEN2_NAME
        self.sha256 = RANKS_SHA256
        self.vocab_size = VOCAB_SIZE
        self.eos_id = SPECIAL_TOKENS[EOS_TOKEN]
        self.pad_id = SPECIAL_TOKENS[PAD_TOKEN]
        self._special_ids = set(SPECIAL_TOKENS.values())

    def __getstate__(self) -> dict:
        # The tiktoken Encoding is rebuilt from the ranks file in the receiving process (Ray workers).
        return {"num_threads": self.num_threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode each text to a 1-D int32 array of Qwen2 ids, adding no special tokens."""
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{index}] is {type(text).__name__}, expected str")
        if self.num_threads == 1 or len(texts) < 2:
            return [self._encode_one(text) for text in texts]
        with ThreadPoolExecutor(self.num_threads) as executor:
            return list(executor.map(self._encode_one, texts))

    def _encode_one(self, text: str) -> np.ndarray:
        text = unicodedata.normalize("NFC", text)
        if len(text) <= MAX_PIECE_CHARS:
            return self._encode_piece(text)
        return np.concatenate([self._encode_piece(piece) for piece in _split_long_text(text)])

    def _encode_piece(self, text: str) -> np.ndarray:
        # encode_to_numpy fills a buffer in Rust, so no Python int is made per token. With no
        # special token allowed or disallowed, it returns the ids of encode_ordinary (test_qwen2.py
        # compares the two).
        ids = self._encoding.encode_to_numpy(text, allowed_special=set(), disallowed_special=())
        # Every id is below VOCAB_SIZE and fits in int32. Unlike the buffer, the copy is writable.
        return ids.astype(np.int32)

    def decode(self, ids, *, skip_special_tokens: bool = False) -> str:
        """Decode ids to text; reserved ids decode to nothing, special tokens to their text unless skipped."""
        kept = []
        for token_id in np.asarray(ids).reshape(-1):
            token_id = int(token_id)
            if not 0 <= token_id < VOCAB_SIZE:
                raise ValueError(f"token id {token_id} is outside the vocabulary [0, {VOCAB_SIZE})")
            if token_id in self._special_ids:
                if not skip_special_tokens:
                    kept.append(token_id)
            elif token_id < ORDINARY_TOKENS:
                kept.append(token_id)
        return self._encoding.decode_bytes(kept).decode("utf-8", errors="replace")

    def manifest_entry(self) -> dict:
        """Return the facts a stage manifest records about this tokenizer."""
        return {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "sha256": self.sha256,
            "ranks": f"{RANKS_DISTRIBUTION} {importlib.metadata.version(RANKS_DISTRIBUTION)}: {RANKS_FILE}",
        }

    def __repr__(self) -> str:
        return f"Qwen2Tokenizer(vocab_size={self.vocab_size})"


def _split_long_text(text: str) -> list[str]:
    """Cut ``text`` into pieces of at most MAX_PIECE_CHARS, preferring a cut after a line break."""
    pieces = []
    start = 0
    while len(text) - start > MAX_PIECE_CHARS:
        end = text.rfind("\n", start + 1, start + MAX_PIECE_CHARS) + 1
        if end <= start:
            end = start + MAX_PIECE_CHARS
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces
