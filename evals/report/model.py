"""ReportModel: everything the report shows, computed once by the analyse stage.

`summary.json` is this model minus the per-sample rows; its schema is
versioned by SCHEMA_VERSION (bump the minor for added fields, the major for
changed or removed ones). Each field says what it means, since CI jobs and
dashboards read it without reading our code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from evals.measure.model import Frontier

SCHEMA_VERSION = "2.1"


class Flakiness(BaseModel):
    """How often a runner disagrees with itself on one sample across epochs."""

    samples: int
    """Samples answered ok more than once."""
    mixed: int
    """Of those, samples it passed on some epochs and failed on others."""
    agreement: float
    """Mean over those samples of the chance that two of its epochs agree (1.0: never flaky)."""


class RunnerSummary(BaseModel):
    name: str
    provider: str
    model: str
    simulated: bool
    """True when the answers came from the simulated server, not a model."""
    role: str
    """`reference` or `candidate` in this run."""
    samples: int
    """Samples in the suite."""
    answered: int
    """Answers asked (samples × epochs) whose final completion was `ok` (gradable)."""
    completed: int
    """Answered ones that pass the suite's pass rule: completed tasks."""
    errors: int
    """Answers asked whose final completion was not `ok` (error, truncated, timeout, refused) or never sent."""
    statuses: dict[str, int]
    """Final status per answer asked: ok, error, truncated, timeout, refused, not_run."""
    pass_rate: float | None
    """completed ÷ answered: the quality of the answers given (errors excluded)."""
    pass_rate_ci: list[float] | None
    """95% interval of pass_rate, [low, high]: Wilson; with epochs, cluster-robust over samples."""
    completion_rate: float
    """completed ÷ answers asked: errors count against it."""
    epochs: int = 1
    """Times each sample was asked for when the runner samples (1: once; greedy requests are asked once whatever this says)."""
    answers_planned: int = 0
    """Answers asked of the runner: samples, times `epochs` for the requests that sample."""
    flakiness: Flakiness | None = None
    """Within-sample disagreement over epochs; None when no sample was answered more than once."""

    @property
    def asked(self) -> int:
        """Answers asked of the runner: what errors and completions are counted out of."""
        return self.answers_planned or self.samples
    attempts: int
    """Requests behind this run's answers, retries included (this invocation's and reused ones)."""
    requests_sent: int
    """Requests sent over the wire by this invocation, retries included."""
    requests_reused: int
    """Samples answered from the store without a new request (resume)."""
    stopped_reason: str | None = None
    input_tokens: int | None
    output_tokens: int | None
    """Token sums over every attempt; None (unknown, never 0) when an answer came without counts."""
    tokens_unknown: int = 0
    """Answers (ok, truncated, refused) whose server reported no token counts."""
    cost_total_usd: float | None
    """What the runner spent on the suite. API: tokens of every billed attempt. Self-hosted: an allocation, the
    at-volume cost per request (see ProjectionRow) × requests sent; None when it could not be projected."""
    cost_per_completed_task_usd: float | None
    """THE cost per completed task, at the team's volume (`ReportModel.workload`). API: spend ÷ completed tasks.
    Self-hosted: replicas the busiest hour needs × hourly cost × 730 h ÷ the month's requests ÷ pass rate
    (completed ÷ sent), equal to the runner's ProjectionRow.cost_per_completed_task_usd."""
    cost_at_full_load_per_completed_task_usd: float | None = None
    """Self-hosted only: what a completed task would cost if the replicas were kept 100% busy (hourly cost ÷
    capacity ÷ pass rate). A floor reached only at full load; never the cost at your volume."""
    cost_basis: str
    """How the cost was computed, in words (prices' source, or hardware, replicas, volume and capacity)."""
    batch_answers: int = 0
    """Final answers that came from a vendor batch API (OpenAI Batch, Anthropic Message Batches), priced at `batch_price`."""
    batch_price: str | None = None
    """The batch rate those answers were priced at, in words; None when no answer came from a batch."""
    throughput_tasks_per_hour: float | None = None
    """Self-hosted only: tasks per hour per replica achieved in this run: requests in flight ÷ mean time per task,
    every attempt of every task sent counted (errors, truncations and retries included)."""
    ttft_ms_p50: float | None
    ttft_ms_p95: float | None
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    output_tps_p50: float | None
    """Median decode speed of one stream, output tokens per second."""


