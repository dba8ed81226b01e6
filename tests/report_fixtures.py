"""A ReportModel built by hand, for the report tests: small, complete, and optionally hostile."""

from __future__ import annotations

from typing import Any

from evals.cost.projection import ApiRunner, SelfHostedRunner, Workload, break_even, fleet_monthly_cost, project
from evals.cost.routing import cheapest_assignment
from evals.measure.model import Dist, Frontier, OperatingPoint, Slo, Step
from evals.report.economics import CHECK
from evals.report.model import (
    BaselineResult,
    BreakEvenResult,
    CascadeOption,
    CategoryResult,
    FailureRow,
    HardwareAssumption,
    PairedChange,
    PriceSource,
    ProjectionRow,
    ReportModel,
    RoutingResult,
    RunnerChange,
    RunnerSummary,
    SandboxInfo,
    ServerFacts,
    VerdictResult,
    WorkloadUsed,
)

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '</script><script>alert(2)</script>{"a": "</script>"}',
    '<a href="javascript:alert(1)">click</a> javascript:alert(1)',
    "<!-- <script>alert(3)</script>",
    "line\u2028separator\u2029paragraph",
    "\u202eevil\u202c gpj.exe and zero\u200bwidth\u200d\ufeff",
    "see https://example.com/x.png and <img src=https://example.com/pixel.gif>",
]
"""Model outputs that must render as text: markup, script breakouts, comments, odd separators, bidi and zero-width tricks, URLs."""

BIG_OUTPUT = "A" * 1_000_000 + "<script>alert(4)</script>"
"""1 MB of output with a sting at the very end, past any truncation."""

HOSTILE_NAME = "<b onmouseover=alert(5)>q\u202ewen $x$</b>"
"""A hostile runner name: names are user data too, and land in tables and charts (where `$` would start mathtext)."""


SELF_HOSTED_HOURLY_USD, SELF_HOSTED_TASKS_PER_HOUR = 8.0, 2_450.0
"""The self-hosted candidate: 4× A100-80GB at $2.00/GPU-hour, at the throughput its run achieved."""


def _runner(name: str, role: str, pass_rate: float, simulated: bool, cost: float | None, ttft: float, self_hosted: bool) -> RunnerSummary:
    answered, samples = 190, 200
    completed = round(answered * pass_rate)
    return RunnerSummary(
        name=name, provider="simulated" if simulated else "openai_compatible", model=f"{name}-model", simulated=simulated, role=role,
        samples=samples, answered=answered, completed=completed, errors=samples - answered,
        statuses={"ok": answered, "error": 6, "timeout": 3, "truncated": 1, "refused": 0, "not_run": 0},
        pass_rate=completed / answered, pass_rate_ci=[max(0.0, pass_rate - 0.06), min(1.0, pass_rate + 0.05)], completion_rate=completed / samples,
        attempts=212, requests_sent=212, requests_reused=0, input_tokens=120_000, output_tokens=48_000,
        cost_total_usd=None if cost is None else cost * completed, cost_per_completed_task_usd=cost,
        cost_basis="4× A100-80GB at $2.00/GPU-hour, 2,450 tasks/h achieved" if self_hosted else "API list price, catalogue 2025-06-01",
        throughput_tasks_per_hour=SELF_HOSTED_TASKS_PER_HOUR if self_hosted else None,
        ttft_ms_p50=ttft, ttft_ms_p95=ttft * 3, latency_ms_p50=ttft * 8, latency_ms_p95=ttft * 20, output_tps_p50=61.2,
    )


def _verdict(candidate: str, reference: str, category: str, gap: float, verdict: str) -> VerdictResult:
    return VerdictResult(
        candidate=candidate, reference=reference, category=category, paired=180, gap=gap, gap_ci=[gap - 0.04, gap + 0.035],
        mcnemar_p=0.21, discordant=[9, 14], margin=0.05, verdict=verdict, extra_samples_needed=420 if verdict == "inconclusive" else None,
        sentence=f"{candidate} is {verdict} at a 5-point margin: {100 * gap:+.1f} points vs {reference}.",
    )


