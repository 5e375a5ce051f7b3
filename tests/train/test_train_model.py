"""The decoder: shapes, GQA, causality, per-document attention, RoPE base and the MTP loss."""

from __future__ import annotations

import pytest
import torch

from mimo_data.train.layers import document_causal_mask
from mimo_data.train.model import IGNORE_INDEX, ModelConfig, ModelConfigError, TransformerLM, cross_entropy

VOCAB = 50


def make_model(**overrides) -> TransformerLM:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, max_seq_len=16, **overrides)
    return TransformerLM(config).eval()


def test_logits_shape():
    model = make_model()
    output = model(torch.randint(0, VOCAB, (3, 12)))
    assert output.logits.shape == (3, 12, VOCAB)
    assert output.loss is None


def test_attention_is_causal():
    model = make_model()
    ids = torch.randint(0, VOCAB, (1, 10))
    changed = ids.clone()
    changed[0, 7] = (ids[0, 7] + 1) % VOCAB
    before, after = model(ids).logits, model(changed).logits
    assert torch.allclose(before[:, :7], after[:, :7], atol=1e-5)
    assert not torch.allclose(before[:, 7:], after[:, 7:], atol=1e-5)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("doc_attention", [True, False])
@pytest.mark.parametrize("attention", ["sdpa", "flex"])
def test_document_attention(doc_attention, attention):
    model = make_model(doc_attention=doc_attention, attention=attention)
    ids = torch.randint(0, VOCAB, (1, 10))
    segments = torch.tensor([[1, 1, 1, 1, 2, 2, 2, 2, 2, 0]])
    changed = ids.clone()
    changed[0, 1] = (ids[0, 1] + 1) % VOCAB  # a token of document 1

    with torch.no_grad():  # FlexAttention has no CPU backward in torch 2.13
        before = model(ids, segment_ids=segments).logits
        after = model(changed, segment_ids=segments).logits
    second_doc_unchanged = torch.allclose(before[:, 4:9], after[:, 4:9], atol=1e-5)
    assert second_doc_unchanged == doc_attention


def test_loss_matches_cross_entropy_and_ignores_padding():
    model = make_model()
    ids = torch.randint(0, VOCAB, (2, 8))
    targets = torch.randint(0, VOCAB, (2, 8))
    targets[1, 5:] = IGNORE_INDEX
    output = model(ids, targets)

    logits = output.logits
    kept = targets != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(logits[kept], targets[kept])
    assert torch.allclose(output.loss, expected, atol=1e-5)
    assert output.mtp_loss is None


def test_mtp_loss_is_weighted_sum():
    model = make_model(mtp_layers=1, mtp_weight=0.5)
    ids = torch.randint(0, VOCAB, (2, 8))
    targets = torch.randint(0, VOCAB, (2, 8))
    output = model(ids, targets)

    assert output.mtp_loss is not None
    assert torch.allclose(output.loss, output.main_loss + 0.5 * output.mtp_loss)
    assert torch.allclose(output.main_loss, cross_entropy(output.logits, targets))


