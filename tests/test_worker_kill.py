"""Worker loss: SIGKILL of single Ray worker processes mid-build still gives the bytes of an uninterrupted build.

The build runs as ``mimo-data build`` with its own embedded Ray under a private
``RAY_TMPDIR``, so the test finds that Ray's raylet, and only its worker processes,
among the Ray processes of other builds on the same machine. Ray must retry the task
that ran on a killed worker and restart a killed actor, without a rerun.
"""

from __future__ import annotations

import re
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from small_pipeline import RAY_ENV, assert_same_outputs, run_build, write_small_pipeline

from mimo_data.config import load_pipeline
from mimo_data.engine import build
from mimo_data.units import UNIT_SUFFIX

BUILD_TIMEOUT_S = 900
PROCESS_EXIT_TIMEOUT_S = 60
POLL_INTERVAL_S = 0.05
UNITS_LOG = re.compile(r"units: (\d+) reused, (\d+) computed")

# Lines that the raylet of Ray 2.60 sends to the driver when a task's worker dies and when the task is retried.
WORKER_DIED_LOG = "A worker died or was killed while executing a task"
TASK_RETRY_LOG = "retries remaining, so the task will be retried"

# Ray 2.60 sets a worker's process title to "ray::" + the task or actor it runs; Ray Data
# names a task after its fused operators and an actor after its map class.
UNIT_TASK_TITLE = "ray::MapBatches(commit_units)"
TOKENIZE_ACTOR_TITLE = "ray::MapWorker(MapBatches(TokenizeStep))"


def raylet_under(ray_tmp: str) -> psutil.Process | None:
    """Return the raylet process whose session folder lies under ``ray_tmp``."""
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "raylet" and ray_tmp in " ".join(process.info["cmdline"] or []):
            return process
    return None


def worker_titles(raylet: psutil.Process) -> dict[psutil.Process, str]:
    """Return the raylet's worker processes with their current "ray::" process titles."""
    workers = {}
    try:
        children = raylet.children()
    except psutil.NoSuchProcess:  # the build has ended and stopped its Ray
        return workers
    for child in children:
        try:
            title = " ".join(child.cmdline()).strip()
        except psutil.NoSuchProcess:
            continue
        if title.startswith("ray::"):
            workers[child] = title
    return workers


def processes_under(ray_tmp: str) -> list[psutil.Process]:
    """Return every live process started with ``RAY_TMPDIR=ray_tmp``: the build, its Ray and its workers."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("RAY_TMPDIR") == ray_tmp and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def committed_units(output: Path) -> int:
    return len(list((output / "_work" / "units").glob(f"*{UNIT_SUFFIX}")))


@pytest.fixture()
def ray_tmp():
    """A private RAY_TMPDIR; every process of the Ray started under it is killed afterwards."""
    # Short path: Ray's Unix socket paths under it must stay below the 107-byte limit.
    folder = tempfile.mkdtemp(prefix="rayk", dir="/tmp")
    yield folder
    leftovers = processes_under(folder)
    for process in leftovers:
        process.kill()
    psutil.wait_procs(leftovers, timeout=PROCESS_EXIT_TIMEOUT_S)
    shutil.rmtree(folder, ignore_errors=True)


def kill_workers_during_build(process, output: Path, ray_tmp: str, title_prefixes: list[str]) -> dict[str, int]:
    """SIGKILL one worker of each title prefix, in order, while the build runs.

    Returns the committed units at each kill, by title prefix.
    """
    units_at_kill: dict[str, int] = {}
    raylet = None
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while process.poll() is None and len(units_at_kill) < len(title_prefixes) and time.monotonic() < deadline:
        raylet = raylet or raylet_under(ray_tmp)
        target = title_prefixes[len(units_at_kill)]
        for worker, title in (worker_titles(raylet) if raylet else {}).items():
            if title.startswith(target):
                units_at_kill[target] = committed_units(output)
                worker.send_signal(signal.SIGKILL)
                psutil.wait_procs([worker], timeout=PROCESS_EXIT_TIMEOUT_S)
                break
        time.sleep(POLL_INTERVAL_S)
    return units_at_kill


def test_killed_workers_keep_output_bytes(ray_session, shared_dir, ray_tmp, tmp_path):
    pipeline = write_small_pipeline(tmp_path, shared_dir)

    # 1. Start a build with its own Ray, and kill the worker of a unit task and later the tokenize
    # actor from a thread, while this process makes an uninterrupted reference build.
    output = tmp_path / "killed"
    process = run_build(pipeline, output, env={**RAY_ENV, "RAY_TMPDIR": ray_tmp})
    targets = [UNIT_TASK_TITLE, TOKENIZE_ACTOR_TITLE]
    with ThreadPoolExecutor(max_workers=1) as killer:
        kills = killer.submit(kill_workers_during_build, process, output, ray_tmp, targets)
        reference = build(load_pipeline(pipeline), output=str(tmp_path / "reference"))
        units_at_kill = kills.result()
    assert list(units_at_kill) == targets, f"the build ended before a worker of each of {targets} was killed"
    assert units_at_kill[UNIT_TASK_TITLE] < reference.units_computed, "the unit worker was killed after the last unit"

    # 2. Ray retries the lost work within the same run: the build succeeds and computes every unit once.
    assert process.wait(timeout=BUILD_TIMEOUT_S) == 0, output.with_suffix(".log").read_text()[-3000:]
    log = output.with_suffix(".log").read_text()
    assert WORKER_DIED_LOG in log
    assert f"There are {load_pipeline(pipeline).ray.task_retries} {TASK_RETRY_LOG}" in log
    reused, computed = map(int, UNITS_LOG.findall(log)[-1])
    assert reused <= 1  # a unit whose task died after committing it is reused by the retry
    assert reused + computed == reference.units_computed

    # 3. The build's Ray stops with it, killed workers and restarted actors included.
    _, alive = psutil.wait_procs(processes_under(ray_tmp), timeout=PROCESS_EXIT_TIMEOUT_S)
    assert alive == []

    assert_same_outputs(reference.output_dir, output)
