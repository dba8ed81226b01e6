"""The vLLM engine in-process (`vllm.LLM`), for a GPU box with no server to run.

vLLM is an optional extra, imported only when such a runner is built, so the
tool installs and runs everywhere else. The engine is built when the runner's
provider is (before the run is created), so a wrong model id or too little GPU
memory fails before anything is written.

The engine is at its best given many prompts at once, so requests that arrive
while it is busy are queued and sent as one batch (`complete_batch`) as soon as
it is free: set the runner's `concurrency` high (e.g. 256) to keep batches
full. Generation runs in a worker thread, one batch at a time, so the event
loop stays free for other runners.

Limits, honestly: a batch cannot be cancelled, so the runner's timeouts do not
apply; and timing comes from `RequestOutput.metrics` where the vLLM version
fills it in (time to first token, latency), else latency is the batch's wall
time and time to first token is unknown.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from evals.errors import UsageError
from evals.providers.base import Completion, GenerationParams, Message, Status, Timing, Usage
from evals.secrets import scrub


class EngineUnavailable(UsageError, RuntimeError):
    """The in-process engine cannot run on this machine (no vllm extra, no GPU)."""


MISSING_EXTRA = "the vllm extra is not installed: pip install 'workload-evals[vllm]' on a machine with a CUDA GPU"
NO_GPU = (
    "provider vllm_offline needs a CUDA GPU and this process sees none (check nvidia-smi and CUDA_VISIBLE_DEVICES); "
    "without one, point an openai_compatible runner at a vLLM server elsewhere"
)

_FINISH_STATUS = {"stop": Status.ok, "length": Status.truncated}

_Pending = tuple[list[Message], GenerationParams, "asyncio.Future[Completion]"]


def import_vllm() -> Any:
    """The `vllm` module, or a RuntimeError that says how to install it."""
    try:
        import vllm
    except ImportError:
        raise EngineUnavailable(MISSING_EXTRA) from None
    return vllm


def require_gpu() -> None:
    try:
        import torch
    except ImportError:
        raise EngineUnavailable(MISSING_EXTRA) from None
    if not torch.cuda.is_available():
        raise EngineUnavailable(NO_GPU)


def sampling_params(vllm: Any, params: GenerationParams) -> Any:
    """GenerationParams as `vllm.SamplingParams`; `extra_body` keys (top_k, min_p, ...) pass through."""
    kw: dict[str, Any] = {"max_tokens": params.max_tokens}
    if params.temperature is not None:
        kw["temperature"] = params.temperature
    if params.top_p is not None:
        kw["top_p"] = params.top_p
    if params.seed is not None:
        kw["seed"] = params.seed
    if params.stop:
        kw["stop"] = params.stop
    kw.update(params.extra_body or {})
    return vllm.SamplingParams(**kw)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def output_timing(metrics: Any, output_tokens: int, batch_ms: float) -> Timing:
    """Timing of one request from its RequestOutput.metrics: V0's RequestMetrics
    (wall-clock arrival/first token/finished times) or V1's RequestStateStats
    (first_token_latency plus engine timestamps). Unknown parts stay None."""
    ttft_s = latency_s = None
    arrival = _number(getattr(metrics, "arrival_time", None))
    first = _number(getattr(metrics, "first_token_time", None))
    finished = _number(getattr(metrics, "finished_time", None))
    if arrival is not None and first is not None:
        ttft_s = first - arrival
        latency_s = finished - arrival if finished is not None else None
    else:
        ttft_s = _number(getattr(metrics, "first_token_latency", None))
        first_ts = _number(getattr(metrics, "first_token_ts", None))
        last_ts = _number(getattr(metrics, "last_token_ts", None))
        if ttft_s is not None and first_ts is not None and last_ts is not None:
            latency_s = ttft_s + (last_ts - first_ts)
    latency_ms = latency_s * 1000 if latency_s is not None else batch_ms
    ttft_ms = ttft_s * 1000 if ttft_s is not None else None
    tps = None
    if ttft_ms is not None and output_tokens > 1 and latency_ms > ttft_ms:
        tps = (output_tokens - 1) / ((latency_ms - ttft_ms) / 1000)
    return Timing(ttft_ms=ttft_ms, latency_ms=latency_ms, output_tps=tps)


def to_completion(out: Any, model: str, batch_ms: float) -> Completion:
    """One vllm.RequestOutput as a Completion: usage from its token ids, status from finish_reason."""
    seq = out.outputs[0] if getattr(out, "outputs", None) else None
    if seq is None:
        return Completion(status=Status.error, error="the engine returned no output for this request", error_kind="engine", timing=Timing(latency_ms=batch_ms))
    prompt_ids = getattr(out, "prompt_token_ids", None)
    cached = getattr(out, "num_cached_tokens", None)
    n_out = len(seq.token_ids)
    usage = Usage(
        input_tokens=len(prompt_ids) if prompt_ids is not None else None,
        cached_input_tokens=cached if isinstance(cached, int) else None,
        output_tokens=n_out,
    )
    finish = seq.finish_reason
    status = _FINISH_STATUS.get(finish or "", Status.error)
    return Completion(
        status=status,
        text=seq.text,
        finish_reason=finish,
        usage=usage,
        timing=output_timing(getattr(out, "metrics", None), n_out, batch_ms),
        error=None if status is not Status.error else f"the engine finished this request with reason {finish!r}",
        error_kind=None if status is not Status.error else "engine",
        served_model=model,
    )


class VLLMOfflineProvider:
    """A runner served by `vllm.LLM` in this process. `engine` holds keyword
    arguments for `vllm.LLM` (tensor_parallel_size, quantization, max_model_len, ...)."""

    def __init__(self, *, name: str, model: str, engine: dict[str, Any]) -> None:
        self.name = name
        self.model = model
        self.base_url: str | None = None
        self._vllm = import_vllm()
        require_gpu()
        self._llm: Any = self._vllm.LLM(model=model, **engine)
        self._engine_lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._batcher: asyncio.Task[None] | None = None

    def complete_batch(self, conversations: list[list[Message]], params: GenerationParams) -> list[Completion]:
        """Generate for many chat conversations in one engine call (chat template applied by vLLM)."""
        started = time.perf_counter()
        try:
            sp = sampling_params(self._vllm, params)
            with self._engine_lock:
                outputs = self._llm.chat(conversations, sp, use_tqdm=False)
        except Exception as exc:  # failures are data: every request of the batch gets the error
            ms = (time.perf_counter() - started) * 1000
            err = scrub(f"{type(exc).__name__}: {exc}")
            return [Completion(status=Status.error, error=err, error_kind="engine", timing=Timing(latency_ms=ms)) for _ in conversations]
        ms = (time.perf_counter() - started) * 1000
        return [to_completion(o, self.model, ms) for o in outputs]

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        if getattr(params, "tools", None) or getattr(params, "response_format", None):
            # Never a silently different request: sent without them, an agent sample would be graded on prose.
            why = "request not sent: the in-process engine (vllm_offline) sends no tools or response_format; serve the model with a `launch:` block (tool_call_parser) to replay this sample"
            return Completion(status=Status.error, error=why, error_kind="bad_request")
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending.append((messages, params, fut))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        """Send what is queued as one batch per distinct parameters, until nothing is left."""
        while self._pending:
            await asyncio.sleep(0)  # requests submitted in the same tick join this batch
            batch, self._pending = self._pending, []
            groups: dict[str, list[_Pending]] = {}
            for item in batch:
                groups.setdefault(item[1].model_dump_json(), []).append(item)
            for items in groups.values():
                try:
                    results = await asyncio.to_thread(self.complete_batch, [m for m, _, _ in items], items[0][1])
                except BaseException as exc:
                    for _, _, f in items:
                        if not f.done():
                            f.set_exception(exc if isinstance(exc, Exception) else RuntimeError("the batch was cancelled"))
                    raise
                for (_, _, f), c in zip(items, results):
                    if not f.done():
                        f.set_result(c)

    async def aclose(self) -> None:
        self._llm = None  # the engine frees its GPU memory when collected
