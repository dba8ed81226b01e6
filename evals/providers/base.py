"""The one contract every provider implements.

Failures are data, not exceptions: a provider always returns a Completion,
whose status says whether its text may be graded at all. Only `ok`
completions are ever scored; `truncated`, `error`, `timeout` and `refused`
are counted apart and never count as completed tasks.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class Status(str, enum.Enum):
    ok = "ok"
    error = "error"
    truncated = "truncated"
    timeout = "timeout"
    refused = "refused"


class Usage(BaseModel):
    """Token counts exactly as the server reported them (None when it did not)."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int | None = None
    """Prompt tokens billed, including cached ones."""
    cached_input_tokens: int | None = None
    """Prompt tokens served from the provider's prompt cache (billed at the cached rate)."""
    cache_write_tokens: int | None = None
    """Prompt tokens written to the cache (Anthropic cache_creation_input_tokens)."""
    output_tokens: int | None = None
    """Completion tokens billed, reasoning tokens included."""
    reasoning_tokens: int | None = None
    """Of output_tokens, how many were hidden reasoning."""


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttft_ms: float | None = None
    """Time from sending the request to the first content token (streaming only)."""
    latency_ms: float | None = None
    """Time from sending the request to the end of the response."""
    output_tps: float | None = None
    """Output tokens per second after the first token (decode speed): 1000 / tpot_ms."""
    tpot_ms: float | None = None
    """vLLM's time per output token: (latency - TTFT) / (output tokens - 1), a per-request mean."""
    chunk_gaps_ms: list[float] | None = None
    """Streaming only: the gap before each content chunk after the first (vLLM's ITL
    samples). Kept in memory for `evals measure`; the store keeps the figures above."""


class Completion(BaseModel):
    """One attempt's outcome. `http_status` and `retry_after_s` let the executor
    decide on retries without the provider knowing the policy."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    """Tool calls in OpenAI's shape: {id, type: "function", function: {name, arguments}}."""
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    timing: Timing = Field(default_factory=Timing)
    error: str | None = None
    """Redacted, human-readable error; never contains an API key."""
    http_status: int | None = None
    retry_after_s: float | None = None
    error_kind: str | None = None
    """Machine-readable failure class: rate_limit, server, connection, auth,
    bad_request, quota, timeout_connect, timeout_idle, timeout_total, dropped_stream,
    empty_stream (a 200 that carried nothing: the server's fault)."""
    served_model: str | None = None
    """The model name the server says answered."""


class GenerationParams(BaseModel):
    """Parameters sent with every request of a runner. Part of the request key."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = 1024
    temperature: float | None = 0.0
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    extra_body: dict[str, Any] | None = None
    """Passed through verbatim (e.g. vLLM's `guided_json`, `top_k`)."""


class Timeouts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connect_s: float = 10.0
    idle_s: float = 60.0
    """A stream that delivers nothing for this long is a stalled stream."""
    total_s: float = 600.0


Message = dict[str, Any]


@runtime_checkable
class Provider(Protocol):
    """A provider turns chat messages into one Completion. One method, async.

    The HTTP providers implement it as `evals.providers.stream.drive` over their
    own `events()`: the protocol is theirs, the clock, timeouts and status the
    driver's, so every protocol is timed and judged the same way."""

    name: str
    base_url: str | None

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion: ...

    async def aclose(self) -> None: ...
