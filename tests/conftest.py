"""Fixtures shared by all tests: the shared corpus folder and one embedded Ray per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the repository (corpus, benchmarks, reasoning, text)."""
    if not SHARED_DIR.is_dir():
        pytest.fail(f"the shared folder is missing: expected it at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture(scope="session")
def ray_session():
    """One embedded local Ray for the whole test session, with 2 CPUs."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
