"""How many GPUs a model needs, and the fastest it could possibly decode on them.

Sizing: the weights (parameters × bytes per parameter) and the KV cache of
every sequence in flight (2 × layers × KV heads × head size × bytes per
token) must fit in the memory the server lets the engine use
(`gpu_memory_utilization`, vLLM's knob, leaves the rest for activations and
the CUDA context). Tensor parallelism splits a model over GPUs of one node
(at most MAX_GPUS_PER_NODE, the size of an HGX board or a full PCIe server),
and only over counts vLLM accepts: the count divides the attention heads,
and divides the KV heads or is a multiple of them (vLLM's QKVParallelLinear
replicates KV heads when there are fewer than GPUs). Beyond one node a model
needs pipeline parallelism across nodes, which this sizing does not cover.

Bound: each decode step reads every weight that the step uses once (all of
them for a dense model, the active experts' for MoE) plus the KV cache of
every sequence in flight, so with `concurrency` sequences of
`context_tokens` each, one sequence cannot decode faster than the GPUs'
combined bandwidth ÷ (active weight bytes + concurrency × context × KV bytes
per token). Tensor cores cap a large batch too. A measurement above these
bounds is wrong.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from evals.config import ConfigError
from evals.cost.catalogue import GpuSpec, ModelSpec

Quant = Literal["fp16", "bf16", "fp8", "int8", "int4"]
KvDtype = Literal["fp16", "bf16", "fp8"]

BYTES_PER_PARAM: dict[str, float] = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
GB = 1e9
MAX_GPUS_PER_NODE = 8
"""GPUs one server holds: an HGX board (A100, H100, H200, B200) or a large PCIe server."""


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
    context_tokens: int
    concurrency: int
    gpus: int
    fits: bool
    """Whether weights + KV for the requested concurrency fit on `gpus` (false when even the largest
    tensor-parallel count of one node is too small)."""
    usable_bytes: float
    """Memory the engine may use on all `gpus`: GPUs × memory × gpu_memory_utilization."""
    kv_capacity_tokens: int
    """Tokens of KV cache that fit beside the weights on `gpus` GPUs."""
    tensor_parallel_ok: bool
    """Whether vLLM can split the model `gpus` ways (see tensor_parallel_sizes)."""
    tensor_parallel_sizes: list[int]
    """Every GPU count of one node the model's heads can be split over."""
    interconnect: str | None
    """The GPU's link between GPUs of a node, from the catalogue."""
    step_bytes: float
    """Bytes read per decode step: active weights + the KV cache of all sequences in flight."""
    decode_tokens_per_s_per_sequence_bound: float
    """tokens/s of one sequence while `concurrency` sequences of `context_tokens` decode together."""
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


def tensor_parallel_ok(model: ModelSpec, gpus: int) -> bool:
    """vLLM's rule: the count divides the attention heads, and divides the KV heads or is a multiple of them."""
    kv = model.num_kv_heads
    return model.num_attention_heads % gpus == 0 and (kv % gpus == 0 if kv >= gpus else gpus % kv == 0)


def tensor_parallel_sizes(model: ModelSpec, max_gpus: int = MAX_GPUS_PER_NODE) -> list[int]:
    return [n for n in range(1, max_gpus + 1) if tensor_parallel_ok(model, n)]


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
    """The smallest tensor-parallel GPU count of one node that holds the weights plus KV cache
    for `concurrency` sequences of `context_tokens` tokens, and what it allows (the largest
    count, marked as not fitting, when none does); or, with `gpus` given, what that many GPUs
    allow and whether it fits."""
    if quant not in BYTES_PER_PARAM:
        raise ValueError(f"unknown quantisation {quant!r}; one of {', '.join(BYTES_PER_PARAM)}")
    if context_tokens < 1 or concurrency < 1:
        raise ValueError("context and concurrency must be at least 1")
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    weights = model.params_b_total * 1e9 * BYTES_PER_PARAM[quant]
    active = model.params_b_active * 1e9 * BYTES_PER_PARAM[quant]
    per_token = kv_bytes_per_token(model, kv_dtype)
    kv_needed = per_token * context_tokens * concurrency
    per_gpu = gpu.memory_gb * GB * gpu_memory_utilization
    sizes = tensor_parallel_sizes(model)
    if gpus is None:
        gpus = next((n for n in sizes if n * per_gpu >= weights + kv_needed), sizes[-1])
    elif not 1 <= gpus <= MAX_GPUS_PER_NODE:
        raise ValueError(
            f"--gpus {gpus}: one node holds 1 to {MAX_GPUS_PER_NODE} GPUs; tensor parallelism stays within a node "
            "(across nodes a model needs pipeline parallelism, which this sizing does not cover)"
        )
    usable = gpus * per_gpu
    # FP8 models run on FP8 tensor cores; int8/int4 kernels at best match them.
    # Taking the faster rate keeps the bound an upper bound.
    tflops = gpu.fp8_tflops if quant in ("fp8", "int8", "int4") and gpu.fp8_tflops else gpu.bf16_tflops
    bandwidth = gpus * gpu.memory_bandwidth_gbps * GB
    result = SizingResult(
        quant=quant,
        kv_dtype=kv_dtype,
        weights_bytes=weights,
        active_weights_bytes=active,
        kv_bytes_per_token=per_token,
        kv_bytes_needed=kv_needed,
        context_tokens=context_tokens,
        concurrency=concurrency,
        gpus=gpus,
        fits=usable >= weights + kv_needed,
        usable_bytes=usable,
        kv_capacity_tokens=max(0, math.floor((usable - weights) / per_token)),
        tensor_parallel_ok=tensor_parallel_ok(model, gpus),
        tensor_parallel_sizes=sizes,
        interconnect=gpu.interconnect,
        step_bytes=active + kv_needed,
        decode_tokens_per_s_per_sequence_bound=0.0,
        total_bandwidth_bytes_per_s=bandwidth,
        total_flops=gpus * tflops * 1e12,
        flops_per_token=2 * model.params_b_active * 1e9,
    )
    per_sequence = result.aggregate_decode_bound(concurrency, context_tokens) / concurrency
    return result.model_copy(update={"decode_tokens_per_s_per_sequence_bound": per_sequence})


