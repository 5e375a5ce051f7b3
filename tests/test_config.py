from pathlib import Path

import pytest
import yaml

from mimo_data.config import ConfigError, load_pipeline, parse_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]


def minimal_pipeline() -> dict:
    return {
        "name": "t",
        "sources": [
            {"name": "web", "format": "html", "path": "pages", "domain": "web"},
            {"name": "qa", "format": "jsonl", "path": "qa.jsonl", "domain": "synthetic"},
        ],
        "stages": [{"name": "stage-1", "seq_len": 64, "tokens_target": 1000, "weights": {"web": 1.0}, "exclude_sources": ["qa"]}],
    }


@pytest.mark.parametrize("name", ["demo.yaml", "mimo_3stage.yaml"])
def test_bundled_pipelines_load(name):
    config = load_pipeline(REPO_ROOT / "pipelines" / name)
    assert len(config.stages) == 3
    assert Path(config.resolve(config.sources[0].path)).is_absolute()


def test_minimal_pipeline_defaults():
    config = parse_pipeline(minimal_pipeline())
    assert config.steps.dedup.threshold == 0.8
    assert config.stages[0].exclude_sources == ["qa"]


def test_unknown_key_names_path_and_allowed_keys():
    raw = minimal_pipeline()
    raw["stages"][0]["seqlen"] = 10
    with pytest.raises(ConfigError) as error:
        parse_pipeline(raw)
    assert error.value.path == "pipeline.stages[0].seqlen"
    assert "seq_len" in str(error.value)


def test_wrong_type_names_path():
    raw = minimal_pipeline()
    raw["stages"][0]["tokens_target"] = "many"
    with pytest.raises(ConfigError, match=r"pipeline.stages\[0\].tokens_target: expected an integer"):
        parse_pipeline(raw)


def test_missing_required_key():
    raw = minimal_pipeline()
    del raw["sources"][1]["format"]
    with pytest.raises(ConfigError, match=r"pipeline.sources\[1\].format: missing required key"):
        parse_pipeline(raw)


def test_unknown_format_lists_allowed():
    raw = minimal_pipeline()
    raw["sources"][0]["format"] = "docx"
    with pytest.raises(ConfigError, match="allowed: warc, html, pdf, jsonl, parquet"):
        parse_pipeline(raw)


def test_weights_must_sum_to_one():
    raw = minimal_pipeline()
    raw["stages"][0]["weights"] = {"web": 0.5, "synthetic": 0.3}
    with pytest.raises(ConfigError, match=r"weights: must sum to 1.0, found 0.8000"):
        parse_pipeline(raw)


def test_weight_for_unknown_domain():
    raw = minimal_pipeline()
    raw["stages"][0]["weights"] = {"web": 0.5, "maths": 0.5}
    with pytest.raises(ConfigError, match=r"weights.maths: unknown domain"):
        parse_pipeline(raw)


def test_exclude_unknown_source():
    raw = minimal_pipeline()
    raw["stages"][0]["exclude_sources"] = ["nope"]
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        parse_pipeline(raw)


def test_invalid_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_pipeline(path)


def test_relative_paths_resolve_against_yaml_folder(tmp_path):
    path = tmp_path / "sub" / "p.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(minimal_pipeline()))
    config = load_pipeline(path)
    assert config.resolve("pages") == str(tmp_path / "sub" / "pages")
