"""Best-fit packing: documents placed whole into rows, so few of them are split across rows.

Every document, followed by one EOS token, is cut into full rows of ``seq_len`` tokens
and a remainder shorter than a row. The remainders are placed by best-fit decreasing:
longest first, each into the open row with the least room that still fits it, or into a
new row when none does. A remainder that ends a longer document (a tail) goes first in
its row, straight after the document's full rows, so the row sets
``first_segment_continued`` as greedy packing does and ``iter_unpacked`` reads the
document back. A row therefore takes at most one tail.

Rows come out in blocks: a document's full rows, then the row its tail went to. Blocks
are ordered by the earliest input position of the documents they contain, so the input
order (the seeded mixture order) survives at the scale of blocks. The output has
``PACKED_SCHEMA`` and the same column meanings as ``pack_documents``. Padding can fall
in any row, not only in the last one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pyarrow as pa

from mimo_data.tokenize.packing import PACKED_SCHEMA, _build_table, _validate_inputs


@dataclass(frozen=True)
class _Piece:
    """A run of a document's tokens (EOS included) that goes into one row."""

    doc: int  # index of the document in the input
    start: int  # offset of the first token within the document followed by EOS
    length: int
    continued: bool  # whether the piece continues a document started in an earlier row


@dataclass
class _Row:
    pieces: list[_Piece] = field(default_factory=list)
    room: int = 0
    has_tail: bool = False


def pack_documents_best_fit(
    token_lists: Sequence[np.ndarray],
    doc_ids: Sequence[str],
    *,
    seq_len: int,
    eos_id: int,
    pad_id: int,
) -> pa.Table:
    """Pack documents into rows of ``seq_len`` tokens by best-fit decreasing, each followed by EOS.

    Returns a table with ``PACKED_SCHEMA`` that contains every token of every document;
    only documents longer than a row are split. Deterministic for a given input order.
    """
    documents = _validate_inputs(token_lists, doc_ids, seq_len=seq_len, eos_id=eos_id, pad_id=pad_id)
    if not documents:
        return PACKED_SCHEMA.empty_table()

    # 1. Full rows and one remainder piece per document.
    full_rows: dict[int, list[_Piece]] = {}
    remainders: list[_Piece] = []
    for index, tokens in enumerate(documents):
        length = len(tokens) + 1
        n_full = length // seq_len
        full_rows[index] = [_Piece(index, row * seq_len, seq_len, row > 0) for row in range(n_full)]
        if length % seq_len:
            remainders.append(_Piece(index, n_full * seq_len, length % seq_len, n_full > 0))

    # 2. Remainders into rows by best-fit decreasing.
    rows = _best_fit_rows(remainders, seq_len)

    # 3. Blocks of rows in input order: a tail's full rows come right before its row. Each
    # output row is its list of pieces.
    blocks: list[list[list[_Piece]]] = []
    for row in rows:
        leading = [[piece] for piece in full_rows[row.pieces[0].doc]] if row.has_tail else []
        blocks.append(leading + [row.pieces])
    placed = {piece.doc for row in rows for piece in row.pieces}
    for index, pieces in full_rows.items():
        if pieces and index not in placed:  # a document that fills whole rows exactly has no remainder
            blocks.append([[piece] for piece in pieces])
    blocks.sort(key=lambda block: min(piece.doc for row_pieces in block for piece in row_pieces))
    ordered = [row_pieces for block in blocks for row_pieces in block]
    return _rows_table(ordered, documents, doc_ids, seq_len=seq_len, eos_id=eos_id, pad_id=pad_id)


def _best_fit_rows(pieces: list[_Piece], seq_len: int) -> list[_Row]:
    """Place every piece, longest first, into the open row with the least room that fits it.

    Open rows are kept in two lists sorted by ``(room, row index)``: rows that may still
    take a tail and rows that already have one, so each placement is one bisect per list.
    """
    rows: list[_Row] = []
    without_tail: list[tuple[int, int]] = []
    with_tail: list[tuple[int, int]] = []

    # Sorting is stable, so pieces of equal length keep their input order.
    for piece in sorted(pieces, key=lambda p: -p.length):
        candidates = [without_tail] if piece.continued else [without_tail, with_tail]
        best: tuple[tuple[int, int], list] | None = None
        for open_rows in candidates:
            position = bisect.bisect_left(open_rows, (piece.length, -1))
            if position < len(open_rows) and (best is None or open_rows[position] < best[0]):
                best = (open_rows[position], open_rows)

        if best is None:
            rows.append(_Row(room=seq_len))
            index = len(rows) - 1
        else:
            (_, index), open_rows = best
            open_rows.remove(best[0])
        row = rows[index]

        if piece.continued:
            row.pieces.insert(0, piece)
            row.has_tail = True
        else:
            row.pieces.append(piece)
        row.room -= piece.length
        if row.room > 0:
            bisect.insort(with_tail if row.has_tail else without_tail, (row.room, index))

    # Within a row, a tail stays first and the whole documents follow in input order.
    for row in rows:
        start = 1 if row.has_tail else 0
        row.pieces[start:] = sorted(row.pieces[start:], key=lambda p: p.doc)
    return rows


def _rows_table(rows: list[list[_Piece]], documents: list[np.ndarray], doc_ids: Sequence[str], *,
                seq_len: int, eos_id: int, pad_id: int) -> pa.Table:
    """Fill the row arrays from the pieces of each row, in order."""
    n_rows = len(rows)
    input_ids = np.full((n_rows, seq_len), pad_id, dtype=np.int32)
    segment_ids = np.zeros((n_rows, seq_len), dtype=np.int32)
    continued = np.zeros(n_rows, dtype=bool)
    docs_per_row = np.zeros(n_rows, dtype=np.int64)
    row_doc_ids: list[str] = []

    for row_index, pieces in enumerate(rows):
        position = 0
        for segment, piece in enumerate(pieces, start=1):
            tokens = documents[piece.doc]
            end = piece.start + piece.length
            # The piece covers document tokens and, when it reaches the end, the EOS after them.
            text_end = min(end, len(tokens))
            n_text = text_end - piece.start
            input_ids[row_index, position : position + n_text] = tokens[piece.start : text_end]
            if end > len(tokens):
                input_ids[row_index, position + n_text] = eos_id
            segment_ids[row_index, position : position + piece.length] = segment
            position += piece.length
            row_doc_ids.append(doc_ids[piece.doc])
        continued[row_index] = pieces[0].continued
        docs_per_row[row_index] = len(pieces)

    loss_mask = (segment_ids > 0).astype(np.int8)
    return _build_table(input_ids, loss_mask, segment_ids, docs_per_row, pa.array(row_doc_ids, pa.string()), continued)