def make_model(n_failures: int = 12, simulated: bool = True, hostile: bool = True) -> ReportModel:
    """Three runners, three categories (one small), verdicts, a confusion matrix, cost at volume and `n_failures` failure rows.

    The reference and llama-8b are APIs, the candidate self-hosted; the cost
    at volume is computed by evals.cost from these figures, so its numbers
    agree with each other as analyse's would. The candidate breaks even with
    the reference below the team's volume and never with llama-8b.

    With `hostile`, the failure rows, one runner name and one category carry
    the strings in HOSTILE, plus a 1 MB output.
    """
    cand = HOSTILE_NAME if hostile else "qwen-7b"
    names = ["claude", cand, "llama-8b"]
    runners = [
        _runner("claude", "reference", 0.91, False, 0.0142, 420.0, self_hosted=False),
        _runner(cand, "candidate", 0.87, simulated, 0.0038, 95.0, self_hosted=True),
        _runner("llama-8b", "candidate", 0.74, simulated, 0.00081, 60.0, self_hosted=False),
    ]
    cats = ["triage", "extraction", "<i>tiny</i>" if hostile else "tiny"]
    categories = [
        CategoryResult(runner=r, category=c, samples=n, answered=n - 2, completed=round((n - 2) * rate), pass_rate=rate,
                       pass_rate_ci=[rate - 0.08, min(1.0, rate + 0.06)], small=n - 2 < 30)
        for r, rate in zip(names, (0.92, 0.85, 0.70))
        for c, n in zip(cats, (100, 80, 20))
    ]
    workload = WorkloadUsed(
        requests_per_month=600_000, peak_hour_share=0.1, category_share=dict(zip(cats, (0.6, 0.35, 0.05))),
        source="estimated from two weeks of support tickets", estimated=True,
    )
    projections, break_evens, routing, cascades = _economics(workload, runners, categories, cand)
    texts = HOSTILE if hostile else ["plain answer"]
    failures = [
        FailureRow(
            sample_id=f"s-{i:05d}", category=cats[i % 3], runner=names[1 + i % 2], status=["ok", "ok", "error", "timeout"][i % 4],
            passed=False if i % 4 < 2 else None, output=texts[i % len(texts)], reference_output=texts[(i + 1) % len(texts)],
            expected=texts[(i + 2) % len(texts)], explanation=f"exact: expected label differs ({texts[(i + 3) % len(texts)]})",
            error="HTTP 500 <html>upstream</html>" if i % 4 == 2 else None,
        )
        for i in range(n_failures)
    ]
    if hostile and failures:
        failures[0] = failures[0].model_copy(update={"output": BIG_OUTPUT})
    return ReportModel(
        run_id="20250601-120000-abc123", suite="support-triage", suite_hash="9f2c" * 16, created_at="2025-06-01T12:00:00Z",
        finished_at="2025-06-01T12:41:07Z", status="finished", tool_version="0.1.0", git_commit="0123456789abcdef0123456789abcdef01234567",
        simulated=simulated, simulated_runners=[cand, "llama-8b"] if simulated else [], reference="claude", margin=0.05,
        runners=runners, categories=categories,
        verdicts=[_verdict(cand, "claude", "all", -0.031, "inconclusive"), _verdict("llama-8b", "claude", "all", -0.17, "not good enough")],
        category_verdicts=[_verdict(n, "claude", c, g, v) for n in names[1:] for c, g, v in zip(cats, (0.01, -0.02, -0.09), ("good enough", "inconclusive", "not good enough"))],
        confusion={
            cand: {
                "labels": ["billing", "bug", "<script>x</script>", "(none)"],
                "matrix": [[40, 2, 1, 0], [3, 30, 0, 1], [0, 1, 12, 0], [0, 0, 0, 0]],
                "per_label": {"billing": {"precision": 0.93, "recall": 0.93, "f1": 0.93, "support": 43, "predicted": 43},
                              "bug": {"precision": 0.91, "recall": 0.88, "f1": 0.895, "support": 34, "predicted": 33},
                              "<script>x</script>": {"precision": 0.92, "recall": None, "f1": 0.92, "support": 13, "predicted": 13}},
                "accuracy": 0.9, "macro_f1": 0.915, "n": 90,
            },
            "llama-8b": {"labels": ["a"], "matrix": "not a matrix", "accuracy": None},
        },
        judge_cost_usd=0.84,
        workload=workload, projections=projections, break_even=break_evens, routing=routing, cascades=cascades,
        prices=[
            PriceSource(runner="claude", basis="API list price", source="javascript:alert(1)", as_of="2024-01-01", stale=True),
            PriceSource(runner=cand, basis="self-hosted: 4× A100-80GB", source="https://cloud.example/pricing", as_of="2025-05-20"),
        ],
        method={
            "samples": 200, "categories": {c: n for c, n in zip(cats, (100, 80, 20))}, "small_category_threshold": 30,
            "versions": {"vllm": "0.8.5", "python": "3.11.7"}, "sandbox": {"isolation": "bubblewrap", "network": False},
            "budget_usd": None, "seeds": [0, 1, 2], "note": "<script>alert(6)</script>",
        },
        trend={cand: _trend(cand, simulated), "claude": _trend("claude", False)[-1:]},
        baseline=_baseline(cand, cats[2]),
        frontiers={cand: _frontier(cand, simulated)},
        servers=[
            ServerFacts(
                runner=cand, base_url="http://gpu-1:8000/v1", version="0.8.5", models=[{"id": "Qwen/Qwen2.5-7B-Instruct", "max_model_len": 32768}],
                metrics={"prompt_tokens": 1_234_567, "generation_tokens": 98_765, "preemptions": 3, "prefix_cache_hit_rate": 0.4213, "queue_time_mean_s": 0.0421, "kv_cache_usage_after": 0.073},
            ),
            ServerFacts(runner=cand, base_url="http://gpu-2:8000/v1", version=None, models=[], unavailable={"version": 404, "metrics": "GET /metrics: connection refused"}, answers_without_usage=7),
        ],
        hardware=[HardwareAssumption(runner=cand, gpu="A100-80GB", gpus=4, ownership="rented", hourly_usd=SELF_HOSTED_HOURLY_USD, usd_per_gpu_hour=2.0, purchase=None, utilisation=0.6)],
        sandbox=SandboxInfo(code_answers=40, isolation=["rlimits-only"] if hostile else ["bubblewrap"], process_limit_enforced=True, available_here="bubblewrap"),
        failures=failures,
    )


