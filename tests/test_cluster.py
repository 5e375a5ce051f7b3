"""A real two-node Ray cluster on loopback: losing the worker node mid-build still gives a local build's bytes."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from small_pipeline import BIN, RAY_ENV, assert_same_outputs, run_build, write_small_pipeline

from mimo_data.config import load_pipeline
from mimo_data.engine import build
from mimo_data.units import UNIT_SUFFIX

BUILD_TIMEOUT_S = 900
NODE_START_TIMEOUT_S = 120
OBJECT_STORE_BYTES = 300 * 1024 * 1024  # each node's object store; the small pipeline needs far less


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_node(*arguments: str, temp_dir: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "ray"), "start", "--block", "--num-cpus=1", "--node-ip-address=127.0.0.1",
         f"--object-store-memory={OBJECT_STORE_BYTES}", f"--temp-dir={temp_dir}", *arguments],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=RAY_ENV,
    )


def raylet_of(temp_dir: str) -> psutil.Process | None:
    """Return the raylet process whose session lives under ``temp_dir``."""
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "raylet" and temp_dir in cmdline:
            return process
    return None


def node_registered(temp_dir: str) -> bool:
    """Return whether the raylet under ``temp_dir`` has registered with the head node."""
    log = Path(temp_dir) / "session_latest" / "logs" / "raylet.out"
    # Ray 2.60's raylet logs this line once the head node has accepted its registration.
    return log.is_file() and "Raylet of id" in log.read_text(errors="replace")


def wait_for(condition, description: str, timeout_s: float = NODE_START_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s waiting for {description}")


@pytest.fixture()
def two_node_cluster():
    """A head node and a worker node (custom resource "worker"), 1 CPU each, both stopped afterwards."""
    # Short temp dirs: Ray's Unix socket paths under them must stay below the 107-byte limit.
    head_temp = tempfile.mkdtemp(prefix="rayh", dir="/tmp")
    worker_temp = tempfile.mkdtemp(prefix="rayw", dir="/tmp")
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = [start_node("--head", f"--port={port}", "--include-dashboard=false", temp_dir=head_temp)]
    try:
        wait_for(lambda: raylet_of(head_temp), "the head node's raylet")
        nodes.append(start_node(f"--address={address}", '--resources={"worker": 1}', temp_dir=worker_temp))
        wait_for(lambda: raylet_of(worker_temp), "the worker node's raylet")
        wait_for(lambda: node_registered(worker_temp), "the worker node to join the cluster")
        yield address, worker_temp
    finally:
        for node in reversed(nodes):
            node.terminate()
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
        for temp_dir in (head_temp, worker_temp):
            shutil.rmtree(temp_dir, ignore_errors=True)


def test_worker_node_loss_keeps_output(two_node_cluster, ray_session, shared_dir, tmp_path):
    address, worker_temp = two_node_cluster
    pipeline = write_small_pipeline(tmp_path, shared_dir)
    local = build(load_pipeline(pipeline), output=str(tmp_path / "local"))
    kill_after = random.Random().randint(1, local.units_computed // 3)

    # 1. Build on the cluster and kill the worker node's raylet once some units are committed.
    output = tmp_path / "cluster"
    units_dir = output / "_work" / "units"
    process = run_build(pipeline, output, "--address", address)
    raylet = raylet_of(worker_temp)
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        if len(list(units_dir.glob(f"*{UNIT_SUFFIX}"))) >= kill_after:
            raylet.kill()
            break
        time.sleep(0.05)
    _, alive = psutil.wait_procs([raylet], timeout=30)
    assert alive == [], "the worker node's raylet survived SIGKILL"
    assert process.poll() is None, "the build ended before the worker node was killed"

    # 2. The build retries the lost tasks on the head node and finishes.
    assert process.wait(timeout=BUILD_TIMEOUT_S) == 0, output.with_suffix(".log").read_text()[-3000:]
    log = output.with_suffix(".log").read_text()
    assert f"connecting to the Ray cluster at {address}" in log

    assert_same_outputs(local.output_dir, output)
