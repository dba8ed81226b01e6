"""How many GPUs a model needs, and the fastest it could possibly decode on them.

Sizing: the weights (parameters × bytes per parameter) and the KV cache of
every sequence in flight (2 × layers × KV heads × head size × bytes per
token) must fit in the memory the server lets the engine use
(`gpu_memory_utilization`, vLLM's knob, leaves the rest for activations and
the CUDA context). Tensor parallelism splits a model over a power of two
GPUs, so that is what is counted.

Bound: each decode step reads every weight that the step uses once (all of
them for a dense model, the active experts' for MoE) from memory, so one
sequence cannot decode faster than the GPUs' combined bandwidth divided by
those bytes. A batch shares the weight reads but adds its own KV reads and
is capped by the tensor cores. A measurement above these bounds is wrong.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from evals.cost.catalogue import GpuSpec, ModelSpec

Quant = Literal["fp16", "bf16", "fp8", "int8", "int4"]
KvDtype = Literal["fp16", "bf16", "fp8"]

BYTES_PER_PARAM: dict[str, float] = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
GB = 1e9


class SizingResult(BaseModel):
    """Bytes are plain bytes; throughputs are tokens per second."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quant: str
    kv_dtype: str
    weights_bytes: float
    active_weights_bytes: float
    """Bytes read from memory per decode step: the active parameters' weights."""
    kv_bytes_per_token: float
    kv_bytes_needed: float
    """KV cache for `concurrency` sequences of `context_tokens` each."""
    gpus: int
    fits: bool
    """Whether weights + KV for the requested concurrency fit on `gpus` (always true when the count was chosen here)."""
    usable_bytes: float
    """Memory the engine may use on all `gpus`: GPUs × memory × gpu_memory_utilization."""
    kv_capacity_tokens: int
    """Tokens of KV cache that fit beside the weights on `gpus` GPUs."""
    tensor_parallel_ok: bool
    """Whether `gpus` divides the attention heads, as tensor parallelism requires."""
    decode_tokens_per_s_per_sequence_bound: float
    total_bandwidth_bytes_per_s: float
    total_flops: float
    """Dense tensor-core FLOP/s of all GPUs at the precision the quantisation computes in."""
    flops_per_token: float
    """2 × active parameters: one multiply-add per weight per token."""

    def aggregate_decode_bound(self, batch: int, context_tokens: int = 0) -> float:
        """Upper bound on tokens/s summed over `batch` sequences decoding together.

        One step produces `batch` tokens; it must read the active weights once
        plus each sequence's KV cache (`context_tokens` on average), and do
        `batch × flops_per_token` of arithmetic. The slower of the two limits
        the step. With context 0 the KV reads are ignored, giving the loosest bound.
        """
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        step_bytes = self.active_weights_bytes + batch * context_tokens * self.kv_bytes_per_token
        memory_s = step_bytes / self.total_bandwidth_bytes_per_s
        compute_s = batch * self.flops_per_token / self.total_flops
        return batch / max(memory_s, compute_s)


def kv_bytes_per_token(model: ModelSpec, kv_dtype: KvDtype = "fp16") -> float:
    """Keys and values of every layer for one token: 2 × layers × KV heads × head size × bytes."""
    return 2 * model.num_layers * model.num_kv_heads * model.head_dim * BYTES_PER_PARAM[kv_dtype]


def size(
    model: ModelSpec,
    gpu: GpuSpec,
    quant: Quant,
    context_tokens: int,
    concurrency: int,
    gpu_memory_utilization: float = 0.9,
    kv_dtype: KvDtype = "fp16",
    gpus: int | None = None,
) -> SizingResult:
    """The smallest power-of-two GPU count that holds the weights plus KV cache
    for `concurrency` sequences of `context_tokens` tokens, and what it allows;
    or, with `gpus` given, what that many GPUs allow and whether it fits."""
    if quant not in BYTES_PER_PARAM:
        raise ValueError(f"unknown quantisation {quant!r}; one of {', '.join(BYTES_PER_PARAM)}")
    if context_tokens < 1 or concurrency < 1:
        raise ValueError("context_tokens and concurrency must be at least 1")
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    weights = model.params_b_total * 1e9 * BYTES_PER_PARAM[quant]
    active = model.params_b_active * 1e9 * BYTES_PER_PARAM[quant]
    per_token = kv_bytes_per_token(model, kv_dtype)
    kv_needed = per_token * context_tokens * concurrency
    per_gpu = gpu.memory_gb * GB * gpu_memory_utilization
    if gpus is None:
        gpus = 1
        while gpus * per_gpu < weights + kv_needed:
            gpus *= 2
    elif gpus < 1:
        raise ValueError(f"gpus must be at least 1, got {gpus}")
    usable = gpus * per_gpu
    # FP8 models run on FP8 tensor cores; int8/int4 kernels at best match them.
    # Taking the faster rate keeps the bound an upper bound.
    tflops = gpu.fp8_tflops if quant in ("fp8", "int8", "int4") and gpu.fp8_tflops else gpu.bf16_tflops
    bandwidth = gpus * gpu.memory_bandwidth_gbps * GB
    return SizingResult(
        quant=quant,
        kv_dtype=kv_dtype,
        weights_bytes=weights,
        active_weights_bytes=active,
        kv_bytes_per_token=per_token,
        kv_bytes_needed=kv_needed,
        gpus=gpus,
        fits=usable >= weights + kv_needed,
        usable_bytes=usable,
        kv_capacity_tokens=max(0, math.floor((usable - weights) / per_token)),
        tensor_parallel_ok=model.num_attention_heads % gpus == 0,
        decode_tokens_per_s_per_sequence_bound=bandwidth / active,
        total_bandwidth_bytes_per_s=bandwidth,
        total_flops=gpus * tflops * 1e12,
        flops_per_token=2 * model.params_b_active * 1e9,
    )