class CategoryResult(BaseModel):
    runner: str
    category: str
    samples: int
    answered: int
    completed: int
    pass_rate: float | None
    pass_rate_ci: list[float] | None
    small: bool
    """Too few answered samples (< 30) for its interval to say much."""


class VerdictResult(BaseModel):
    candidate: str
    reference: str
    category: str = "all"
    paired: int
    """Samples both runners answered (the gap is computed on these only)."""
    gap: float | None
    """Candidate pass rate − reference pass rate on the paired samples."""
    gap_ci: list[float] | None
    """The deciding interval: Tango's 95% score interval at the exact critical value (evals.stats.noninferiority)."""
    mcnemar_p: float | None
    """Exact McNemar p-value on the discordant pairs."""
    discordant: list[int] = Field(default_factory=list)
    """[candidate passed & reference failed, candidate failed & reference passed]."""
    margin: float
    verdict: str
    """good enough | not good enough | inconclusive."""
    extra_samples_needed: int | None
    """For inconclusive verdicts: paired samples likely needed to settle it."""
    reason: str | None = None
    """For inconclusive verdicts: why, e.g. "too few samples (12, needed about 75)"."""
    min_samples: int | None = None
    """The fewest paired samples the test can give a badge on at this margin."""
    epochs: bool = False
    """The gap is of per-sample pass rates over epochs (evals.stats.means), not of single answers; `discordant` is then empty."""
    sentence: str
    """The verdict in one sentence, for people."""


class WorkloadUsed(BaseModel):
    requests_per_month: float
    peak_hour_share: float
    category_share: dict[str, float]
    source: str
    """Where the volume came from: the suite's workload profile (imported or estimated) or the default."""
    estimated: bool


class ProjectionRow(BaseModel):
    """One runner at the team's monthly volume."""

    runner: str
    kind: str
    requests_per_month: float
    replicas: int | None
    gpus: int | None
    monthly_cost_usd: float
    utilisation: float | None
    """Self-hosted: average load ÷ provisioned capacity."""
    monthly_hours: float = 730.0
    """The month monthly_cost_usd is priced over: 365 × 24 ÷ 12 hours."""
    cost_per_task_usd: float
    cost_per_completed_task_usd: float | None
    cost_at_full_load_per_completed_task_usd: float | None = None
    """Self-hosted: hourly cost ÷ capacity ÷ pass rate, the cost per completed task if the replicas were 100% busy."""
    capacity_tasks_per_hour: float | None = None
    capacity_source: str | None = None
    """`measured` (evals measure, at the latency target) or `this run` (concurrency ÷ mean latency)."""


class BreakEvenResult(BaseModel):
    self_hosted: str
    api: str
    requests_per_month: int | None
    """Smallest monthly volume at which the self-hosted runner costs less per completed task; None: not up to the searched maximum."""
    searched_up_to: int
    curve: list[dict[str, float]]
    """Points: requests_per_month, api_monthly, self_hosted_monthly, replicas, both costs per completed task."""


class RoutingResult(BaseModel):
    routes: dict[str, str]
    """Category → runner: the cheapest assignment whose blended pass rate stays within the margin of the reference."""
    shares: dict[str, float] = Field(default_factory=dict)
    """Runner → share of the traffic it serves under these routes."""
    pass_rate: float
    cost_per_task_usd: float
    """Cost per request at your volume of the whole fleet: a self-hosted runner pays whole replicas all month for its share."""
    reference_pass_rate: float
    reference_cost_per_task_usd: float
    method: str


class CascadeOption(BaseModel):
    local: str
    escalate_to: str
    check: str
    """What sends an answer on: an error, or a format check that needs no reference."""
    paired: int
    escalation_rate: float
    pass_rate: float
    cost_per_task_usd: float
    cost_per_completed_task_usd: float | None


class PriceSource(BaseModel):
    runner: str
    basis: str
    source: str | None = None
    as_of: str | None = None
    stale: bool = False
    retires_on: str | None = None
    """The vendor's retirement date for the model, where announced."""
    retired: bool = False
    """Past its retirement date: the vendor no longer serves it."""
    retirement_source: str | None = None


