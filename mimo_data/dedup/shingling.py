"""Text normalisation and shingle hashing for MinHash, vectorised per batch.

Text is normalised (Unicode NFKC, lower case, punctuation and whitespace to single spaces)
and cut into shingles: word n-grams, or character n-grams for CJK text.

:func:`shingles` builds the shingle strings of one text in Python; it is the reference.
:func:`shingle_hashes` hashes the same shingles for a whole batch without building them:

1. the batch becomes one UTF-8 buffer; one ``bytes.translate`` lowers its ASCII letters
   and turns other ASCII bytes that are not digits into spaces;
2. numpy decodes the non-ASCII characters and looks up, once per code point and process,
   whether each is a letter or digit (``str.isalnum``), CJK, or a character that NFKC or
   lower case would change in context. Only texts holding such a character go through
   Python's NFKC and ``str.lower`` (77 of the 882 texts of benchmarks/dedup.py). Then
   the other non-ASCII characters that are not letters or digits become spaces;
3. every unit (word, or character for CJK text) is hashed at once, as
   ``fmix64(sum(chunk[k] * multiplier[k]))`` over its 8-byte chunks read straight from the
   buffer;
4. a shingle hash is a fixed linear combination of the hashes of its units, mixed again
   and cut to 32 bits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from mimo_data.dedup.codepoints import CJK_CHAR, CodePointClasses, blank_separators, decode_non_ascii

__all__ = ["MAX_SHINGLE_SIZE", "fmix64", "normalise_for_shingles", "shingle_hashes", "shingle_units", "shingles"]

# Texts with at least this fraction of CJK characters (among non-space characters) are
# shingled by characters, because Chinese and Japanese do not separate words with spaces.
_CJK_SHINGLE_FRACTION = 0.3
# Underscore counts as a word character for \w, but it is punctuation in prose.
_PUNCTUATION = re.compile(r"[^\w\s]|_")

_SPACE = 0x20
# Lowers A-Z and turns every other ASCII byte that is not a letter or digit into a space.
# Bytes from 0x80 up belong to non-ASCII characters, which numpy classifies afterwards.
_ASCII_TABLE = bytes(
    byte + 32 if 0x41 <= byte <= 0x5A
    else byte if (0x30 <= byte <= 0x39 or 0x61 <= byte <= 0x7A or byte >= 0x80)
    else _SPACE
    for byte in range(256)
)

# Odd 64-bit multipliers, one per position in a shingle: the golden-ratio constant and its
# successive MurmurHash3 fmix64 values, forced odd. Distinct multipliers make the shingle
# hash depend on word order.
_POSITION_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93,
        0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3,
        0x1D8E4E27C47D124F, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
        0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x85EBCA77C2B2AE63, 0xCC9E2D51B2F6F6E1,
    ],
    dtype=np.uint64,
)
MAX_SHINGLE_SIZE = len(_POSITION_MULTIPLIERS)


def _splitmix64_sequence(count: int, seed: int) -> np.ndarray:
    # The SplitMix64 generator's outputs, forced odd so no nonzero chunk maps to zero.
    values, state, mask = [], seed, (1 << 64) - 1
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        value = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & mask
        value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
        values.append((value ^ (value >> 31)) | 1)
    return np.array(values, dtype=np.uint64)


# Multipliers of the 8-byte chunks of a unit, by chunk position. A unit of more than 64
# chunks (512 bytes) reuses them cyclically. So two such units that differ only by swapping
# chunks 64 apart collide, which matters little because units that long are not prose.
_CHUNK_MULTIPLIERS = _splitmix64_sequence(64, seed=0x5348494E474C45)
# Masks that keep the low n bytes of a little-endian uint64, for n = 0 to 8.
_LOW_BYTES_MASKS = np.array([(1 << (8 * count)) - 1 for count in range(9)], dtype=np.uint64)


def fmix64(values: np.ndarray) -> np.ndarray:
    """Apply MurmurHash3's 64-bit finalizer, a bijection that spreads every input bit."""
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xFF51AFD7ED558CCD)
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xC4CEB9FE1A85EC53)
    return values ^ (values >> np.uint64(33))


def normalise_for_shingles(text: str) -> str:
    """Return ``text`` in NFKC, lower case, with punctuation replaced by spaces."""
    return _PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).lower())


def _is_cjk(visible_chars: int, text: str) -> bool:
    # ``visible_chars`` counts the letters and digits of the normalised ``text``.
    return visible_chars > 0 and len(CJK_CHAR.findall(text)) / visible_chars >= _CJK_SHINGLE_FRACTION


