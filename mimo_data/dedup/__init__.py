"""Global deduplication steps: exact (text hash, URL) and near-duplicate (MinHash LSH)."""