class FailureRow(BaseModel):
    """One sample as seen by one candidate and the reference, for the failure explorer."""

    sample_id: str
    category: str
    runner: str
    status: str
    epoch: int = 1
    """Which of the runner's repeats of the sample (1 unless it ran epochs)."""
    passed: bool | None
    output: str
    reference_output: str | None
    expected: str | None
    explanation: str
    error: str | None
    prompt: str | None = None
    """The sample's input as a conversation (`[role]` then the text), clipped like the outputs."""


class Disagreement(BaseModel):
    """A sample both a candidate and the reference answered, on which one passed and the other did not.

    These are the discordant pairs the verdict's gap and McNemar test are computed from.
    """

    sample_id: str
    category: str
    candidate: str
    epoch: int = 1
    """The candidate's epoch; the reference's answer is its same epoch, else its first."""
    candidate_passed: bool
    """False: the candidate failed where the reference passed; True: the reverse."""
    prompt: str
    candidate_output: str
    reference_output: str
    expected: str | None
    candidate_explanation: str
    reference_explanation: str


class PairedChange(BaseModel):
    """One runner's pass rate now against the baseline run, on the samples both runs answered ok."""

    scope: str
    """`overall`, or a category name."""
    paired: int
    """Samples both runs answered ok: the gap is computed on these only."""
    improved: int
    """Passed now, failed in the baseline."""
    regressed: int
    """Failed now, passed in the baseline."""
    pass_rate_before: float | None
    pass_rate_now: float | None
    """Pass rates on the paired samples only (so they can differ from each run's own pass rate)."""
    gap: float | None
    """Now − before, on the paired samples."""
    gap_ci: list[float] | None
    """Seeded paired-bootstrap 95% interval of the gap."""
    mcnemar_p: float | None
    """Exact two-sided McNemar p-value on the discordant pairs."""
    adjusted_p: float | None = None
    """Categories: mcnemar_p after Holm–Bonferroni over the runner's categories; None for `overall` and for a category without pairs."""
    significant: bool
    """The change is unlikely to be chance: p (adjusted, for a category) ≤ BaselineResult.alpha."""


class RunnerChange(BaseModel):
    runner: str
    overall: PairedChange
    categories: list[PairedChange]
    cost_per_completed_task_before_usd: float | None
    cost_per_completed_task_now_usd: float | None
    cost_change: float | None
    """Relative: now ÷ before − 1."""
    latency_ms_p95_before: float | None
    latency_ms_p95_now: float | None
    latency_change: float | None
    """Relative: now ÷ before − 1."""
    error_rate_before: float
    error_rate_now: float
    """Share of samples without an ok answer in each run."""
    changes: list[str]
    """What changed besides the measurements: profile fields, served models, server versions; empty when nothing did."""


class BaselineResult(BaseModel):
    """This run against an earlier run of the same suite, chosen as `evals gate --baseline last-pass` chooses it."""

    run_id: str
    reason: str
    """Why this run is the baseline, in words."""
    created_at: str
    git_commit: str | None
    tool_version: str
    suite_changed: bool
    """The suite's content hash differs: the same sample ids may not be the same tasks."""
    alpha: float
    """Significance level of the `significant` flags."""
    runners: list[RunnerChange]
    only_in_baseline: list[str]
    only_now: list[str]


class GateOutcome(BaseModel):
    """The gate's result for this run, for the top of its report."""

    result: str
    """pass | regression | inconclusive | no-baseline."""
    exit_code: int
    baseline_id: str | None
    reasons: list[str]
    """Why it is not a plain pass: the run-level reasons and every check that regressed or was inconclusive, one line each."""


class ServerFacts(BaseModel):
    """What one OpenAI-compatible server said about itself around this run (vLLM: /version, /v1/models, /metrics)."""

    runner: str
    base_url: str
    version: str | None
    """The server's version (vLLM's GET /version); None where it did not say."""
    models: list[dict[str, Any]]
    """Served models: `id`, and `max_model_len` where the server gives it."""
    shared_with: list[str] = Field(default_factory=list)
    """Runners that used the same server: its counters include all of their traffic."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """/metrics over the run: counter deltas (prompt_tokens, generation_tokens, preemptions, requests_finished,
    prefix_cache_hit_rate, queue_time_mean_s, ttft_mean_s) and gauges after it (kv_cache_usage_after, requests_running_after, ...)."""
    unavailable: dict[str, Any] = Field(default_factory=dict)
    """What the server did not answer (version, models, metrics) and why."""
    answers_without_usage: int = 0
    """Ok answers this server sent without token counts."""


class HardwareAssumption(BaseModel):
    """A self-hosted runner's hardware and price, as its profile states them: every self-hosted cost rests on these."""

    runner: str
    gpu: str
    gpus: int
    """GPUs per replica."""
    ownership: str
    """`rented` (a price per GPU-hour) or `owned` (purchase amortised, plus power and operations)."""
    hourly_usd: float
    """What one replica costs per wall-clock hour, busy or idle."""
    usd_per_gpu_hour: float | None
    """Rented: the price per GPU-hour."""
    purchase: dict[str, Any] | None
    """Owned: purchase price, amortisation months, power, PUE, electricity price, operations per month."""
    utilisation: float
    """The profile's assumed utilisation. Not used for any cost: cost at volume computes the utilisation your
    volume gives (ProjectionRow.utilisation), which the report shows instead."""


