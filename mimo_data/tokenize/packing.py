"""Pack tokenized documents into fixed-length sequences that keep document boundaries.

Documents are concatenated greedily, each followed by one EOS token, and the stream
is cut into rows of exactly ``seq_len`` tokens. A document that does not fit in the
rest of a row continues at the start of the next one, and that row has
``first_segment_continued`` set. Only the last row is padded.

Row columns (``PACKED_SCHEMA``):

- ``input_ids``: ``seq_len`` token ids.
- ``loss_mask``: 1 on real tokens (document tokens and EOS), 0 on padding.
- ``segment_ids``: 1-based index of the document within the row, 0 on padding. Equal
  ids mark the tokens one document contributes to the row, so attention can be kept
  inside a document.
- ``doc_ids``: ids of the documents present in the row, in order. Segment ``k`` is
  ``doc_ids[k - 1]``.
- ``n_tokens``: count of non-padding tokens.
- ``first_segment_continued``: whether segment 1 continues the last document of the
  previous row.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

PACKED_SCHEMA = pa.schema(
    [
        pa.field("input_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("loss_mask", pa.list_(pa.int8()), nullable=False),
        pa.field("segment_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("doc_ids", pa.list_(pa.string()), nullable=False),
        pa.field("n_tokens", pa.int32(), nullable=False),
        pa.field("first_segment_continued", pa.bool_(), nullable=False),
    ]
)

INT32_MAX = np.iinfo(np.int32).max


class PackingError(ValueError):
    """Input to packing or unpacking breaks the packed-row contract."""


def pack_documents(
    token_lists: Sequence[np.ndarray],
    doc_ids: Sequence[str],
    *,
    seq_len: int,
    eos_id: int,
    pad_id: int,
) -> pa.Table:
    """Pack documents into rows of ``seq_len`` tokens, each document followed by EOS.

    Returns a table with ``PACKED_SCHEMA``. The rows hold
    ``sum(len(doc) + 1 for doc in token_lists)`` real tokens, and the last row is
    padded with ``pad_id``.
    """
    documents = _validate_inputs(token_lists, doc_ids, seq_len=seq_len, eos_id=eos_id, pad_id=pad_id)
    if not documents:
        return PACKED_SCHEMA.empty_table()

    # 1. One flat stream: doc0 EOS doc1 EOS ..., and the document index of every token.
    lengths = np.array([len(tokens) + 1 for tokens in documents], dtype=np.int64)
    n_real = int(lengths.sum())
    n_rows = -(-n_real // seq_len)
    stream = np.full(n_rows * seq_len, pad_id, dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for index, tokens in enumerate(documents):
        stream[offsets[index] : offsets[index + 1] - 1] = tokens
        stream[offsets[index + 1] - 1] = eos_id
    # int32 halves the memory traffic of the per-token passes below. It overflows only past 2**31 documents.
    doc_index = np.full(n_rows * seq_len, -1, dtype=np.int32)
    doc_index[:n_real] = np.repeat(np.arange(len(documents), dtype=np.int32), lengths)

    # 2. Per row: the first and last document present, and the 1-based segment ids.
    rows_doc_index = doc_index.reshape(n_rows, seq_len)
    first_doc = rows_doc_index[:, 0]
    last_doc = rows_doc_index.max(axis=1)
    real = rows_doc_index >= 0
    segment_ids = np.where(real, rows_doc_index - first_doc[:, None] + 1, 0).astype(np.int32, copy=False)

    # 3. A row continues a document when its first token and the previous row's last
    # token belong to the same document.
    continued = np.zeros(n_rows, dtype=bool)
    continued[1:] = first_doc[1:] == rows_doc_index[:-1, -1]

    # 4. Every document between first and last is present, since each has at least EOS.
    docs_per_row = last_doc - first_doc + 1
    row_doc_index = np.concatenate([np.arange(a, b + 1) for a, b in zip(first_doc, last_doc)])
    doc_id_values = pa.array([doc_ids[i] for i in row_doc_index], pa.string())

    return _build_table(
        stream.reshape(n_rows, seq_len),
        real.astype(np.int8),
        segment_ids,
        docs_per_row,
        doc_id_values,
        continued,
    )


def _validate_inputs(token_lists, doc_ids, *, seq_len, eos_id, pad_id) -> list[np.ndarray]:
    if len(token_lists) != len(doc_ids):
        raise PackingError(f"got {len(token_lists)} token lists but {len(doc_ids)} doc_ids; expected one id per list")
    if not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise PackingError(f"seq_len must be a positive integer, got {seq_len!r}")
    for name, value in (("eos_id", eos_id), ("pad_id", pad_id)):
        if not 0 <= value <= INT32_MAX:
            raise PackingError(f"{name} must fit in int32 and be non-negative, got {value}")

    documents = []
    for index, (tokens, doc_id) in enumerate(zip(token_lists, doc_ids)):
        array = np.asarray(tokens)
        if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
            raise PackingError(
                f"document {doc_id!r} (index {index}): expected a 1-D integer array, "
                f"got shape {array.shape} dtype {array.dtype}"
            )
        if array.size and (array.min() < 0 or array.max() > INT32_MAX):
            raise PackingError(f"document {doc_id!r} (index {index}): token ids outside [0, {INT32_MAX}]")
        if not isinstance(doc_id, str):
            raise PackingError(f"doc_ids[{index}] is {type(doc_id).__name__}, expected str")
        documents.append(array.astype(np.int32, copy=False))
    return documents


def _build_table(input_ids, loss_mask, segment_ids, docs_per_row, doc_id_values, continued) -> pa.Table:
    n_rows, seq_len = input_ids.shape
    row_offsets = pa.array(np.arange(n_rows + 1, dtype=np.int32) * seq_len, pa.int32())

    def fixed_rows(values: np.ndarray, value_type: pa.DataType) -> pa.ListArray:
        return pa.ListArray.from_arrays(row_offsets, pa.array(values.reshape(-1), value_type))

    doc_offsets = pa.array(np.concatenate([[0], np.cumsum(docs_per_row)]).astype(np.int32), pa.int32())
    columns = [
        fixed_rows(input_ids, pa.int32()),
        fixed_rows(loss_mask, pa.int8()),
        fixed_rows(segment_ids, pa.int32()),
        pa.ListArray.from_arrays(doc_offsets, doc_id_values),
        pa.array(loss_mask.sum(axis=1, dtype=np.int32), pa.int32()),
        pa.array(continued, pa.bool_()),
    ]
    return pa.Table.from_arrays(columns, schema=PACKED_SCHEMA)


def iter_unpacked(table: pa.Table, eos_id: int) -> Iterator[tuple[str, list[int]]]:
    """Yield ``(doc_id, token_ids)`` per document of packed rows, in packing order.

    The rows must be in the order ``pack_documents`` wrote them. The EOS that packing
    appended is removed, and a document without one (cut off by a row that is missing)
    raises ``PackingError``.
    """
    pending_id: str | None = None
    pending: list[int] = []

    for row in table.select(["input_ids", "segment_ids", "doc_ids", "first_segment_continued"]).to_pylist():
        segments = _split_row(row)
        for position, (doc_id, tokens) in enumerate(segments):
            if position == 0 and row["first_segment_continued"]:
                if pending_id != doc_id:
                    raise PackingError(f"row continues document {doc_id!r} but the previous row ended with {pending_id!r}")
                pending.extend(tokens)
                continue
            if pending_id is not None:
                yield pending_id, _strip_eos(pending_id, pending, eos_id)
            pending_id, pending = doc_id, list(tokens)

    if pending_id is not None:
        yield pending_id, _strip_eos(pending_id, pending, eos_id)


def unpack_documents(table: pa.Table, eos_id: int) -> dict[str, list[int]]:
    """Recover each document's token ids from packed rows, keyed by document id.

    Raises ``PackingError`` when a document id occurs twice (for example a document
    repeated by upsampling); use ``iter_unpacked`` to see every occurrence.
    """
    documents: dict[str, list[int]] = {}
    for doc_id, tokens in iter_unpacked(table, eos_id):
        if doc_id in documents:
            raise PackingError(f"document {doc_id!r} occurs more than once; use iter_unpacked to read repeats")
        documents[doc_id] = tokens
    return documents


def _split_row(row: dict) -> list[tuple[str, list[int]]]:
    input_ids, segment_ids, doc_ids = row["input_ids"], row["segment_ids"], row["doc_ids"]
    segments: list[list[int]] = [[] for _ in doc_ids]
    for token, segment in zip(input_ids, segment_ids):
        if segment == 0:
            continue
        if segment > len(doc_ids):
            raise PackingError(f"segment id {segment} but the row lists only {len(doc_ids)} documents")
        segments[segment - 1].append(token)
    return list(zip(doc_ids, segments))


def _strip_eos(doc_id: str, tokens: list[int], eos_id: int) -> list[int]:
    if not tokens or tokens[-1] != eos_id:
        raise PackingError(f"document {doc_id!r} does not end with EOS id {eos_id}; its last row is missing")
    return tokens[:-1]


# Names accepted by ``packing_function`` and by the ``packing`` key of a pipeline or stage.
PACKING_METHODS = ("greedy", "best_fit")


def packing_function(method: str) -> Callable[..., pa.Table]:
    """Return the packing function for ``method``: ``pack_documents`` or ``pack_documents_best_fit``."""
    if method == "greedy":
        return pack_documents
    if method == "best_fit":
        from mimo_data.tokenize.best_fit import pack_documents_best_fit

        return pack_documents_best_fit
    raise PackingError(f"unknown packing method {method!r}; allowed: {', '.join(PACKING_METHODS)}")
