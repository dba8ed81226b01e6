"""Cost at the team's volume: projection, break-even, routing and a cascade.

Joins what the run measured (pass rates, cost per answer, throughput) with the
suite's workload profile through the pure functions of evals.cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from evals.config import RunnerProfile
from evals.cost.pricing import RunnerPricing
from evals.cost.projection import DAYS_PER_MONTH, ApiRunner, SelfHostedRunner, Workload, break_even, fleet_monthly_cost, project, search_ceiling
from evals.cost.routing import cheapest_assignment
from evals.cost.selfhosted import HOURS_PER_MONTH
from evals.report.model import BreakEvenResult, CascadeOption, ProjectionRow, RoutingResult, RunnerSummary, WorkloadUsed
from evals.report.text import fmt_usd

DEFAULT_WORKLOAD = {"requests_per_day": 10_000, "peak_hour_share": 0.1}
NO_PROFILE_HINT = (
    "give yours in the suite's suite.yaml (`workload: {requests_per_day: N, peak_hour_share: S}`, or requests_per_month), "
    "or import real traffic with `evals import`, which writes it"
)


Answer = tuple[str, int]
"""One answer asked of a runner: (sample id, epoch). Epochs are replayed as the requests they were."""


@dataclass
class PerSample:
    """What one runner did on one sample: the facts the cascade replays."""

    status: str
    passed: bool
    cost_usd: float
    format_failed: bool


def workload_used(profile: dict[str, Any] | None, category_counts: dict[str, int]) -> WorkloadUsed:
    p = profile or {}
    volume = p.get("requests_per_month") or (p["requests_per_day"] * DAYS_PER_MONTH if p.get("requests_per_day") else None)
    shares = {c: float(v["share"]) for c, v in (p.get("categories") or {}).items() if isinstance(v, dict) and "share" in v}
    if not shares or set(shares) != set(category_counts):
        total = sum(category_counts.values()) or 1
        shares = {c: n / total for c, n in category_counts.items()}
    else:
        s = sum(shares.values())
        shares = {c: v / s for c, v in shares.items()}
    if volume is None:
        return WorkloadUsed(
            requests_per_month=DEFAULT_WORKLOAD["requests_per_day"] * DAYS_PER_MONTH, peak_hour_share=DEFAULT_WORKLOAD["peak_hour_share"], category_share=shares,
            source=f"ASSUMED volume: the suite has no workload profile, so {DEFAULT_WORKLOAD['requests_per_day']:,} requests a day with "
            f"{DEFAULT_WORKLOAD['peak_hour_share']:.0%} in the busiest hour were assumed; {NO_PROFILE_HINT}",
            estimated=True,
        )
    source = str(p.get("source") or "the suite's workload profile")
    peak = p.get("peak_hour_share")
    if not peak:  # flat traffic would be the kindest case for self-hosting: assume a peak instead, and say so
        peak = DEFAULT_WORKLOAD["peak_hour_share"]
        source += f"; busiest-hour share not in the profile, {peak:.0%} assumed"
    return WorkloadUsed(
        requests_per_month=float(volume),
        peak_hour_share=float(peak),
        category_share=shares,
        source=source,
        estimated=bool(p.get("estimated", False)) or not p.get("peak_hour_share"),
    )


def capacity(summary: RunnerSummary, measured: Callable[[str], float | None]) -> tuple[float | None, str | None]:
    m = measured(summary.name)
    if m:
        return m, "measured"
    if summary.throughput_tasks_per_hour:
        return summary.throughput_tasks_per_hour, "this run"
    return None, None


def projections(
    wl: WorkloadUsed, summaries: list[RunnerSummary], pricing: dict[str, RunnerPricing], profiles: dict[str, RunnerProfile],
    measured: Callable[[str], float | None], refused: dict[str, str] | None = None,
) -> tuple[list[ProjectionRow], dict[str, ApiRunner | SelfHostedRunner]]:
    """Each runner serving the whole volume. A runner whose measured capacity is `refused` (above the physical
    bound) is not projected at all: neither from the refused figure nor from this run's throughput."""
    workload = Workload(requests_per_month=wl.requests_per_month, peak_hour_share=wl.peak_hour_share)
    rows, models = [], {}
    for s in summaries:
        # Per task sent: samples a budget stop never sent cost nothing, and paid-for errors count against completion.
        attempted = s.asked - s.statuses.get("not_run", 0)
        rate = s.completed / attempted if attempted else 0.0
        if rate <= 0 or s.name in (refused or {}):
            continue
        p = pricing[s.name]
        if p.kind == "api":
            if s.cost_total_usd is None:
                continue
            m: ApiRunner | SelfHostedRunner = ApiRunner(name=s.name, cost_per_task=s.cost_total_usd / attempted, pass_rate=rate)
            cap, src = None, None
        else:
            cap, src = capacity(s, measured)
            sh = profiles[s.name].pricing.self_hosted
            if not cap or sh is None or p.hourly_usd is None:
                continue
            m = SelfHostedRunner(name=s.name, hourly_cost_usd=p.hourly_usd, tasks_per_hour=cap, gpus_per_replica=sh.gpus, pass_rate=rate)
        pr = project(workload, m)
        models[s.name] = m
        rows.append(
            ProjectionRow(
                runner=s.name, kind=pr.kind, requests_per_month=pr.requests_per_month, replicas=pr.replicas, gpus=pr.gpus,
                monthly_cost_usd=pr.monthly_cost, utilisation=pr.utilisation, cost_per_task_usd=pr.cost_per_task,
                cost_per_completed_task_usd=pr.cost_per_completed_task, capacity_tasks_per_hour=cap, capacity_source=src,
                cost_at_full_load_per_completed_task_usd=m.hourly_cost_usd / cap / rate if isinstance(m, SelfHostedRunner) and cap else None,
            )
        )
    return rows, models


