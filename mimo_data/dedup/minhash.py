"""MinHash signatures, vectorised per batch, and LSH banding for near-duplicate detection.

Shingles and their 32-bit hashes come from :mod:`mimo_data.dedup.shingling`. The
permutations are datasketch 2.0's "affine32" scheme with the same ``num_perm`` and ``seed``,
so a signature equals the ``hashvalues`` of ``datasketch.MinHash(num_perm, seed,
hashfunc=lambda h: h)`` fed with :func:`shingle_hashes`, and a ``LeanMinHash`` built from it
can query a datasketch index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from mimo_data.dedup.exact import check_unique_ids, mark_duplicates, rank_key
from mimo_data.dedup.shingling import MAX_SHINGLE_SIZE, fmix64, shingle_hashes, shingles
from mimo_data.document import kept_mask, set_column

__all__ = [
    "MinHashConfig",
    "MinHashSigner",
    "band_keys",
    "mark_duplicates",
    "select_near_duplicates",
    "shingle_hashes",
    "shingles",
]

logger = logging.getLogger(__name__)

SHINGLE_UNITS = ("auto", "word", "char")

# Weights of false positives and false negatives in the LSH parameter search. Every
# candidate pair is confirmed on its full signature, so a false positive costs one
# comparison while a false negative leaves a duplicate in the corpus. At threshold 0.8 and
# 128 permutations, equal weights give 9 bands of 13 rows, which finds a pair of Jaccard
# similarity 0.85 with probability 0.69; these weights give 14 bands of 9 rows and 0.97.
_LSH_ERROR_WEIGHTS = (0.1, 0.9)

# Shingles per block of the permutation step: the block's hash matrix is num_perm rows of
# this many uint32 values (8 MiB at 128 permutations), so memory stays flat on long texts.
# Measured on the 2-core AMD EPYC of benchmarks/dedup.py, 16384 was fastest of 4096-65536.
_SHINGLES_PER_BLOCK = 16384
# Starting value of the band keys, times the band number: the golden-ratio constant.
_BAND_KEY_BASE = 0x9E3779B97F4A7C15
_MAX_UINT32 = np.uint32(0xFFFFFFFF)
_MAX_UINT64 = (1 << 64) - 1


@dataclass(kw_only=True)
class MinHashConfig:
    """Settings shared by :class:`MinHashSigner`, :func:`band_keys` and the selection.

    Signer and selection must use one config: a wrong ``num_perm`` raises ValueError, but a
    signature does not record its ``seed``, so a seed mismatch finds almost no duplicates.
    """

    # Permutations per signature; each adds 4 bytes per document and sharpens the estimate.
    num_perm: int = 128
    # Words per shingle for space-separated scripts.
    shingle_words: int = 5
    # Characters per shingle for CJK text (whitespace and punctuation removed first).
    shingle_chars: int = 5
    # "auto": characters for CJK text, words otherwise; "word" or "char" forces one.
    shingle_unit: str = "auto"
    # Jaccard similarity from which two documents are near-duplicates.
    threshold: float = 0.8
    # Seed of the MinHash permutations, as datasketch's ``MinHash(seed=...)``.
    seed: int = 1
    # LSH bands, with rows = num_perm // bands. None picks the pair that datasketch's
    # parameter search finds for ``threshold`` with false negatives weighted 0.9 and false
    # positives 0.1: 14 bands of 9 rows at the defaults.
    bands: int | None = None

    def __post_init__(self) -> None:
        for name in ("num_perm", "shingle_words", "shingle_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MinHashConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("shingle_words", "shingle_chars"):
            if getattr(self, name) > MAX_SHINGLE_SIZE:
                raise ValueError(
                    f"MinHashConfig.{name} must be at most {MAX_SHINGLE_SIZE}, got {getattr(self, name)!r}"
                )
        if self.shingle_unit not in SHINGLE_UNITS:
            raise ValueError(
                f"MinHashConfig.shingle_unit must be one of {', '.join(SHINGLE_UNITS)}, "
                f"got {self.shingle_unit!r}"
            )
        if self.num_perm < 2:
            raise ValueError(f"MinHashConfig.num_perm must be >= 2 for LSH, got {self.num_perm!r}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"MinHashConfig.threshold must be in (0, 1], got {self.threshold!r}")
        if self.bands is not None and not 2 <= self.bands <= self.num_perm:
            raise ValueError(
                f"MinHashConfig.bands must be between 2 and num_perm ({self.num_perm}), "
                f"got {self.bands!r}"
            )

    def lsh_params(self) -> tuple[int, int]:
        """Return ``(bands, rows)`` of the LSH banding."""
        if self.bands is not None:
            return self.bands, self.num_perm // self.bands
        return _optimal_param(self.threshold, self.num_perm, *_LSH_ERROR_WEIGHTS)


def _fmix32(values: np.ndarray) -> np.ndarray:
    # The pre-mix datasketch 2.0 applies to every input hash of the "affine32" scheme.
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


class MinHashSigner:
    """Append ``minhash`` (list<uint32> of ``num_perm`` values) to each kept document.

    Dropped rows and rows whose text has no shingle (null or blank) get null, so they take
    part in no near-duplicate cluster.
    """

    def __init__(self, config: MinHashConfig | None = None) -> None:
        self.config = config or MinHashConfig()
        # datasketch draws the permutations from numpy's RandomState(seed); take them from it.
        self.multipliers, self.offsets = MinHash(num_perm=self.config.num_perm, seed=self.config.seed).permutations

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = kept_mask(table).to_pylist()
        texts = [text if is_kept else None for is_kept, text in zip(keep, table.column("text").to_pylist())]
        signatures, signed = self.sign(texts)
        values = pa.array(signatures.reshape(-1), pa.uint32())
        list_offsets = pa.array(np.arange(0, signatures.size + 1, self.config.num_perm, dtype=np.int32))
        column = pa.ListArray.from_arrays(list_offsets, values, mask=pa.array(~signed))
        return set_column(table, "minhash", column.cast(pa.list_(pa.uint32())))

    def sign(self, texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """Return the ``(len(texts), num_perm)`` uint32 signatures and a mask of signed texts."""
        hashes, offsets = shingle_hashes(texts, self.config)
        counts = np.diff(offsets)
        minima = np.full((self.config.num_perm, len(texts)), _MAX_UINT32, dtype=np.uint32)
        text_of_shingle = np.repeat(np.arange(len(texts)), counts)
        mixed = _fmix32(hashes)
        multipliers, offsets = self.multipliers[:, None], self.offsets[:, None]
        permuted = np.empty((self.config.num_perm, min(len(hashes), _SHINGLES_PER_BLOCK)), dtype=np.uint32)

        # Blocks of shingles bound the (num_perm x shingles) matrix. Permutations are rows,
        # so each text's shingles are a contiguous run that np.minimum.reduceat reduces in
        # one pass (about ten times faster than rows of shingles, measured with numpy 2.4).
        # A text that spans two blocks gets a minimum from each, merged by np.minimum.
        for start in range(0, len(hashes), _SHINGLES_PER_BLOCK):
            block = mixed[start : start + _SHINGLES_PER_BLOCK]
            block_permuted = permuted[:, : block.size]
            np.multiply(multipliers, block[None, :], out=block_permuted)
            np.add(block_permuted, offsets, out=block_permuted)
            owners = text_of_shingle[start : start + block.size]
            first = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            block_minima = np.minimum.reduceat(block_permuted, first, axis=1)
            minima[:, owners[first]] = np.minimum(minima[:, owners[first]], block_minima)
        return np.ascontiguousarray(minima.T), counts > 0


def band_keys(signatures: np.ndarray, config: MinHashConfig) -> np.ndarray:
    """Return the ``(documents, bands)`` uint64 LSH bucket keys of a signature matrix.

    A key mixes the band index with the band's rows, so equal keys in different bands
    never meet in one bucket.
    """
    bands, rows = config.lsh_params()
    if signatures.shape[1] != config.num_perm:
        raise ValueError(
            f"signatures have {signatures.shape[1]} values, but MinHashConfig.num_perm is "
            f"{config.num_perm}; sign and band with one config"
        )
    keys = np.empty((signatures.shape[0], bands), dtype=np.uint64)
    wide = signatures.astype(np.uint64)
    for band in range(bands):
        key = np.full(signatures.shape[0], (band + 1) * _BAND_KEY_BASE & _MAX_UINT64, dtype=np.uint64)
        for row in range(rows):
            key = fmix64(key ^ wide[:, band * rows + row])
        keys[:, band] = key
    return keys


def estimated_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Return the fraction of equal values of two signatures, MinHash's Jaccard estimate."""
    return float(np.mean(first == second))