class SandboxInfo(BaseModel):
    """How model-written code was confined when a scorer ran it."""

    code_answers: int
    """Answers whose code the code_tests scorer ran in this run; 0: no scorer ran code."""
    isolation: list[str]
    """Isolation recorded with those scores: `bubblewrap` (namespaces, no network), or `rlimits-only`
    (resource limits only: NO network isolation, the host's filesystem)."""
    process_limit_enforced: bool
    """False when some code ran without a process limit."""
    available_here: str | None = None
    """What `isolation_available()` reports on the machine that built this report (a rescore there would get it);
    None where not probed: the analyse stage reads the store only, the API layer adds this for runs that ran code."""


class ReportModel(BaseModel):
    schema_version: str = SCHEMA_VERSION
    run_id: str
    suite: str
    suite_hash: str
    created_at: str
    finished_at: str | None
    status: str
    tool_version: str
    git_commit: str | None
    simulated: bool
    """True when any runner was simulated: the figures are a demonstration, not measurements of real models."""
    simulated_runners: list[str]
    reference: str
    margin: float
    runners: list[RunnerSummary]
    categories: list[CategoryResult]
    verdicts: list[VerdictResult]
    category_verdicts: list[VerdictResult]
    confusion: dict[str, Any] = Field(default_factory=dict)
    """Per runner, the label scorer's confusion matrix (when the suite has one)."""
    judge_cost_usd: float = 0.0
    """Evaluation overhead: what the LLM judge cost, kept apart from runner cost."""
    prices: list[PriceSource]
    workload: WorkloadUsed | None = None
    projections: list[ProjectionRow] = Field(default_factory=list)
    break_even: list[BreakEvenResult] = Field(default_factory=list)
    capacity_refused: dict[str, str] = Field(default_factory=dict)
    """Self-hosted runner → why its measured capacity was refused (above the physical bound): it is not projected."""
    routing: RoutingResult | None = None
    cascades: list[CascadeOption] = Field(default_factory=list)
    trend: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """Per runner, its recent runs of this suite, oldest first: pass rate and interval, cost per completed task, latency p95, gate result."""
    baseline: BaselineResult | None = None
    """Change since the baseline run; None when no earlier run of this suite had finished."""
    gate: GateOutcome | None = None
    """The latest `evals gate` result recorded for this run (a nightly gates before it renders); None if never gated."""
    frontiers: dict[str, Frontier | None] = Field(default_factory=dict)
    """Per self-hosted runner, its latest `evals measure` (as `evals measure --json` prints it) if taken with the
    runner's current profile, else None. Its operating point is the capacity the projections use."""
    servers: list[ServerFacts] = Field(default_factory=list)
    """Per runner and OpenAI-compatible server: version, served models and what /metrics counted during the run."""
    hardware: list[HardwareAssumption] = Field(default_factory=list)
    """Per self-hosted runner: the hardware and price its cost assumes."""
    sandbox: SandboxInfo | None = None
    """How code-executing scorers confined model-written code."""
    method: dict[str, Any] = Field(default_factory=dict)
    """Sample counts, versions, sandbox isolation, hardware assumptions."""
    failures: list[FailureRow] = Field(default_factory=list, exclude=False)
    disagreements: list[Disagreement] = Field(default_factory=list)
    """Per candidate, the paired samples where it and the reference disagree: what decides the verdict."""

    def summary(self) -> dict[str, Any]:
        """summary.json: everything but the per-sample rows."""
        return self.model_dump(mode="json", exclude={"failures", "disagreements"})
