"""Unicode classes of the non-ASCII characters in a UTF-8 batch buffer, decoded with numpy.

:mod:`mimo_data.dedup.shingling` needs three facts per character: whether it is a letter
or digit, whether it is CJK, and whether NFKC or lower case could change it in context.
Each code point is classified once per process with Python's ``unicodedata`` and the
result kept in a table indexed by code point.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from mimo_data.annotate.markup import CJK_RANGES

CJK_CHAR = re.compile(f"[{CJK_RANGES}]")
_SPACE = 0x20


class CodePointClasses:
    """Class bits of each code point, computed once per code point and process.

    The low two bits (``KIND``) are SEPARATOR, ALPHANUMERIC (``str.isalnum``, which is the
    reference's ``\\w`` without the underscore) or CJK. The ``CHANGED`` bit marks a code
    point whose text must go through Python's NFKC and lower case.
    """

    SEPARATOR, ALPHANUMERIC, CJK, CHANGED = 0, 1, 2, 4
    KIND = 3

    def __init__(self) -> None:
        self.classes = np.full(0x110000, -1, dtype=np.int8)

    def __call__(self, code_points: np.ndarray) -> np.ndarray:
        classes = self.classes[code_points]
        unknown = code_points[classes < 0]
        if unknown.size:
            for code_point in np.unique(unknown).tolist():
                self.classes[code_point] = self._classify(code_point)
            classes = self.classes[code_points]
        return classes

    def _classify(self, code_point: int) -> int:
        char = chr(code_point)
        if not char.isalnum():
            kind = self.SEPARATOR
        else:
            kind = self.CJK if CJK_CHAR.match(char) else self.ALPHANUMERIC
        return kind | (self.CHANGED if _needs_normalising(code_point, char) else 0)


def _needs_normalising(code_point: int, char: str) -> bool:
    """Return whether a text holding ``char`` needs Python's NFKC and lower case.

    When this returns False for every character of a text, NFKC leaves the text unchanged
    and lower case changes only ASCII letters. Lower case or NFKC may still turn one
    punctuation character into others, which become spaces all the same. Two things make
    that hold. First, no such character decomposes or has a lower-case form. Second, none
    composes with its neighbour, because the second character of every canonical
    composition is a combining mark (category M) or a Hangul medial or final jamo
    (checked over Unicode 14.0, the database of Python 3.11).
    """
    if unicodedata.combining(char) or unicodedata.category(char)[0] == "M" or _is_hangul_jamo_medial_or_final(code_point):
        return True
    normalised = unicodedata.normalize("NFKC", char)
    if char.isalnum():
        return normalised != char or char.lower() != char
    leading = normalised[:1]
    return any(unit.isalnum() for unit in normalised.lower()) or unicodedata.combining(leading) != 0


def _is_hangul_jamo_medial_or_final(code_point: int) -> bool:
    # Hangul Jamo vowels and trailing consonants, and Jamo Extended-B: they compose with a
    # preceding syllable or leading consonant.
    return 0x1160 <= code_point <= 0x11FF or 0xD7B0 <= code_point <= 0xD7FF


CODE_POINT_CLASSES = CodePointClasses()
# Bytes of a UTF-8 sequence, by its lead byte; 0 for a continuation byte (0b10xxxxxx).
UTF8_LENGTH = np.array([1] * 0x80 + [0] * 0x40 + [2] * 0x20 + [3] * 0x10 + [4] * 0x10, dtype=np.int64)


def decode_non_ascii(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the byte position and the class bits of each non-ASCII character of ``buffer``."""
    leads = np.flatnonzero(buffer >= 0xC0)
    if not leads.size:
        return leads, np.empty(0, dtype=np.int8)
    lengths = UTF8_LENGTH[buffer[leads]]
    second, third, fourth = (buffer[leads + offset].astype(np.int64) & 0x3F for offset in (1, 2, 3))
    lead_bits = buffer[leads].astype(np.int64) & (0x7F >> lengths)
    code_points = np.select(
        [lengths == 2, lengths == 3],
        [(lead_bits << 6) | second, (lead_bits << 12) | (second << 6) | third],
        (lead_bits << 18) | (second << 12) | (third << 6) | fourth,
    )
    return leads, CODE_POINT_CLASSES(code_points)


def blank_separators(buffer: np.ndarray, leads: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Overwrite the non-ASCII characters that are not letters or digits with spaces.

    Returns the byte positions of the CJK characters, which stay.
    """
    kinds = classes & CodePointClasses.KIND
    separators = leads[kinds == CodePointClasses.SEPARATOR]
    lengths = UTF8_LENGTH[buffer[separators]]
    byte_offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    buffer[np.repeat(separators, lengths) + byte_offsets] = _SPACE
    return leads[kinds == CodePointClasses.CJK]
