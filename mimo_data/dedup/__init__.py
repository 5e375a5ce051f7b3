"""Global deduplication steps: exact (text hash, URL) and near-duplicate (MinHash LSH) on Ray."""

from mimo_data.dedup.global_dedup import deduplicate

__all__ = ["deduplicate"]
