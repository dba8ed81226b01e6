"""ReportModel: everything the report shows, computed once by the analyse stage.

`summary.json` is this model minus the per-sample rows; its schema is
versioned by SCHEMA_VERSION (bump the minor for added fields, the major for
changed or removed ones). Each field says what it means, since CI jobs and
dashboards read it without reading our code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

SCHEMA_VERSION = "1.1"


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
    """Samples whose final completion was `ok` (gradable)."""
    completed: int
    """Answered samples that pass the suite's pass rule: completed tasks."""
    errors: int
    """Samples whose final completion was not `ok` (error, truncated, timeout, refused) or never sent."""
    statuses: dict[str, int]
    """Final status per sample: ok, error, truncated, timeout, refused, not_run."""
    pass_rate: float | None
    """completed ÷ answered: the quality of the answers given (errors excluded)."""
    pass_rate_ci: list[float] | None
    """Wilson 95% interval of pass_rate, [low, high]."""
    completion_rate: float
    """completed ÷ samples: errors count against it."""
    attempts: int
    """Requests behind this run's answers, retries included (this invocation's and reused ones)."""
    requests_sent: int
    """Requests sent over the wire by this invocation, retries included."""
    requests_reused: int
    """Samples answered from the store without a new request (resume)."""
    stopped_reason: str | None = None
    input_tokens: int
    output_tokens: int
    cost_total_usd: float | None
    """What the runner spent on the suite: API tokens of every billed attempt, or self-hosted time at the achieved throughput."""
    cost_per_completed_task_usd: float | None
    cost_basis: str
    """How cost_total_usd was computed, in words (prices' source, or hardware and throughput)."""
    throughput_tasks_per_hour: float | None = None
    """Self-hosted only: tasks per hour achieved in this run (concurrency ÷ mean latency)."""
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
    """Seeded paired-bootstrap 95% interval of the gap."""
    mcnemar_p: float | None
    """Exact McNemar p-value on the discordant pairs."""
    discordant: list[int] = Field(default_factory=list)
    """[candidate passed & reference failed, candidate failed & reference passed]."""
    margin: float
    verdict: str
    """good enough | not good enough | inconclusive."""
    extra_samples_needed: int | None
    """For inconclusive verdicts: paired samples likely needed to settle it."""
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
    cost_per_task_usd: float
    cost_per_completed_task_usd: float | None
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
    pass_rate: float
    cost_per_task_usd: float
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


class FailureRow(BaseModel):
    """One sample as seen by one candidate and the reference, for the failure explorer."""

    sample_id: str
    category: str
    runner: str
    status: str
    passed: bool | None
    output: str
    reference_output: str | None
    expected: str | None
    explanation: str
    error: str | None


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
    routing: RoutingResult | None = None
    cascades: list[CascadeOption] = Field(default_factory=list)
    trend: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """Per runner, its recent runs of this suite, oldest first: pass rate and interval, cost per completed task, latency p95, gate result."""
    method: dict[str, Any] = Field(default_factory=dict)
    """Sample counts, versions, sandbox isolation, hardware assumptions."""
    failures: list[FailureRow] = Field(default_factory=list, exclude=False)

    def summary(self) -> dict[str, Any]:
        """summary.json: everything but the per-sample rows."""
        return self.model_dump(mode="json", exclude={"failures"})