TREND_RUNS = ("20250530-120000-aaa111", "20250531-120000-bbb222", "20250601-120000-abc123")
"""The fixture's recent runs, oldest first; the last is the report's own run."""


def _trend(runner: str, simulated: bool) -> list[dict[str, Any]]:
    """Three nights: steady, then a regression the gate caught on a changed profile, then this run."""
    rates, gates, profiles = (0.90, 0.82, 0.87), ("pass", "regression", None), ("p1", "p2", "p2")
    return [
        {
            "run_id": run, "created_at": f"{day}T12:00:00+00:00", "git_commit": None, "suite_hash": "9f2c" * 16,
            "runner": runner, "model": f"{runner}-model", "profile_hash": profiles[i], "server_versions": ["0.8.5"], "simulated": simulated,
            "samples": 200, "answered": 190, "completed": round(190 * rate), "error_rate": 0.05, "pass_rate": rate, "pass_rate_ci": [rate - 0.05, rate + 0.04],
            "cost_per_completed_task_usd": 0.0038 + 0.0001 * i, "latency_ms_p95": 1900.0 + 50 * i, "gate": gates[i],
        }
        for i, (run, day, rate) in enumerate(zip(TREND_RUNS, ("2025-05-30", "2025-05-31", "2025-06-01"), rates))
    ]


def _change(scope: str, gap: float, p: float, adjusted: float | None, significant: bool) -> PairedChange:
    return PairedChange(
        scope=scope, paired=180, improved=4, regressed=4 + round(-gap * 180), pass_rate_before=0.9, pass_rate_now=0.9 + gap, gap=gap,
        gap_ci=[gap - 0.03, gap + 0.03], mcnemar_p=p, adjusted_p=adjusted, significant=significant,
    )


def _baseline(candidate: str, small_category: str) -> BaselineResult:
    """The candidate dropped significantly overall and in the small category since the baseline; the reference did not change."""
    return BaselineResult(
        run_id=TREND_RUNS[0], reason="the latest earlier run of this suite that passed its gate", created_at="2025-05-30T12:00:00+00:00", git_commit="fedcba9876543210",
        tool_version="0.0.9", suite_changed=False, alpha=0.05,
        runners=[
            RunnerChange(
                runner=candidate, overall=_change("overall", -0.062, 0.0021, None, True),
                categories=[_change("triage", -0.011, 0.61, 1.0, False), _change(small_category, -0.25, 0.0008, 0.0024, True)],
                cost_per_completed_task_before_usd=0.0036, cost_per_completed_task_now_usd=0.0038, cost_change=0.0556,
                latency_ms_p95_before=1900.0, latency_ms_p95_now=2000.0, latency_change=0.0526, error_rate_before=0.02, error_rate_now=0.05,
                changes=["profile: params", "server version: 0.8.4 → 0.8.5"],
            ),
            RunnerChange(
                runner="claude", overall=_change("overall", 0.004, 0.81, None, False), categories=[_change("triage", 0.0, 1.0, 1.0, False)],
                cost_per_completed_task_before_usd=0.0142, cost_per_completed_task_now_usd=0.0142, cost_change=0.0,
                latency_ms_p95_before=8400.0, latency_ms_p95_now=8400.0, latency_change=0.0, error_rate_before=0.05, error_rate_now=0.05, changes=[],
            ),
        ],
        only_in_baseline=[], only_now=["llama-8b"],
    )


def _dist(p50: float) -> Dist:
    return Dist(n=40, p50=p50, p90=p50 * 1.3, p95=p50 * 1.5, p99=p50 * 1.8, max=p50 * 2)