def _hf_int(cfg: dict[str, Any], path: Path, *names: str, default: int | None = None) -> int:
    """The first of `names` the file has, as a positive integer; the error names the file and the field."""
    for n in names:
        v = cfg.get(n)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{path}: field {n!r} must be a positive whole number, got {v!r}")
            return v
    if default is not None:
        return default
    raise ConfigError(f"{path}: field {' or '.join(repr(n) for n in names)} is missing; give the model's Hugging Face config.json")


def model_from_hf_config(path: str | Path) -> ModelSpec:
    """A model's sizing figures from its Hugging Face `config.json`, for models the catalogue lacks.

    The parameter count is rebuilt from the shapes of a decoder with gated MLPs (Llama,
    Mistral, Qwen, Mixtral-style experts): the catalogue's model-card figures are not
    in the file. Per layer: q and o projections (hidden × heads × head size each), k and v
    (hidden × KV heads × head size each), q/k/v biases where the model has them, three MLP
    matrices (hidden × intermediate) per expert, the router, two norms; plus the embedding,
    an untied output head and the final norm. Active parameters count `num_experts_per_tok`
    experts instead of all.
    """
    p = Path(path)
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file; give the path of the model's config.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not a JSON file ({e}); give the model's Hugging Face config.json") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{p}: expected a JSON object (a Hugging Face config.json)")
    cfg = {**cfg.get("text_config", {}), **cfg} if isinstance(cfg.get("text_config"), dict) else cfg
    layers = _hf_int(cfg, p, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _hf_int(cfg, p, "hidden_size", "n_embd", "d_model")
    heads = _hf_int(cfg, p, "num_attention_heads", "n_head")
    kv_heads = _hf_int(cfg, p, "num_key_value_heads", default=heads)
    head_dim = _hf_int(cfg, p, "head_dim", default=hidden // heads)
    vocab = _hf_int(cfg, p, "vocab_size")
    intermediate = _hf_int(cfg, p, "intermediate_size", "ffn_dim")
    experts = _hf_int(cfg, p, "num_local_experts", "num_experts", "n_routed_experts", default=1)
    active_experts = _hf_int(cfg, p, "num_experts_per_tok", default=experts) if experts > 1 else 1
    expert_size = _hf_int(cfg, p, "moe_intermediate_size", default=intermediate) if experts > 1 else intermediate
    qkv_bias = bool(cfg.get("attention_bias")) or cfg.get("model_type") in ("qwen2", "qwen2_moe")
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    attention += (heads + 2 * kv_heads) * head_dim if qkv_bias else 0
    router = hidden * experts if experts > 1 else 0
    mlp_one = 3 * hidden * expert_size
    per_layer_fixed = attention + router + 2 * hidden
    outside = vocab * hidden * (1 if cfg.get("tie_word_embeddings") else 2) + hidden
    total = layers * (per_layer_fixed + experts * mlp_one) + outside
    active = layers * (per_layer_fixed + active_experts * mlp_one) + outside
    name = str(cfg.get("_name_or_path") or p.parent.name or p.stem)
    return ModelSpec(
        hf_id=name,
        params_b_total=total / 1e9,
        params_b_active=active / 1e9,
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        hidden_size=hidden,
        context_length=_hf_int(cfg, p, "max_position_embeddings", "n_positions", default=1),
        source=str(p),
        as_of=date.fromtimestamp(p.stat().st_mtime),
        note="parameter count rebuilt from the config's shapes (gated-MLP decoder)",
    )
