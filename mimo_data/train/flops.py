"""Model FLOPs per token and model FLOPs utilisation (MFU).

FLOPs per trained token follow the standard estimate 6N + 12 L H D T. The first term is
6 FLOPs per matrix parameter for the forward and backward matmuls. The second is the
attention score and value products over the full sequence length T. N excludes the input
embedding, because a lookup is not a matmul, but the output head counts. Document masking
skips part of the attention work, and the formula still counts the full square, as is
customary when reporting MFU.
"""

from __future__ import annotations

import torch

from mimo_data.train.model import TransformerLM

# Dense BF16 tensor-core peak in FLOP/s: the NVIDIA data sheet figures with sparsity, halved.
# NOTE: typed in from memory of those data sheets; pass peak_tflops for a card not listed.
GPU_PEAK_BF16_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,  # SXM; the PCIe card is lower and is matched first below
    "H100 PCIe": 756e12,
    "A100": 312e12,
}


def flops_per_token(model: TransformerLM, seq_len: int) -> float:
    """Training FLOPs per token for ``model`` on sequences of ``seq_len`` tokens (forward and backward)."""
    config = model.config
    matmul_parameters = model.num_parameters() - model.embed.weight.numel()
    if config.tie_embeddings:  # the shared table is still used as the output matmul
        matmul_parameters += model.embed.weight.numel()
    attention_layers = config.n_layers + config.mtp_layers
    attention = 12 * attention_layers * config.n_heads * config.head_dim * seq_len
    return 6 * matmul_parameters + attention


def peak_flops(device: str, peak_tflops: float | None = None) -> float | None:
    """Return the device's peak FLOP/s: ``peak_tflops`` when given, else a table lookup for CUDA GPUs.

    Returns None for a CPU or an unlisted GPU, and MFU is then not reported.
    """
    if peak_tflops is not None:
        return peak_tflops * 1e12
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(torch.device(device))
    for key in sorted(GPU_PEAK_BF16_FLOPS, key=len, reverse=True):
        if key in name:
            return GPU_PEAK_BF16_FLOPS[key]
    return None
