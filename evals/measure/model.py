"""What `evals measure` finds, as plain data: one Step per load level, the
operating point the cost projection uses, and what is wrong with the measurement.

Pydantic models, so a Frontier goes to the store, to `--json` and back
unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["concurrency", "rate"]
"""Closed loop (C workers sending back to back) or open loop (Poisson arrivals at λ requests/s)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dist(_Strict):
    """Percentiles of one latency over a step's measured requests, in milliseconds."""

    n: int
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


class Slo(_Strict):
    """The latency target the operating point must meet, at `percentile` of requests."""

    ttft_ms: float = Field(gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    """Time per output token after the first (vLLM's TPOT), per request: decode speed as a user feels it."""
    e2e_ms: float | None = Field(default=None, gt=0)
    percentile: Literal[50, 90, 95, 99] = 95
    """p95: strict enough that most users see the target, loose enough that a
    handful of slow requests in a short step do not decide the capacity."""
    max_error_share: float = Field(default=0.01, ge=0, le=1)
    """A step with more failed requests than this cannot be the operating point."""


class Step(_Strict):
    """One load level. Rates are over the step's window: from the moment every
    warm-up request had finished to the end of the last measured request, with
    the load kept on until then, so the window never sees the ramp-up or the drain."""

    mode: Mode
    level: float
    """C for a concurrency step, λ (requests/s offered) for a rate step."""
    requests: int
    """Measured requests sent (warm-up and the load kept on after them excluded)."""
    served: int
    """Of those, answered in full or cut at max_tokens."""
    errors: dict[str, int]
    """Failed measured requests by HTTP status, else by failure kind."""
    window_s: float
    requests_per_s: float
    output_tokens_per_s: float | None
    """None when a request served in the window has no reported output token count."""
    total_tokens_per_s: float | None
    """Input and output tokens of the requests served in the window, ÷ the window; None when any count is unknown."""
    goodput_per_s: float | None
    """Served requests per second that each met every per-request target (TTFT, TPOT,
    end-to-end; as vLLM's --goodput); None when nothing could be judged."""
    ttft_ms: Dist | None
    """None when the responses were not streamed: no first token to time."""
    itl_ms: Dist | None
    """Inter-token latency as vLLM defines it: the gaps between consecutive content
    chunks of every measured streamed request, pooled (a chunk may hold several tokens)."""
    tpot_ms: Dist | None = None
    """Time per output token, one value per request: (end-to-end − TTFT) ÷ (output tokens − 1)."""
    unknown_tokens: int = 0
    """Served requests whose server reported no output token count: left out of the
    token rates and TPOT, never counted as 0 tokens."""
    e2e_ms: Dist | None
    per_stream_output_tps: float | None
    """Median decode speed of one request: (output tokens − 1) ÷ (end-to-end − TTFT);
    without streaming, output tokens ÷ end-to-end (a lower bound)."""
    peak_in_flight: int
    meets_slo: bool
    decode_bound_per_stream_tps: float | None = None
    decode_bound_aggregate_tps: float | None = None
    """The physical bound at this step's batch (C, or the peak in flight for a rate step)."""
    scheduled_rate: float | None = None
    """Rate steps: the rate the drawn schedule asked for over the measured arrivals."""
    achieved_rate: float | None = None
    """Rate steps: the rate the client actually sent them at."""
    lag_ms: Dist | None = None
    """Rate steps: actual send time − scheduled time; small means the client was not the bottleneck."""
    burstiness: float | None = None
    """Rate steps: the gamma shape of the arrival gaps (1 = Poisson; lower is burstier)."""
    client_lag_ms: Dist | None = None
    """The client's own lag over the step's window: how late its event loop ran a timer due every
    5 ms while busy with its own work (an event that arrived on the socket waits that long to be
    processed and timed); time the process was descheduled or waiting for the GIL is not counted."""
    client_bound: bool = False
    """The client, not the server, was the bottleneck (its lag p99 above 10 ms, or an open-loop
    schedule it sent late): the step's figures are flagged and it is never the operating point."""


class OperatingPoint(_Strict):
    """The busiest step that meets the SLO: one replica's capacity for the cost projection."""

    mode: Mode
    level: float
    requests_per_s: float
    tasks_per_hour: float
    """Requests served per hour at this step; `SelfHostedRunner.tasks_per_hour`."""
    output_tokens_per_s: float | None
    ttft_ms: float | None
    """TTFT at the SLO's percentile."""
    e2e_ms: float | None
    """End-to-end latency at the SLO's percentile."""
    basis: str
    """One sentence saying where the figure comes from, for the report's method section."""


class Bound(_Strict):
    """The hardware the physical decode bound was computed for."""

    model: str
    gpu: str
    gpus: int
    quant: str
    per_sequence_tps: float


class Frontier(_Strict):
    runner: str
    model: str
    profile_hash: str
    suite: str | None
    simulated: bool
    streaming: bool
    created_at: str
    mode: Mode
    slo: Slo
    steps: list[Step]
    operating_point: OperatingPoint | None
    flags: list[str]
    """Measurement problems: a figure above the physical bound, a client that could not keep up."""
    notes: list[str]
    """What could not be measured or checked, and why."""
    bound: Bound | None
    client: str | None = None
    """The HTTP client that drove the sweep: `lean` (the minimal HTTP client, for OpenAI-compatible servers) or `sdk`."""
    id: int | None = None
    """The sweep's id in the results store once saved (`evals measurements` lists them; `--measurement ID` picks one)."""

    @property
    def tasks_per_hour(self) -> float | None:
        return self.operating_point.tasks_per_hour if self.operating_point else None
