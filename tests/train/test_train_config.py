"""Training presets, YAML config files, FLOPs per token and the `mimo-data train` command."""

from __future__ import annotations

import re

import pytest
import torch

from mimo_data.cli import main as cli_main
from mimo_data.train.config import PRESETS, TrainConfigError, load_train_config
from mimo_data.train.flops import flops_per_token, peak_flops
from mimo_data.train.model import ModelConfig, TransformerLM


def meta_model(preset: str) -> TransformerLM:
    """Build a preset's model on the meta device: shapes only, no memory for weights."""
    values = PRESETS[preset]
    fields = ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden", "qkv_bias", "mtp_layers")
    config = ModelConfig(vocab_size=16384, max_seq_len=values["seq_len"], **{name: values[name] for name in fields})
    with torch.device("meta"):
        return TransformerLM(config)


@pytest.mark.parametrize("preset, low, high", [("tiny-cpu", 2.0e6, 2.5e6), ("gpu-0.5b", 0.45e9, 0.52e9), ("mimo-7b", 6.5e9, 7.0e9)])
def test_preset_parameter_counts(preset, low, high):
    assert low < meta_model(preset).num_parameters() < high


def test_mimo_7b_preset_shape():
    model = meta_model("mimo-7b")
    attention = model.blocks[0].attn
    assert len(model.blocks) == 36
    assert attention.n_heads == 32
    assert attention.n_kv_heads == 8
    assert model.blocks[0].mlp.gate.weight.shape == (11008, 4096)
    assert model.head.weight is not model.embed.weight


def test_gpu_presets_reject_cpu():
    for preset in ("gpu-0.5b", "mimo-7b"):
        with pytest.raises(TrainConfigError, match="GPU-only"):
            load_train_config(preset, {"shards": "unused", "device": "cpu"})


def test_flex_attention_rejected_on_cpu():
    with pytest.raises(TrainConfigError, match="flex"):
        load_train_config(None, {"shards": "unused", "attention": "flex"})


def test_yaml_config_with_stages(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "preset: tiny-cpu\nseq_len: null\nsteps: 7\n"
        "stages:\n  - {shards: out/stage-1, tokens: 1000}\n  - {shards: out/stage-3, rope_theta: 640000}\n"
        "mtp_schedule: [[0, 0.3], [500, 0.1]]\n",
        encoding="utf-8",
    )
    config = load_train_config(str(path), {"batch_size": 2})
    assert config.steps == 7
    assert config.batch_size == 2
    assert config.d_model == 64
    assert [stage.shards for stage in config.stages] == [str(tmp_path / "out/stage-1"), str(tmp_path / "out/stage-3")]
    assert config.stages[1].rope_base(32768) == 640000
    assert config.stages[0].rope_base(8192) == 10000
    assert config.mtp_schedule == ((0, 0.3), (500, 0.1))


@pytest.mark.parametrize(
    "text, message",
    [
        ("stpes: 3\nshards: x\n", "unknown training config field"),
        ("preset: huge\nshards: x\n", "unknown preset 'huge'"),
        ("- 1\n", "expected a mapping"),
        ("stages:\n  - {shards: a}\n  - {shards: b}\n", r"stages\[0\].tokens is missing"),
        ("shards: x\nmtp_schedule: [[10, 0.3]]\n", "must start at 0 tokens"),
    ],
)
def test_yaml_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TrainConfigError, match=message):
        load_train_config(str(path))


def test_unknown_preset_or_file():
    with pytest.raises(TrainConfigError, match="neither a preset"):
        load_train_config("no-such-preset")


def test_flops_per_token_formula():
    model = meta_model("gpu-0.5b")
    matmul_parameters = model.num_parameters() - model.embed.weight.numel()
    attention = 12 * (16 + 1) * 12 * 128 * 8191  # layers incl. MTP, heads, head size, tokens
    assert flops_per_token(model, 8191) == 6 * matmul_parameters + attention


def test_peak_flops_needs_gpu_or_value():
    assert peak_flops("cpu") is None
    assert peak_flops("cpu", peak_tflops=2.0) == 2e12


def test_cli_train_with_preset(shakespeare_stage, tmp_path, capsys):
    code = cli_main([
        "train", "--config", "tiny-cpu", "--shards", str(shakespeare_stage), "--steps", "2", "--seq-len", "32",
        "--batch-size", "2", "--checkpoint-dir", str(tmp_path),
    ])
    assert code == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    pattern = r"loss [\d.]+ -> [\d.]+ \(first step -> mean of the last 2 steps\) over 2 steps, \d+ tokens"
    assert re.fullmatch(pattern, last_line), last_line
    assert (tmp_path / "step-000002.pt").is_file()


def test_cli_train_reports_config_error(capsys):
    assert cli_main(["train", "--config", "gpu-0.5b", "--device", "cpu", "--shards", "x", "--steps", "1"]) == 2
    assert "GPU-only" in capsys.readouterr().err