def at_volume_costs(summaries: list[RunnerSummary], rows: list[ProjectionRow], pricing: dict[str, RunnerPricing], wl: WorkloadUsed) -> None:
    """Give each self-hosted runner the one cost per completed task: the at-volume figure of its projection.

    Its spend on the suite is allocated at the at-volume cost per request (× requests sent), so spend ÷
    completed equals the projection's cost per completed task. Without a projection it has no cost figure,
    and `cost_basis` says why; the cost if the servers were kept 100% busy is kept apart under its own name.
    """
    by_runner = {r.runner: r for r in rows}
    for s in summaries:
        p = pricing[s.name]
        if p.kind != "self_hosted":
            continue
        row = by_runner.get(s.name)
        if row is None:
            s.cost_basis = f"{p.describe()}; no cost per completed task: no capacity to size replicas from (see At your volume)"
            continue
        attempted = s.asked - s.statuses.get("not_run", 0)
        s.cost_total_usd = row.cost_per_task_usd * attempted
        s.cost_per_completed_task_usd = row.cost_per_completed_task_usd
        s.cost_at_full_load_per_completed_task_usd = row.cost_at_full_load_per_completed_task_usd
        est = " (ASSUMED volume)" if wl.estimated else ""
        s.cost_basis = (
            f"{p.describe()}; {row.replicas} replica(s) for the busiest hour at {wl.requests_per_month:,.0f} requests/month{est}: "
            f"{row.replicas} × ${p.hourly_usd:,.2f}/h × {HOURS_PER_MONTH:g} h = ${row.monthly_cost_usd:,.0f}/month ÷ {wl.requests_per_month:,.0f} requests "
            f"= {fmt_usd(row.cost_per_task_usd)} per request (allocated to this run's {attempted} requests), ÷ pass rate; "
            f"capacity {row.capacity_tasks_per_hour:,.0f} tasks/h per replica ({row.capacity_source})"
        )


