"""Tokenizer loading, sequence packing and Parquet shard writing."""

from mimo_data.tokenize.packing import (
    PACKED_SCHEMA,
    PACKING_METHODS,
    PackingError,
    iter_unpacked,
    pack_documents,
    packing_function,
    unpack_documents,
)
from mimo_data.tokenize.best_fit import pack_documents_best_fit
from mimo_data.tokenize.shards import (
    ManifestError,
    ShardError,
    ShardWriter,
    open_stage,
    read_manifest,
    shard_paths,
    write_manifest,
)
from mimo_data.tokenize.qwen2 import Qwen2RanksError, Qwen2Tokenizer
from mimo_data.tokenize.tokenizer import (
    Tokenizer,
    TokenizerFormatError,
    TokenizerNotFoundError,
    bundled_tokenizer_names,
    load_tokenizer,
)

__all__ = [
    "PACKED_SCHEMA",
    "PACKING_METHODS",
    "ManifestError",
    "PackingError",
    "Qwen2RanksError",
    "Qwen2Tokenizer",
    "ShardError",
    "ShardWriter",
    "Tokenizer",
    "TokenizerFormatError",
    "TokenizerNotFoundError",
    "bundled_tokenizer_names",
    "iter_unpacked",
    "load_tokenizer",
    "open_stage",
    "pack_documents",
    "pack_documents_best_fit",
    "packing_function",
    "read_manifest",
    "shard_paths",
    "unpack_documents",
    "write_manifest",
]
