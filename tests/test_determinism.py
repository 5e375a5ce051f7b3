"""Determinism: the same inputs, config and seed give byte-identical shards and manifests on 1 or 2 workers."""

from __future__ import annotations

import json

from small_pipeline import assert_same_outputs, run_build, write_small_pipeline

from mimo_data.config import load_pipeline
from mimo_data.engine import build

BUILD_TIMEOUT_S = 900


def test_one_and_two_workers_give_same_bytes(ray_session, shared_dir, tmp_path):
    # 1. Two workers and two actors per model step, in this process's 2-CPU Ray.
    two_workers = build(load_pipeline(write_small_pipeline(tmp_path, shared_dir, num_cpus=2, max_actors=2)),
                        output=str(tmp_path / "two-workers"))

    # 2. One worker: a separate `mimo-data build` whose embedded Ray has 1 CPU.
    one_worker = tmp_path / "one-worker"
    process = run_build(write_small_pipeline(tmp_path, shared_dir, num_cpus=1, max_actors=1), one_worker)
    assert process.wait(timeout=BUILD_TIMEOUT_S) == 0, one_worker.with_suffix(".log").read_text()[-3000:]

    assert_same_outputs(two_workers.output_dir, one_worker)
    for stage in ("stage-1", "stage-2"):
        text = (one_worker / stage / "manifest.json").read_text(encoding="utf-8")
        assert str(one_worker) not in text, f"the {stage} manifest contains the output path of this run"
        manifest = json.loads(text)
        assert manifest["tokens_written"] == manifest["tokens_planned"] > 0
