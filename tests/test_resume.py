"""Resume: a build killed with SIGKILL, then rerun, gives the bytes of an uninterrupted build."""

from __future__ import annotations

import random
import re
import signal
import time
from pathlib import Path

import pytest
from small_pipeline import assert_same_outputs, run_build, write_small_pipeline

from mimo_data.config import load_pipeline
from mimo_data.engine import build
from mimo_data.units import UNIT_SUFFIX

BUILD_TIMEOUT_S = 900
UNITS_LOG = re.compile(r"units: (\d+) reused, (\d+) computed")


@pytest.fixture(scope="module")
def reference(ray_session, shared_dir, tmp_path_factory):
    """An uninterrupted build of the small pipeline, in this process."""
    folder = tmp_path_factory.mktemp("resume")
    pipeline = write_small_pipeline(folder, shared_dir)
    result = build(load_pipeline(pipeline), output=str(folder / "reference"))
    return pipeline, result


def committed_units(output: Path) -> int:
    return len(list((output / "_work" / "units").glob(f"*{UNIT_SUFFIX}")))


def test_reference_build_computes_every_unit(reference):
    _, result = reference
    assert result.units_reused == 0
    assert result.units_computed > 20  # the small pipeline really is cut into many units


def test_rerun_reuses_every_unit(reference, tmp_path):
    pipeline, result = reference
    rerun = build(load_pipeline(pipeline), output=str(result.output_dir))

    assert rerun.units_computed == 0
    assert rerun.units_reused == result.units_computed
    assert rerun.manifests == result.manifests


def test_killed_build_resumes_to_same_bytes(reference, tmp_path):
    pipeline, result = reference
    output = tmp_path / "killed"
    kill_after = random.Random().randint(1, result.units_computed // 2)

    # 1. Start a build and kill -9 it once `kill_after` units are committed.
    first = run_build(pipeline, output)
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while first.poll() is None and time.monotonic() < deadline:
        if output.exists() and committed_units(output) >= kill_after:
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert first.wait(timeout=60) == -signal.SIGKILL, f"the build ended before {kill_after} units were committed"
    committed_before_rerun = committed_units(output)
    assert 0 < committed_before_rerun < result.units_computed

    # 2. Rerun the same command: it reuses the committed units and computes the rest.
    second = run_build(pipeline, output)
    assert second.wait(timeout=BUILD_TIMEOUT_S) == 0, output.with_suffix(".log").read_text()[-3000:]
    reused, computed = map(int, UNITS_LOG.findall(output.with_suffix(".log").read_text())[-1])
    assert reused >= committed_before_rerun
    assert reused + computed == result.units_computed

    assert_same_outputs(result.output_dir, output)