def shingle_units(text: str, config) -> tuple[list[str], int, str]:
    """Return the units of ``text`` (words or characters), the shingle size and the joiner.

    ``config`` is a :class:`~mimo_data.dedup.minhash.MinHashConfig`.
    """
    normalised = normalise_for_shingles(text)
    by_chars = config.shingle_unit == "char"
    if config.shingle_unit == "auto":
        visible = "".join(normalised.split())
        by_chars = _is_cjk(len(visible), visible)
    if by_chars:
        return list("".join(normalised.split())), config.shingle_chars, ""
    return normalised.split(), config.shingle_words, " "


def shingles(text: str, config) -> list[bytes]:
    """Return the distinct shingles of ``text`` as UTF-8 bytes, in first-seen order.

    Word shingles join their words with one space; character shingles join nothing. A text
    shorter than one shingle yields a single shingle of all of it, an empty text none.
    """
    units, size, joiner = shingle_units(text, config)
    if not units:
        return []
    count = max(len(units) - size + 1, 1)
    return list(dict.fromkeys(joiner.join(units[start : start + size]).encode("utf-8") for start in range(count)))


def shingle_hashes(texts: Sequence[str | None], config) -> tuple[np.ndarray, np.ndarray]:
    """Hash the shingles of every text of a batch at once.

    Returns ``(hashes, offsets)``: the uint32 shingle hashes of text ``i`` are
    ``hashes[offsets[i]:offsets[i + 1]]``, one per shingle of :func:`shingles` before
    repeats are removed (a None or blank text has none). ``config`` is a
    :class:`~mimo_data.dedup.minhash.MinHashConfig`.
    """
    # 1. The batch as one UTF-8 buffer. Only texts with a character that NFKC or lower
    # case would change go through Python's normalisation.
    parts = [_encode(text) if text else b"" for text in texts]
    buffer, text_starts = _batch_buffer(parts)
    leads, classes = decode_non_ascii(buffer)
    changed = leads[(classes & CodePointClasses.CHANGED) != 0]
    if changed.size:
        for row in np.unique(np.searchsorted(text_starts, changed, side="right") - 1).tolist():
            parts[row] = _encode(unicodedata.normalize("NFKC", texts[row]).lower())
        buffer, text_starts = _batch_buffer(parts)
        leads, classes = decode_non_ascii(buffer)

    # 2. Non-ASCII punctuation to spaces, and which texts to shingle by characters.
    cjk_positions = blank_separators(buffer, leads, classes)
    char_texts = _char_shingled_texts(buffer, text_starts, cjk_positions, config.shingle_unit)

    # 3. Unit hashes, and the number of units of each text.
    char_mode = np.repeat(char_texts, np.diff(text_starts)) if char_texts.any() else None
    unit_starts, unit_ends = _unit_bounds(buffer, text_starts[-1], char_mode)
    unit_hashes = _unit_hashes(buffer, unit_starts, unit_ends)
    units_per_text = np.diff(np.searchsorted(unit_starts, text_starts))
    sizes = np.where(char_texts, config.shingle_chars, config.shingle_words).astype(np.int64)
    return _combine_units(unit_hashes, units_per_text, sizes)


def _encode(text: str) -> bytes:
    # surrogatepass keeps a lone surrogate encodable; as a code point that is not a letter
    # or digit it then becomes a space like any punctuation.
    return text.encode("utf-8", "surrogatepass")