def break_evens(wl: WorkloadUsed, models: dict[str, ApiRunner | SelfHostedRunner]) -> list[BreakEvenResult]:
    workload = Workload(requests_per_month=wl.requests_per_month, peak_hour_share=wl.peak_hour_share)
    top = search_ceiling(wl.requests_per_month)
    out = []
    for sh in (m for m in models.values() if isinstance(m, SelfHostedRunner)):
        for api in (m for m in models.values() if isinstance(m, ApiRunner)):
            be = break_even(workload, api, sh, top, points=40)
            out.append(BreakEvenResult(self_hosted=sh.name, api=api.name, requests_per_month=be.requests_per_month, searched_up_to=top, curve=[p.model_dump() for p in be.curve]))
    return out


def routing(
    per_sample: dict[str, dict[Answer, PerSample]], categories: dict[Answer, str], wl: WorkloadUsed,
    models: dict[str, ApiRunner | SelfHostedRunner], ref: str, margin: float,
) -> RoutingResult | None:
    """Cheapest category → runner assignment within the margin of the reference's blended pass rate, every
    assignment priced as a fleet: a self-hosted runner pays whole replicas for its share of the busiest hour."""
    if ref not in models:
        return None
    workload = Workload(requests_per_month=wl.requests_per_month, peak_hour_share=wl.peak_hour_share)
    per_cat: dict[str, dict[str, tuple[float, int]]] = {}
    for cat in wl.category_share:
        ids = [sid for sid, c in categories.items() if c == cat]
        per_cat[cat] = {}
        for runner in models:
            answered = [per_sample[runner][sid] for sid in ids if sid in per_sample.get(runner, {}) and per_sample[runner][sid].status == "ok"]
            if answered:
                per_cat[cat][runner] = (sum(a.passed for a in answered) / len(answered), len(answered))
        if ref not in per_cat[cat]:
            return None

    def cost_of(shares: dict[str, float]) -> float:
        return fleet_monthly_cost(workload, shares, models) / workload.monthly_requests

    a = cheapest_assignment(per_cat, wl.category_share, ref, margin, cost_of)
    return RoutingResult(
        routes=a.routes, shares=a.shares, pass_rate=a.pass_rate, cost_per_task_usd=a.cost_per_task, reference_pass_rate=a.reference_pass_rate,
        reference_cost_per_task_usd=a.reference_cost_per_task, method=a.method,
    )


CHECK = "escalate when the local answer is not ok, or fails its format (JSON that does not parse or breaks the schema; a label outside the label set) — checks that need no reference answer"


def cascades(per_sample: dict[str, dict[Answer, PerSample]], rows: list[ProjectionRow], ref: str) -> list[CascadeOption]:
    """Replay each self-hosted runner first, escalating to the reference on the paired samples."""
    cost = {r.runner: r for r in rows}
    if ref not in cost or cost[ref].kind != "api":
        return []
    out = []
    for local in (r for r in rows if r.kind == "self_hosted"):
        ids = [sid for sid in per_sample.get(local.runner, {}) if sid in per_sample.get(ref, {})]
        if not ids:
            continue
        escalated = passed = 0
        spend = 0.0
        for sid in ids:
            mine, theirs = per_sample[local.runner][sid], per_sample[ref][sid]
            spend += local.cost_per_task_usd
            if mine.status != "ok" or mine.format_failed:
                escalated += 1
                spend += theirs.cost_usd
                passed += theirs.status == "ok" and theirs.passed
            else:
                passed += mine.passed
        n = len(ids)
        out.append(
            CascadeOption(
                local=local.runner, escalate_to=ref, check=CHECK, paired=n, escalation_rate=escalated / n, pass_rate=passed / n,
                cost_per_task_usd=spend / n, cost_per_completed_task_usd=spend / passed if passed else None,
            )
        )
    return out