def test_mtp_targets_are_token_after_next():
    from mimo_data.train.mtp import mtp_inputs

    targets = torch.tensor([[11, 12, 13, IGNORE_INDEX, IGNORE_INDEX]])
    next_tokens, mtp_targets = mtp_inputs(targets)
    assert next_tokens.tolist() == [[11, 12, 13, 0, 0]]
    assert mtp_targets.tolist() == [[12, 13, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]


def test_mtp_skips_predictions_across_ignored_targets():
    model = make_model(mtp_layers=1)
    ids = torch.randint(0, VOCAB, (1, 8))
    targets = torch.randint(2, VOCAB, (1, 8))
    targets[0, 6] = IGNORE_INDEX

    # Position 6 would predict targets[7] from the embedding of targets[6], which is
    # ignored, so the value of targets[7] must not matter to the MTP loss.
    other_last = targets.clone()
    other_last[0, 7] = 1
    other_middle = targets.clone()
    other_middle[0, 3] = 1

    loss = model(ids, targets).mtp_loss
    assert torch.isfinite(loss)
    assert torch.equal(loss, model(ids, other_last).mtp_loss)
    assert not torch.equal(loss, model(ids, other_middle).mtp_loss)


def test_mtp_gradients_reach_main_model():
    model = make_model(mtp_layers=1).train()
    ids = torch.randint(0, VOCAB, (2, 8))
    targets = torch.randint(0, VOCAB, (2, 8))
    model(ids, targets).mtp_loss.backward()
    assert model.blocks[0].attn.q.weight.grad.abs().sum() > 0
    assert model.mtp.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"d_model": 30, "n_heads": 4}, "d_model"),
        ({"mtp_layers": 2}, "mtp_layers"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"mtp_weight": -1.0}, "mtp_weight"),
        ({"n_kv_heads": 3}, "n_kv_heads"),
        ({"attention": "flash"}, "attention"),
        ({"rope_theta": 0.0}, "rope_theta"),
    ],
)
def test_invalid_config_raises(overrides, field):
    settings = {"vocab_size": VOCAB, **overrides}
    with pytest.raises(ModelConfigError, match=f"ModelConfig.{field}"):
        ModelConfig(**settings)


def test_too_long_sequence_raises():
    model = make_model()
    with pytest.raises(ModelConfigError, match="max_seq_len"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_gqa_projection_shapes():
    model = make_model(n_kv_heads=2)
    attention = model.blocks[0].attn
    assert attention.q.weight.shape == (32, 32)  # 4 query heads of size 8
    assert attention.kv.weight.shape == (2 * 2 * 8, 32)  # keys and values of 2 groups


def test_gqa_matches_repeated_heads():
    # Two KV groups serving four query heads must equal full attention with each group repeated.
    model = make_model(n_kv_heads=2)
    attention = model.blocks[0].attn
    full = make_model(n_kv_heads=4).blocks[0].attn
    q_weight = attention.q.weight
    k_weight, v_weight = attention.kv.weight.view(2, 2, 8, 32).unbind(0)  # each (G, D, C)
    with torch.no_grad():
        full.q.weight.copy_(q_weight)
        full.kv.weight.copy_(torch.cat([k_weight.repeat_interleave(2, 0), v_weight.repeat_interleave(2, 0)]).reshape(64, 32))
        full.proj.weight.copy_(attention.proj.weight)
    x = torch.randn(2, 10, 32)
    cos, sin = model.rope_cos[:10], model.rope_sin[:10]
    assert torch.allclose(attention(x, cos, sin, None), full(x, cos, sin, None), atol=1e-5)


def test_head_untied_by_default():
    assert make_model().head.weight is not make_model().embed.weight
    model = make_model()
    assert model.head.weight.data_ptr() != model.embed.weight.data_ptr()
    tied = make_model(tie_embeddings=True)
    assert tied.head.weight.data_ptr() == tied.embed.weight.data_ptr()


def test_set_rope_changes_base_and_logits():
    model = make_model()
    ids = torch.randint(0, VOCAB, (1, 12))
    before = model(ids).logits
    model.set_rope(640_000.0)
    assert model.config.rope_theta == 640_000.0
    assert not torch.allclose(model(ids).logits, before, atol=1e-5)
    model.set_rope(10_000.0)
    assert torch.allclose(model(ids).logits, before, atol=1e-6)


def test_document_mask_on_crafted_batch():
    segments = torch.tensor([[1, 1, 2, 2, 2, 0]])
    mask = document_causal_mask(segments)[0, 0]
    assert mask[3].tolist() == [False, False, True, True, False, False]  # document 2 attends only to earlier tokens of document 2
    assert mask[1].tolist() == [True, True, False, False, False, False]
    assert mask[5].tolist() == [False, False, False, False, False, True]  # padding attends only to padding
