"""notebooks/inspect_shards.ipynb executed on a demo build made here with the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from mimo_data.config import load_pipeline
from mimo_data.engine import build
from mimo_data.sample_corpus import write_sample_corpus

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_build(ray_session, tmp_path_factory) -> Path:
    """Build pipelines/demo.yaml, as it is, on a freshly written sample corpus."""
    root = tmp_path_factory.mktemp("demo")
    corpus = root / "corpus"
    write_sample_corpus(corpus, seed=0)

    pipeline = yaml.safe_load((REPO_ROOT / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    for source in pipeline["sources"]:
        source["path"] = str(corpus / source["path"].split("corpus/", 1)[1])
    path = root / "demo.yaml"
    path.write_text(yaml.safe_dump(pipeline), encoding="utf-8")

    output = root / "shards"
    build(load_pipeline(path), output=str(output))
    return output


def test_inspect_notebook_executes_on_demo_build(demo_build, monkeypatch):
    import nbclient
    import nbformat

    manifests = {path.parent.name: json.loads(path.read_text()) for path in sorted(demo_build.glob("*/manifest.json"))}
    assert len(manifests) == 3  # guard: the demo build wrote every stage
    monkeypatch.setenv("MIMO_SHARDS", str(demo_build))
    notebook = nbformat.read(REPO_ROOT / "notebooks" / "inspect_shards.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT / "notebooks")}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 2  # the share bar chart, and the fill and length histograms in one figure
    printed = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert f"3 stages in {demo_build}" in printed
    first_stage = manifests["stage-1"]
    assert f"packing {first_stage['packing']['method']}" in printed
    # The decoded sample row names documents that the build kept.
    kept_ids = pq.read_table(demo_build / "documents", columns=["id"]).column("id").to_pylist()
    assert any(f"--- {doc_id} (" in printed for doc_id in kept_ids), printed[-2000:]


def test_demo_stages_record_their_packing(demo_build):
    methods = {path.parent.name: json.loads(path.read_text())["packing"]["method"] for path in demo_build.glob("*/manifest.json")}
    assert methods == {"stage-1": "greedy", "stage-2": "greedy", "stage-3": "best_fit"}
