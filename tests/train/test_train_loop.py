"""End-to-end: real text, the bundled tokenizer, packing and shards, then CPU training."""

from __future__ import annotations

import pytest
import torch

from mimo_data.train.loop import TrainConfig, TrainConfigError, learning_rate, train

TINY = {"d_model": 64, "n_layers": 2, "n_heads": 4, "seq_len": 128, "batch_size": 8}


@pytest.fixture(autouse=True)
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_loss_drops_over_50_steps(shakespeare_stage, tmp_path):
    checkpoint = tmp_path / "model.pt"
    lines: list[str] = []
    result = train(TrainConfig(shards=str(shakespeare_stage), steps=50, checkpoint=str(checkpoint), **TINY), log=lines.append)

    # Measured on 2 CPU threads: about 9.7 -> 6.4 nats in about 11 s.
    assert len(result.losses) == 50
    assert result.first_loss > 9.0  # close to ln(16384) = 9.70 for an untrained model
    assert result.first_loss - result.final_loss > 1.0
    assert result.final_loss == pytest.approx(sum(result.losses[-10:]) / 10)
    assert 0 < result.tokens_seen <= 50 * 8 * 127
    assert any(line.startswith("step    49") for line in lines)

    state = torch.load(checkpoint, weights_only=True)
    assert state["model_config"]["vocab_size"] == 16384
    assert state["step"] == 50


def test_mtp_training_lowers_both_losses(shakespeare_stage):
    result = train(TrainConfig(shards=str(shakespeare_stage), steps=20, mtp_layers=1, log_every=100, **TINY), log=lambda line: None)
    assert len(result.mtp_losses) == 20
    assert result.mtp_losses[0] - sum(result.mtp_losses[-5:]) / 5 > 1.0
    assert result.first_loss - result.final_loss > 1.0


def test_same_seed_same_losses(shakespeare_stage):
    config = TrainConfig(shards=str(shakespeare_stage), steps=4, **TINY)
    first = train(config, log=lambda line: None)
    second = train(config, log=lambda line: None)
    assert first.losses == second.losses


def test_learning_rate_schedule():
    config = TrainConfig(shards="unused", steps=100, lr=1e-3, warmup_steps=10)
    assert learning_rate(0, config) == pytest.approx(1e-4)
    assert learning_rate(9, config) == pytest.approx(1e-3)
    assert learning_rate(99, config) == pytest.approx(1e-4)


@pytest.mark.parametrize("field, value", [("steps", 0), ("batch_size", 0), ("seq_len", 1), ("lr", 0.0)])
def test_invalid_config_raises(field, value):
    with pytest.raises(TrainConfigError, match=f"TrainConfig.{field}"):
        TrainConfig(**{"shards": "unused", "steps": 10, field: value})