def _batch_buffer(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Return the writable batch buffer and the start of each text in it, plus the end.

    A space follows each text, so no unit spans two texts, and eight zero bytes end the
    buffer, so an 8-byte read never leaves it. ASCII letters are lowered and other ASCII
    bytes that are not digits turned into spaces.
    """
    joined = bytearray(b" ".join(parts) + b" ").translate(_ASCII_TABLE) + bytes(8)
    text_starts = np.concatenate([[0], np.cumsum([len(part) + 1 for part in parts])])
    return np.frombuffer(joined, dtype=np.uint8), text_starts


def _char_shingled_texts(buffer: np.ndarray, text_starts: np.ndarray, cjk_positions: np.ndarray, shingle_unit: str) -> np.ndarray:
    """Return a mask of the texts to shingle by characters."""
    texts = text_starts.size - 1
    if shingle_unit != "auto":
        return np.full(texts, shingle_unit == "char")
    if not cjk_positions.size:
        return np.zeros(texts, dtype=bool)
    # Letters and digits per text: characters that are neither spaces nor continuations.
    char_starts = np.flatnonzero((buffer[: text_starts[-1]] != _SPACE) & ((buffer[: text_starts[-1]] & 0xC0) != 0x80))
    visible = np.diff(np.searchsorted(char_starts, text_starts))
    cjk = np.diff(np.searchsorted(cjk_positions, text_starts))
    return (visible > 0) & (cjk >= _CJK_SHINGLE_FRACTION * np.maximum(visible, 1))


def _unit_bounds(buffer: np.ndarray, size: int, char_mode: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Return the start and end byte positions of every unit in ``buffer[:size]``."""
    # A word starts at a non-space byte after a space. A character starts at any non-space
    # byte that is not a UTF-8 continuation byte.
    in_unit = buffer[: size + 1] != _SPACE
    in_unit[size] = False
    starts = in_unit.copy()
    starts[1:] &= ~in_unit[:-1]
    if char_mode is not None:
        char_starts = in_unit[:size] & ((buffer[:size] & 0xC0) != 0x80)
        starts[:size] = np.where(char_mode, char_starts, starts[:size])
    # A unit ends before a space or before the next unit.
    ends = in_unit[:-1] & (~in_unit[1:] | starts[1:])
    return np.flatnonzero(starts), np.flatnonzero(ends) + 1


def _unit_hashes(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return ``fmix64(sum(chunk[k] * multiplier[k]))`` over the 8-byte chunks of each unit."""
    # Every byte position read as a little-endian uint64 of it and the next seven bytes.
    windows = np.ndarray(shape=(buffer.size - 7,), dtype="<u8", buffer=buffer, strides=(1,))
    lengths = ends - starts
    sums = (windows[starts] & _LOW_BYTES_MASKS[np.minimum(lengths, 8)]) * _CHUNK_MULTIPLIERS[0]

    # Most words fit one chunk; the longer ones take one more chunk per round.
    long_units = np.flatnonzero(lengths > 8)
    chunk = 1
    while long_units.size:
        remaining = lengths[long_units] - 8 * chunk
        values = windows[starts[long_units] + 8 * chunk] & _LOW_BYTES_MASKS[np.minimum(remaining, 8)]
        sums[long_units] += values * _CHUNK_MULTIPLIERS[chunk % len(_CHUNK_MULTIPLIERS)]
        long_units = long_units[remaining > 8]
        chunk += 1
    return fmix64(sums)


def _combine_units(unit_hashes: np.ndarray, units_per_text: np.ndarray, size_per_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 32-bit shingle hashes and the offsets of each text's shingles in them."""
    # 1. A shingle starts at every unit followed by size - 1 more units of its text. A text
    # shorter than one shingle gives one shingle of all its units.
    counts = np.where(units_per_text > 0, np.maximum(units_per_text - size_per_text + 1, 1), 0)
    first_unit = np.cumsum(units_per_text) - units_per_text
    first_shingle = np.cumsum(counts) - counts
    starts = np.repeat(first_unit, counts) + (np.arange(int(counts.sum())) - np.repeat(first_shingle, counts))

    # 2. Sum of unit hashes times position multipliers, from contiguous slices, once per
    # shingle size in the batch.
    padded = np.concatenate([unit_hashes, np.zeros(MAX_SHINGLE_SIZE, dtype=np.uint64)])
    sizes = np.unique(size_per_text[counts > 0])
    shingle_size = np.repeat(size_per_text, counts) if sizes.size > 1 else None
    combined = np.zeros(starts.size, dtype=np.uint64)
    for size in sizes.tolist():
        sums = np.zeros(unit_hashes.size, dtype=np.uint64)
        for position in range(size):
            sums += padded[position : position + unit_hashes.size] * _POSITION_MULTIPLIERS[position]
        if shingle_size is None:
            combined = sums[starts]
        else:
            combined[shingle_size == size] = sums[starts[shingle_size == size]]

    # 3. A text shorter than one shingle sums only its own units, as if padded with zeros.
    short = np.flatnonzero((units_per_text > 0) & (units_per_text < size_per_text))
    if short.size:
        shingles_of_short, widths = first_shingle[short], units_per_text[short]
        combined[shingles_of_short] = 0
        for position in range(int(widths.max())):
            in_shingle = widths > position
            combined[shingles_of_short[in_shingle]] += padded[starts[shingles_of_short[in_shingle]] + position] * _POSITION_MULTIPLIERS[position]

    hashes = (fmix64(combined) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return hashes, np.concatenate([[0], np.cumsum(counts)])