def true_jaccard(first: str, second: str, config: MinHashConfig) -> float:
    """Return the exact Jaccard similarity of the shingle-hash sets of two texts."""
    hashes, offsets = shingle_hashes([first, second], config)
    left = np.unique(hashes[offsets[0] : offsets[1]])
    right = np.unique(hashes[offsets[1] : offsets[2]])
    union = np.union1d(left, right).size
    return np.intersect1d(left, right, assume_unique=True).size / union if union else 0.0


def s_curve(config: MinHashConfig, points: int = 21) -> list[dict]:
    """Return P(candidate) = 1 - (1 - s^rows)^bands at evenly spaced similarities s."""
    bands, rows = config.lsh_params()
    similarities = np.linspace(0.0, 1.0, points)
    probabilities = 1.0 - (1.0 - similarities**rows) ** bands
    return [{"similarity": round(float(s), 4), "candidate_probability": round(float(p), 6)} for s, p in zip(similarities, probabilities)]


def select_near_duplicates(
    ids: Sequence[str],
    signatures: Sequence[Sequence[int] | np.ndarray | None],
    config: MinHashConfig,
    qualities: Sequence[float | None] | None = None,
) -> dict[str, str]:
    """Return ``{dropped id: kept id}`` for every near-duplicate, in one process.

    The in-memory counterpart of the Ray path in :mod:`mimo_data.dedup.global_dedup`, with
    the same bands, candidate rule and representative: highest quality, then smallest id.
    A None signature takes part in no cluster.
    """
    from mimo_data.dedup.components import clusters_to_duplicates, connected_components

    if len(ids) != len(signatures):
        raise ValueError(f"ids and signatures must have the same length, got {len(ids)} and {len(signatures)}")
    check_unique_ids(ids)
    qualities = list(qualities) if qualities is not None else [None] * len(ids)
    signed = [row for row, signature in enumerate(signatures) if signature is not None]
    if not signed:
        return {}
    matrix = _signature_matrix([ids[row] for row in signed], [signatures[row] for row in signed], config)
    keys = band_keys(matrix, config)

    buckets: dict[int, list[int]] = {}
    for position in range(len(signed)):
        for key in keys[position].tolist():
            buckets.setdefault(key, []).append(position)
    edges = set()
    for members in buckets.values():
        if len(members) > 1:
            ranked = sorted(members, key=lambda position: rank_key(ids[signed[position]], qualities[signed[position]]))
            for other in ranked[1:]:
                if estimated_jaccard(matrix[ranked[0]], matrix[other]) >= config.threshold:
                    edges.add((ids[signed[ranked[0]]], ids[signed[other]]))
    ranks = {ids[row]: rank_key(ids[row], qualities[row]) for row in signed}
    return clusters_to_duplicates(connected_components(edges, ranks.__getitem__))


def _signature_matrix(ids: list[str], signatures: list, config: MinHashConfig) -> np.ndarray:
    matrix = np.empty((len(ids), config.num_perm), dtype=np.uint32)
    for row, (doc_id, signature) in enumerate(zip(ids, signatures)):
        if len(signature) != config.num_perm:
            raise ValueError(
                f"signature of document {doc_id!r} has {len(signature)} values, but "
                f"MinHashConfig.num_perm is {config.num_perm}; sign and select with one config"
            )
        matrix[row] = signature
    return matrix
