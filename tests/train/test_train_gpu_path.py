"""The trainer's GPU code path, run on CPU: torch.compile, bf16 autocast, FlexAttention, fused AdamW, MFU.

A CUDA run turns these on by default, and on a CPU each one is switched on by its config field.
FlexAttention's backward does not run on CPU in torch 2.13, so the FlexAttention checks
here are forward-only.
"""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from mimo_data.train.config import TrainConfig
from mimo_data.train.flops import flops_per_token
from mimo_data.train.layers import Attention, attend, document_block_mask, document_causal_mask, rotary_tables
from mimo_data.train.loop import Trainer, train
from mimo_data.train.model import ModelConfig, TransformerLM

# The model size of test_train_loop, small enough for shared CPUs.
TINY = {
    "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_hidden": 96,
    "batch_size": 4, "lr": 3e-3, "warmup_steps": 5, "log_every": 100,
}
# Lambda drops from 0.3 to 0.1 after 200 loss tokens, before the last of four steps of 4 x 31 tokens.
MTP_SCHEDULE = ((0, 0.3), (200, 0.1))


def quiet(line: str) -> None:
    pass


def crafted_segments() -> torch.Tensor:
    """Two 256-token rows, two FlexAttention blocks of 128 tokens each.

    Row 0 has documents of 100, 100 and 40 tokens, then 16 padding tokens. Row 1 has two
    documents of 128 tokens, so the block of queries 128-255 over keys 0-127 is fully masked.
    """
    row0 = [1] * 100 + [2] * 100 + [3] * 40 + [0] * 16
    row1 = [1] * 128 + [2] * 128
    return torch.tensor([row0, row1])


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-4), ("bfloat16", 2e-2)])
def test_compiled_losses_match_eager(shakespeare_stage, dtype, tolerance):
    # One layer plus the MTP block, because inductor's compile time grows with the number of blocks.
    settings = {**TINY, "n_layers": 1, "shards": str(shakespeare_stage), "seq_len": 32, "steps": 4, "mtp_layers": 1,
                "mtp_schedule": MTP_SCHEDULE, "dtype": dtype}
    eager = train(TrainConfig(**settings, compile=False), log=quiet)
    torch._dynamo.reset()
    counters.clear()
    lines: list[str] = []
    compiled = train(TrainConfig(**settings, compile=True), log=lines.append)

    assert counters["stats"]["unique_graphs"] == 1  # compiled once: no graph break, no recompile when lambda changes
    assert compiled.losses[-1] == pytest.approx(compiled.main_losses[-1] + 0.1 * compiled.mtp_losses[-1], rel=1e-5)
    assert compiled.losses == pytest.approx(eager.losses, rel=tolerance)
    assert compiled.mtp_losses == pytest.approx(eager.mtp_losses, rel=tolerance)
    assert any(f"{dtype}, compiled" in line for line in lines)


def test_bf16_autocast_lowers_loss(shakespeare_stage):
    settings = {**TINY, "shards": str(shakespeare_stage), "seq_len": 64, "batch_size": 8, "lr": 1e-2, "mtp_layers": 1}
    float32 = train(TrainConfig(**settings, steps=1, dtype="float32"), log=quiet)
    lines: list[str] = []
    bf16 = train(TrainConfig(**settings, steps=20, dtype="bfloat16"), log=lines.append)

    # Step 0 sees the same weights and batch. bf16 matmuls round differently, but only slightly.
    assert bf16.main_losses[0] != float32.main_losses[0]
    assert bf16.main_losses[0] == pytest.approx(float32.main_losses[0], abs=0.05)
    assert bf16.main_losses[0] - sum(bf16.main_losses[-5:]) / 5 > 0.5
    assert bf16.mtp_losses[0] - sum(bf16.mtp_losses[-5:]) / 5 > 0.5
    assert any("bfloat16" in line for line in lines)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_flex_mask_matches_dense_mask():
    torch.manual_seed(0)
    segments = crafted_segments()
    q = torch.randn(2, 4, 256, 16)  # (B, H, T, D)
    k, v = torch.randn(2, 2, 256, 16), torch.randn(2, 2, 256, 16)  # 2 KV groups
    block_mask = document_block_mask(segments)

    # Query block 1 of row 1 keeps only its own key block, so the block before it is skipped.
    assert block_mask.kv_num_blocks[1, 0, 1].item() + block_mask.full_kv_num_blocks[1, 0, 1].item() == 1
    flex = attend(q, k, v, block_mask)
    dense = attend(q, k, v, document_causal_mask(segments))
    causal_only = attend(q, k, v, None)
    assert torch.allclose(flex, dense, atol=1e-5)
    assert not torch.allclose(flex, causal_only, atol=1e-3)  # the document mask changes the result


def test_compiled_flex_attention_matches_dense():
    # The model's attention layer (RoPE, fused k/v projection) compiled as on a GPU, forward only.
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=64, d_model=64, n_heads=4, n_kv_heads=2, qkv_bias=True, max_seq_len=256)
    layer = Attention(config).eval()
    cos, sin = rotary_tables(config.head_dim, 256, 10_000.0)
    x = torch.randn(2, 256, 64)
    segments = crafted_segments()

    with torch.no_grad():
        compiled = torch.compile(layer)(x, cos, sin, document_block_mask(segments))
        dense = layer(x, cos, sin, document_causal_mask(segments))
    assert torch.allclose(compiled, dense, atol=1e-5)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_flex_model_matches_sdpa_model():
    torch.manual_seed(0)
    settings = {"vocab_size": 64, "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "mtp_layers": 1,
                "max_seq_len": 256}
    flex = TransformerLM(ModelConfig(**settings, attention="flex")).eval()
    sdpa = TransformerLM(ModelConfig(**settings, attention="sdpa")).eval()
    sdpa.load_state_dict(flex.state_dict())
    ids = torch.randint(0, 64, (2, 256))
    targets = torch.randint(0, 64, (2, 256))

    with torch.no_grad():
        from_flex = flex(ids, targets, segment_ids=crafted_segments())
        from_sdpa = sdpa(ids, targets, segment_ids=crafted_segments())
    assert torch.allclose(from_flex.logits, from_sdpa.logits, atol=1e-5)
    assert torch.allclose(from_flex.mtp_loss, from_sdpa.mtp_loss, atol=1e-5)


def test_fused_adamw_matches_default(shakespeare_stage):
    settings = {**TINY, "shards": str(shakespeare_stage), "seq_len": 32, "steps": 3}
    trainer = Trainer(TrainConfig(**settings, fused_adamw=True), log=quiet)
    fused = trainer.run()
    default = train(TrainConfig(**settings, fused_adamw=False), log=quiet)

    assert trainer.optimizer.defaults["fused"] is True
    assert fused.losses[0] == default.losses[0]  # the first loss comes before any update
    assert fused.losses == pytest.approx(default.losses, rel=1e-5)


def test_mfu_reported_with_peak_tflops(shakespeare_stage):
    lines: list[str] = []
    config = TrainConfig(**TINY, shards=str(shakespeare_stage), seq_len=32, steps=2, peak_tflops=0.001)
    trainer = Trainer(config, log=lines.append)
    result = trainer.run()

    expected = flops_per_token(trainer.model, 31) * result.tokens_per_second / 1e9
    assert result.mfu == pytest.approx(expected)
    assert result.mfu > 0
    assert any(line.startswith("step     2") and "mfu n/a" not in line and "%" in line for line in lines)

