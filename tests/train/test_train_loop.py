"""End-to-end on real text: the bundled tokenizer, packed shards, then CPU training."""

from __future__ import annotations

import pytest
import torch

from mimo_data.train.checkpoint import CheckpointError
from mimo_data.train.config import StageSpec, TrainConfig, TrainConfigError
from mimo_data.train.layers import rotary_tables
from mimo_data.train.loop import learning_rate_at, train

# A model small enough for shared CPUs: the 16,384-token embedding and head dominate its cost.
TINY = {
    "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_hidden": 96,
    "batch_size": 4, "lr": 3e-3, "warmup_steps": 5, "log_every": 100,
}


def quiet(line: str) -> None:
    pass


def test_main_and_mtp_losses_drop(shakespeare_stage, tmp_path):
    lines: list[str] = []
    settings = {**TINY, "batch_size": 8, "lr": 1e-2, "log_every": 10}
    config = TrainConfig(shards=str(shakespeare_stage), seq_len=64, steps=20, mtp_layers=1, checkpoint_dir=str(tmp_path), **settings)
    result = train(config, log=lines.append)

    assert len(result.losses) == len(result.main_losses) == len(result.mtp_losses) == 20
    assert result.main_losses[0] > 9.0  # close to ln(16384) = 9.70 for an untrained model
    # A 0.5-nat drop is far outside step-to-step noise, which is below 0.05 nats here.
    assert result.main_losses[0] - sum(result.main_losses[-5:]) / 5 > 0.5
    assert result.mtp_losses[0] - sum(result.mtp_losses[-5:]) / 5 > 0.5
    assert result.final_loss == pytest.approx(sum(result.losses[-10:]) / 10)
    assert 0 < result.tokens_seen <= 20 * 8 * 63
    assert result.tokens_per_second > 0
    assert result.mfu is None  # no known peak on a CPU
    assert any(line.startswith("step    20") and "mtp " in line and "tok/s" in line for line in lines)

    state = torch.load(tmp_path / "step-000020.pt", weights_only=True)
    assert state["model_config"]["vocab_size"] == 16384
    assert state["step"] == 20


def test_resume_reproduces_next_losses(shakespeare_stage, short_stage, tmp_path):
    # Two stages and two micro-batches per step, with the stage switch after the checkpoint.
    stages = (StageSpec(shards=str(short_stage), seq_len=32, tokens=400), StageSpec(shards=str(shakespeare_stage), seq_len=48))
    settings = {**TINY, "stages": stages, "steps": 6, "batch_size": 2, "grad_accum_steps": 2, "mtp_layers": 1}
    straight = train(TrainConfig(**settings, checkpoint_dir=str(tmp_path), checkpoint_every=3), log=quiet)

    resumed = train(TrainConfig(**settings, resume=str(tmp_path / "step-000003.pt")), log=quiet)
    assert resumed.start_step == 3
    assert straight.stage_indices[:4] == [0, 0, 0, 0]  # the switch comes after the checkpoint
    assert straight.stage_indices[-1] == 1
    assert resumed.losses == straight.losses[3:]
    assert resumed.mtp_losses == straight.mtp_losses[3:]
    assert resumed.seq_lens == straight.seq_lens[3:]
    assert resumed.tokens_seen == straight.tokens_seen


def test_resume_rejects_other_model_shape(shakespeare_stage, tmp_path):
    train(TrainConfig(shards=str(shakespeare_stage), seq_len=32, steps=1, checkpoint_dir=str(tmp_path), **TINY), log=quiet)
    other = {**TINY, "d_model": 64}
    with pytest.raises(CheckpointError, match="d_model saved 32 vs now 64"):
        train(TrainConfig(shards=str(shakespeare_stage), seq_len=32, steps=2, resume=str(tmp_path / "step-000001.pt"), **other), log=quiet)


def test_stage_switch_changes_seq_len_and_rope(short_stage, shakespeare_stage):
    lines: list[str] = []
    stages = (
        StageSpec(shards=str(short_stage), tokens=600),  # stored 64-token rows, default base 10,000
        StageSpec(shards=str(shakespeare_stage), rope_theta=640_000.0),
    )
    from mimo_data.train.loop import Trainer

    trainer = Trainer(TrainConfig(stages=stages, steps=5, **TINY), log=lines.append)
    result = trainer.run()

    assert result.seq_lens[0] == 64
    assert result.seq_lens[-1] == 128
    assert result.rope_thetas[0] == 10_000.0
    assert result.rope_thetas[-1] == 640_000.0
    assert result.stage_indices[0] == 0
    assert result.stage_indices[-1] == 1
    assert trainer.model.config.rope_theta == 640_000.0
    expected_cos, _ = rotary_tables(trainer.model.config.head_dim, 128, 640_000.0)
    assert torch.equal(trainer.model.rope_cos, expected_cos)
    assert any("stage 1 -> 2" in line and "seq_len 64 -> 128" in line and "rope_theta 10000 -> 640000" in line for line in lines)


def test_mtp_weight_follows_schedule(shakespeare_stage):
    config = TrainConfig(shards=str(shakespeare_stage), seq_len=32, steps=4, mtp_layers=1,
                         mtp_schedule=((0, 0.3), (200, 0.1)), **TINY)
    result = train(config, log=quiet)
    first = result.main_losses[0] + 0.3 * result.mtp_losses[0]
    last = result.main_losses[-1] + 0.1 * result.mtp_losses[-1]
    assert result.losses[0] == pytest.approx(first, rel=1e-5)
    assert result.losses[-1] == pytest.approx(last, rel=1e-5)


def test_same_seed_same_losses(shakespeare_stage):
    config = TrainConfig(shards=str(shakespeare_stage), seq_len=32, steps=3, **TINY)
    assert train(config, log=quiet).losses == train(config, log=quiet).losses


def test_learning_rate_warmup_constant_cosine():
    config = TrainConfig(shards="unused", steps=100, lr=1e-3, warmup_steps=10, decay_steps=40, min_lr_ratio=0.1)
    assert learning_rate_at(0, config) == pytest.approx(1e-4)
    assert learning_rate_at(9, config) == pytest.approx(1e-3)
    assert learning_rate_at(30, config) == pytest.approx(1e-3)  # constant phase
    assert learning_rate_at(59, config) == pytest.approx(1e-3)
    assert learning_rate_at(60, config) == pytest.approx(1e-3)  # first cosine step
    assert learning_rate_at(79, config) < 1e-3
    assert learning_rate_at(99, config) == pytest.approx(1e-4)


def test_learning_rate_cosine_after_warmup_by_default():
    config = TrainConfig(shards="unused", steps=100, lr=1e-3, warmup_steps=10)
    assert learning_rate_at(10, config) == pytest.approx(1e-3)
    assert learning_rate_at(11, config) < 1e-3
    assert learning_rate_at(99, config) == pytest.approx(1e-4)


@pytest.mark.parametrize("field, value", [("steps", 0), ("batch_size", 0), ("seq_len", 1), ("lr", 0.0), ("grad_accum_steps", 0)])
def test_invalid_config_raises(field, value):
    with pytest.raises(TrainConfigError, match=f"TrainConfig.{field}"):
        TrainConfig(**{"shards": "unused", "steps": 10, field: value})
