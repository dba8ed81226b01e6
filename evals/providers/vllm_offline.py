"""The vLLM engine in-process, for a GPU box with no server to run.

vLLM is an optional extra, imported only when such a runner is built, so the
tool installs and runs everywhere else. The engine (`vllm.AsyncLLMEngine`: V1's
AsyncLLM in current vLLM) is built when the runner's provider is, before the
run is created, so a wrong model id or too little GPU memory fails before
anything is written.

Each request goes to the engine on its own as it arrives (`engine.generate`),
and the engine batches whatever is in flight continuously, as `vllm serve`
does: set the runner's `concurrency` high (e.g. 256) to keep it full. Its
outputs stream back as events into the shared stream driver
(evals/providers/stream.py), so time to first token, the gaps between chunks,
the idle and total timeouts and the status of an answer mean exactly what they
mean for an HTTP runner; a request the driver gives up on is aborted in the
engine, not left to run. The conversation is rendered with the model's own chat
template (the engine's tokenizer), as the server's /v1/chat/completions does.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator
from typing import Any

from evals.errors import UsageError
from evals.providers.base import Completion, GenerationParams, Message, Status, Timeouts, Usage
from evals.providers.stream import Event, Finish, TextDelta, UsageReport, drive
from evals.secrets import scrub


class EngineUnavailable(UsageError, RuntimeError):
    """The in-process engine cannot run on this machine (no vllm extra, no GPU)."""


MISSING_EXTRA = "the vllm extra is not installed: pip install 'workload-evals[vllm]' on a machine with a CUDA GPU"
NO_GPU = (
    "provider vllm_offline needs a CUDA GPU and this process sees none (check nvidia-smi and CUDA_VISIBLE_DEVICES); "
    "without one, point an openai_compatible runner at a vLLM server elsewhere"
)

_FINISH_STATUS = {"stop": Status.ok, "length": Status.truncated}


def import_vllm() -> Any:
    """The `vllm` module, or an EngineUnavailable that says how to install it."""
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


class EngineFinished(RuntimeError):
    """The engine ended a request for a reason that is not an answer (aborted, or unknown)."""


def engine_events(outputs: AsyncIterator[Any]) -> AsyncIterator[Event]:
    """A request's RequestOutputs (cumulative, vLLM's default) as stream events: the new text of each,
    the token counts so far, and the finish reason once the engine says it finished."""

    async def events() -> AsyncIterator[Event]:
        seen = 0
        async for out in outputs:
            seq = out.outputs[0] if getattr(out, "outputs", None) else None
            if seq is None:
                continue
            if len(seq.text) > seen:
                yield TextDelta(seq.text[seen:])
                seen = len(seq.text)
            prompt_ids = getattr(out, "prompt_token_ids", None)
            cached = getattr(out, "num_cached_tokens", None)
            yield UsageReport(
                Usage(
                    input_tokens=len(prompt_ids) if prompt_ids is not None else None,
                    cached_input_tokens=cached if isinstance(cached, int) else None,
                    output_tokens=len(seq.token_ids),
                )
            )
            if getattr(out, "finished", False):
                if seq.finish_reason not in _FINISH_STATUS:
                    raise EngineFinished(f"the engine finished this request with reason {seq.finish_reason!r}")
                yield Finish(seq.finish_reason)
                return

    return events()


def _failure(exc: BaseException, got: bool) -> Completion:
    return Completion(status=Status.error, error=scrub(f"{type(exc).__name__}: {exc}"), error_kind="engine")


class VLLMOfflineProvider:
    """A runner served by vLLM's async engine in this process. `engine` holds keyword arguments for
    `vllm.AsyncEngineArgs` (tensor_parallel_size, quantization, max_model_len, ...)."""

    def __init__(self, *, name: str, model: str, engine: dict[str, Any], timeouts: Timeouts | None = None) -> None:
        self.name = name
        self.model = model
        self.base_url: str | None = None
        self.timeouts = timeouts or Timeouts()
        self._vllm = import_vllm()
        require_gpu()
        self._engine: Any = self._vllm.AsyncLLMEngine.from_engine_args(self._vllm.AsyncEngineArgs(model=model, **engine))
        self._tokenizer: Any = None

    async def _prompt(self, messages: list[Message]) -> str:
        """The conversation through the model's chat template, as vLLM's chat endpoint renders it."""
        if self._tokenizer is None:
            # an async method in vLLM 0.8-0.10, a plain one or a `tokenizer` attribute in others
            get = getattr(self._engine, "get_tokenizer", None)
            tok = get() if callable(get) else self._engine.tokenizer
            self._tokenizer = await tok if inspect.isawaitable(tok) else tok
        return str(self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    async def _events(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[Event]:
        request_id = f"evals-{uuid.uuid4().hex}"
        prompt = await self._prompt(messages)
        sp = sampling_params(self._vllm, params)
        done = False
        try:
            async for ev in engine_events(self._engine.generate(prompt, sp, request_id)):
                done = done or isinstance(ev, Finish)
                yield ev
        finally:
            if not done:  # timed out, failed or cancelled: free its slot in the running batch
                with contextlib.suppress(Exception):
                    await self._engine.abort(request_id)

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        if getattr(params, "tools", None) or getattr(params, "response_format", None):
            # Never a silently different request: sent without them, an agent sample would be graded on prose.
            why = "request not sent: the in-process engine (vllm_offline) sends no tools or response_format; serve the model with a `launch:` block (tool_call_parser) to replay this sample"
            return Completion(status=Status.error, error=why, error_kind="bad_request")
        c = await drive(
            lambda: self._events(messages, params), timeouts=self.timeouts, statuses=_FINISH_STATUS, classify=_failure, streamed=True, missing="the engine's finish",
        )
        c.served_model = c.served_model or self.model
        return c

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):  # V1 stops its engine-core process; V0 frees the GPU when collected
            with contextlib.suppress(Exception):
                shutdown()