def _frontier(runner: str, simulated: bool) -> Frontier:
    """Three concurrency levels; the middle one is the busiest within the 500 ms TTFT target."""
    steps = [
        Step(
            mode="concurrency", level=c, requests=40, served=40 - errors, errors={"500": errors} if errors else {}, window_s=10.0, requests_per_s=rps,
            output_tokens_per_s=rps * 250, total_tokens_per_s=rps * 900, goodput_per_s=rps if ttft * 1.5 <= 500 else rps * 0.4,
            ttft_ms=_dist(ttft), itl_ms=_dist(20.0), e2e_ms=_dist(ttft + 4000), per_stream_output_tps=tps, peak_in_flight=int(c), meets_slo=ttft * 1.5 <= 500 and not errors,
        )
        for c, rps, ttft, tps, errors in ((1.0, 0.22, 90.0, 61.0, 0), (8.0, 1.6, 210.0, 55.0, 0), (32.0, 4.1, 880.0, 38.0, 2))
    ]
    return Frontier(
        runner=runner, model=f"{runner}-model", profile_hash="p2", suite="support-triage", simulated=simulated, streaming=True, created_at="2025-05-31T09:30:00+00:00",
        mode="concurrency", slo=Slo(ttft_ms=500.0), steps=steps,
        operating_point=OperatingPoint(mode="concurrency", level=8.0, requests_per_s=1.6, tasks_per_hour=5760.0, output_tokens_per_s=400.0, ttft_ms=315.0, e2e_ms=6300.0, basis="measured"),
        flags=["output tokens/s at C=32 exceeds the physical decode bound <script>x</script>"], notes=["2 requests failed at C=32"], bound=None,
    )


def _economics(
    wl: WorkloadUsed, runners: list[RunnerSummary], categories: list[CategoryResult], self_hosted: str
) -> tuple[list[ProjectionRow], list[BreakEvenResult], RoutingResult, list[CascadeOption]]:
    """Projection, break-even, routing and a cascade, the way analyse's economics builds them."""
    workload = Workload(requests_per_month=wl.requests_per_month, peak_hour_share=wl.peak_hour_share)
    models = {
        r.name: SelfHostedRunner(name=r.name, hourly_cost_usd=SELF_HOSTED_HOURLY_USD, tasks_per_hour=SELF_HOSTED_TASKS_PER_HOUR, gpus_per_replica=4, pass_rate=r.pass_rate)
        if r.name == self_hosted
        else ApiRunner(name=r.name, cost_per_task=(r.cost_total_usd or 0.0) / r.samples, pass_rate=r.pass_rate)
        for r in runners
        if r.pass_rate
    }
    projections = []
    for name, m in models.items():
        pr = project(workload, m)
        projections.append(
            ProjectionRow(
                runner=name, kind=pr.kind, requests_per_month=pr.requests_per_month, replicas=pr.replicas, gpus=pr.gpus, monthly_cost_usd=pr.monthly_cost,
                utilisation=pr.utilisation, cost_per_task_usd=pr.cost_per_task, cost_per_completed_task_usd=pr.cost_per_completed_task,
                capacity_tasks_per_hour=SELF_HOSTED_TASKS_PER_HOUR if name == self_hosted else None, capacity_source="this run" if name == self_hosted else None,
            )
        )
    top = int(max(10 * wl.requests_per_month, 1_000_000))
    sh = models[self_hosted]
    assert isinstance(sh, SelfHostedRunner)
    break_evens = []
    for api in (m for m in models.values() if isinstance(m, ApiRunner)):
        be = break_even(workload, api, sh, top, points=40)
        break_evens.append(BreakEvenResult(self_hosted=self_hosted, api=api.name, requests_per_month=be.requests_per_month, searched_up_to=top, curve=[p.model_dump() for p in be.curve]))
    cost = {p.runner: p.cost_per_task_usd for p in projections}
    per_category = {c: {r.runner: (r.pass_rate or 0.0, r.answered) for r in categories if r.category == c} for c in wl.category_share}
    a = cheapest_assignment(per_category, wl.category_share, "claude", 0.05, lambda shares: fleet_monthly_cost(workload, shares, models) / workload.monthly_requests)
    routing = RoutingResult(
        routes=a.routes, shares=a.shares, pass_rate=a.pass_rate, cost_per_task_usd=a.cost_per_task, reference_pass_rate=a.reference_pass_rate,
        reference_cost_per_task_usd=a.reference_cost_per_task, method=a.method,
    )
    escalation, passed = 0.061, 0.883
    per_task = cost[self_hosted] + escalation * cost["claude"]
    cascade = CascadeOption(
        local=self_hosted, escalate_to="claude", check=CHECK, paired=180, escalation_rate=escalation, pass_rate=passed,
        cost_per_task_usd=per_task, cost_per_completed_task_usd=per_task / passed,
    )
    return projections, break_evens, routing, [cascade]
