"""Annotation steps: language, heuristic signals and filter, quality score."""
