"""The physical decode bound of a self-hosted runner, and the steps that beat it.

Each decode step reads the active weights once from memory, so no stream can
decode faster than the GPUs' combined bandwidth ÷ those bytes, and a batch no
faster than `SizingResult.aggregate_decode_bound` (see evals.cost.sizing). A
measured rate above the bound is not a fast server but a broken measurement:
usage that miscounts tokens, another model behind the name, a cache answering.

The bound assumes the precision with the fewest bytes the profile allows for
(a launch block's or offline engine's `quantization`, else what the model
name says, else BF16), so that it stays an upper bound.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from evals.config import ConfigError, RunnerProfile
from evals.cost.catalogue import ModelSpec, load_gpus, load_models
from evals.cost.sizing import Quant, SizingResult, size
from evals.measure.model import Bound, Step

# vLLM's --quantization values; the 4-bit family is taken at 4 bits (bitsandbytes
# can be 8-bit, and fewer bytes only loosens the bound).
_VLLM_QUANT: dict[str, Quant] = {"fp8": "fp8", "awq": "int4", "awq_marlin": "int4", "gptq": "int4", "gptq_marlin": "int4", "bitsandbytes": "int4", "int8": "int8", "int4": "int4"}
_NAME_QUANT: tuple[tuple[re.Pattern[str], Quant], ...] = (
    (re.compile(r"awq|gptq|int4|w4a16|4bit|nf4|bnb"), "int4"),
    (re.compile(r"fp8"), "fp8"),
    (re.compile(r"int8|w8a8|8bit"), "int8"),
)


@dataclass(frozen=True)
class DecodeBound:
    info: Bound
    sizing: SizingResult
    """One replica: the profile's GPUs."""
    replicas: int = 1
    """Base URLs the load is spread over, each taken as such a replica."""

    def aggregate(self, batch: int) -> float:
        """Loosest bound for `batch` streams spread over the replicas: KV reads ignored (context 0)."""
        return self.replicas * self.sizing.aggregate_decode_bound(max(1, math.ceil(batch / self.replicas)))


def _names(profile: RunnerProfile) -> list[str]:
    """The name requests use, then the weights a launch block serves (an adapter's base, a served alias)."""
    return [profile.model] + ([profile.launch.model] if profile.launch else [])


def quantisation(profile: RunnerProfile) -> Quant:
    given = profile.launch.quantization if profile.launch else (profile.engine or {}).get("quantization")
    if isinstance(given, str) and given.lower() in _VLLM_QUANT:
        return _VLLM_QUANT[given.lower()]
    for name in _names(profile):
        for pattern, quant in _NAME_QUANT:
            if pattern.search(name.lower()):
                return quant
    return "bf16"


def _catalogued(profile: RunnerProfile) -> ModelSpec | None:
    models = load_models()
    for name in _names(profile):
        try:
            return models.get(name)
        except ConfigError:
            continue
    return None


def _on_gpus(s: SizingResult, model: ModelSpec, gpus: int) -> SizingResult:
    """`size()` picks the fewest GPUs that fit; the bound is for the GPUs the profile pays for."""
    scale = gpus / s.gpus
    usable = s.usable_bytes * scale
    bandwidth = s.total_bandwidth_bytes_per_s * scale
    return s.model_copy(
        update={
            "gpus": gpus,
            "usable_bytes": usable,
            "kv_capacity_tokens": max(0, math.floor((usable - s.weights_bytes) / s.kv_bytes_per_token)),
            "tensor_parallel_ok": model.num_attention_heads % gpus == 0,
            "total_bandwidth_bytes_per_s": bandwidth,
            "total_flops": s.total_flops * scale,
            "decode_tokens_per_s_per_sequence_bound": bandwidth / s.active_weights_bytes,
        }
    )


def decode_bound(profile: RunnerProfile) -> tuple[DecodeBound | None, str | None]:
    """The bound, or None and the reason it cannot be computed."""
    if profile.simulated:
        return None, "physical decode bound not checked: the runner is simulated (no hardware behind it)"
    sh = profile.pricing.self_hosted
    if sh is None:
        return None, "physical decode bound not checked: API runner, its hardware is unknown"
    model = _catalogued(profile)
    if model is None:
        return None, f"physical decode bound not checked: model {' / '.join(map(repr, _names(profile)))} is not in the model catalogue"
    try:
        gpu = load_gpus().get(sh.gpu)
    except ConfigError:
        return None, f"physical decode bound not checked: GPU {sh.gpu!r} is not in the GPU catalogue"
    quant = quantisation(profile)
    sizing = _on_gpus(size(model, gpu, quant, context_tokens=1, concurrency=1), model, sh.gpus)
    info = Bound(model=model.hf_id, gpu=sh.gpu, gpus=sh.gpus, quant=quant, per_sequence_tps=sizing.decode_tokens_per_s_per_sequence_bound)
    return DecodeBound(info, sizing, replicas=max(1, len(profile.urls()))), None


def _tps(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _where(step: Step) -> str:
    return f"concurrency {step.level:g}" if step.mode == "concurrency" else f"rate {step.level:g}/s"


def apply(step: Step, bound: DecodeBound) -> tuple[Step, list[str]]:
    """The step with its bounds filled in, and a sentence for each figure above them.

    The per-stream check uses the median: one response whose chunks reached the
    client in a single burst shows an absurd rate without anything being wrong."""
    batch = int(step.level) if step.mode == "concurrency" else step.peak_in_flight
    per_stream, aggregate = bound.info.per_sequence_tps, bound.aggregate(batch)
    step = step.model_copy(update={"decode_bound_per_stream_tps": per_stream, "decode_bound_aggregate_tps": aggregate})
    hw = f"{bound.info.gpus}×{bound.info.gpu}, {bound.info.quant} weights of {bound.info.model}"
    why = "the measurement is wrong: check that usage counts tokens, that the served model is the one named, and that no cache answered"
    flags = []
    if step.per_stream_output_tps is not None and step.per_stream_output_tps > per_stream:
        flags.append(f"{_where(step)}: median per-stream output {_tps(step.per_stream_output_tps)} tokens/s exceeds the physical decode bound of {_tps(per_stream)} tokens/s ({hw}); {why}.")
    if step.output_tokens_per_s is not None and step.output_tokens_per_s > aggregate:
        flags.append(f"{_where(step)}: aggregate output {_tps(step.output_tokens_per_s)} tokens/s exceeds the physical decode bound of {_tps(aggregate)} tokens/s for a batch of {batch} ({hw}); {why}.")
    return step, flags
