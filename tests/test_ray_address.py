"""`mimo-data build --address` joins an existing Ray cluster instead of starting one."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from mimo_data.sample_corpus import write_sample_corpus

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Ray 2.60 enables token authentication for `ray start`; this throwaway cluster runs without it.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def ray_head():
    """A separate single-node Ray cluster on this machine, stopped after the test."""
    port = free_port()
    # A short temp dir: Ray's Unix socket paths under it must stay below the 107-byte limit.
    temp_dir = tempfile.mkdtemp(prefix="rayhead", dir="/tmp")
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--num-cpus=2", f"--port={port}",
         "--include-dashboard=false", f"--temp-dir={temp_dir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=RAY_ENV,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    yield address
    head.terminate()
    head.wait(timeout=60)
    shutil.rmtree(temp_dir, ignore_errors=True)


def test_build_joins_existing_cluster(ray_head, tmp_path):
    corpus = tmp_path / "corpus"
    write_sample_corpus(corpus)
    pipeline = yaml.safe_load((REPO_ROOT / "pipelines" / "demo.yaml").read_text())
    for source in pipeline["sources"]:
        source["path"] = str(corpus / source["path"].split("corpus/", 1)[1])
    pipeline["stages"] = pipeline["stages"][:1]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline))

    result = subprocess.run(
        [str(BIN / "mimo-data"), "build", str(path), "--output", str(tmp_path / "out"), "--address", ray_head, "--verbose"],
        capture_output=True, text=True, timeout=900, env=RAY_ENV,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"connecting to the Ray cluster at {ray_head}" in result.stderr
    manifest = json.loads((tmp_path / "out" / "stage-1" / "manifest.json").read_text())
    assert manifest["tokens_written"] == manifest["tokens_planned"] > 0
