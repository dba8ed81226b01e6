"""The analyse stage: scores + usage + prices -> ReportModel.

Pure reading of the store; every figure in the report is computed here, so
the renderer only lays it out.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from evals.config import RunnerProfile, Suite
from evals.cost.capacity import refusal as capacity_refusal
from evals.cost.pricing import RunnerPricing, runner_pricing
from evals.judge_protocol import render_conversation
from evals.measure.persist import choose
from evals.providers.base import Usage
from evals.providers.translate import render_calls
from evals.report import economics
from evals.report.model import BreakEvenResult, CategoryResult, Disagreement, FailureRow, Flakiness, HardwareAssumption, PriceSource, ProjectionRow, ReportModel, RunnerSummary, SandboxInfo, ServerFacts, VerdictResult, WorkloadUsed
from evals.report.text import clip, fmt_usd
from evals.scoring.confusion import confusion_matrix
from evals.scoring.structure import reference_calls
from evals.stats.intervals import wilson, z_two_sided
from evals.stats.means import METHOD as MEANS_METHOD
from evals.stats.noninferiority import METHOD as NONINFERIORITY_METHOD
from evals.stats.noninferiority import mean_verdict
from evals.stats.noninferiority import verdict as noninferiority_verdict
from evals.stats.paired import paired_gap
from evals.store.db import Store
from evals.store.reads import NO_TOKENS, FinalAnswer, RunnerUsage, SampleRow, TokenSums

SMALL_CATEGORY = 30
FAILURE_TEXT_LIMIT = 4000


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


Unit = tuple[str, int]
"""One answer asked of a runner: (sample id, epoch)."""
Finals = dict[str, dict[Unit, FinalAnswer]]
"""runner -> unit -> its final attempt."""
Outcomes = dict[str, dict[Unit, bool]]
"""runner -> unit -> passed."""


def _rate(k: int, n: int) -> tuple[float | None, list[float] | None]:
    if n == 0:
        return None, None
    lo, hi = wilson(k, n)
    return k / n, [lo, hi]


def _ok_outcomes(fin: dict[Unit, FinalAnswer], outcomes: dict[Unit, bool]) -> dict[str, list[bool]]:
    """Per sample answered ok at least once: whether each of its ok answers (one per epoch) passed.
    The one reading behind a runner's pass-rate interval, its flakiness and the verdict's pairs."""
    got: dict[str, list[bool]] = defaultdict(list)
    for u, a in fin.items():
        if a.status == "ok":
            got[u[0]].append(bool(outcomes.get(u)))
    return dict(got)


def _clustered_rate(per: dict[str, list[bool]]) -> tuple[float | None, list[float] | None]:
    """Pass rate of these samples' ok answers with a 95% interval: Wilson when each sample was answered once;
    with epochs, the answers of one sample are not independent, so the interval is the cluster-robust one of a
    ratio estimator over samples (Σ passed ÷ Σ answered, variance m/(m−1) Σ (passed_i − r·answered_i)² / (Σ answered)²,
    m samples)."""
    k, n = sum(sum(v) for v in per.values()), sum(len(v) for v in per.values())
    if n == 0 or all(len(v) == 1 for v in per.values()):
        return _rate(k, n)
    r, m = k / n, len(per)
    if m < 2:
        return r, [0.0, 1.0]
    var = m / (m - 1) * sum((sum(v) - r * len(v)) ** 2 for v in per.values()) / n**2
    half = z_two_sided(0.95) * var**0.5
    return r, [max(0.0, r - half), min(1.0, r + half)]


def _flakiness(per: dict[str, list[bool]]) -> Flakiness | None:
    """Within-sample disagreement over the samples answered ok more than once; None when none was."""
    repeated = [v for v in per.values() if len(v) > 1]
    if not repeated:
        return None
    mixed = sum(1 for v in repeated if 0 < sum(v) < len(v))

    def agree(v: list[bool]) -> float:  # the chance two of its epochs, drawn without replacement, agree
        k, a = sum(v), len(v)
        return (k * (k - 1) + (a - k) * (a - k - 1)) / (a * (a - 1))

    return Flakiness(samples=len(repeated), mixed=mixed, agreement=sum(agree(v) for v in repeated) / len(repeated))


def _sentence(v: VerdictResult, cost: str) -> str:
    """`cost` is the sentence's tail on cost: "; $0.0001 per completed task ..." or ""."""
    if v.gap is None or v.gap_ci is None:
        return f"{v.candidate}: no samples answered by both it and {v.reference}, so no verdict."
    on = f"{v.paired} paired samples, each runner's pass rate over its epochs" if v.epochs else f"{v.paired} paired samples"
    gap = f"{v.gap * 100:+.1f} points (95% CI {v.gap_ci[0] * 100:+.1f} to {v.gap_ci[1] * 100:+.1f}) vs {v.reference} on {on}"
    tail = f"{cost}."
    if v.verdict == "inconclusive":
        why = f" ({v.reason})" if v.reason else ""
        more = f", about {v.extra_samples_needed:,} more paired samples would likely settle it" if v.extra_samples_needed else ""
        return f"{v.candidate} is inconclusive at a {v.margin * 100:g}-point margin{why}: {gap}{more}{tail}"
    return f"{v.candidate} is {v.verdict.upper()} at a {v.margin * 100:g}-point margin: {gap}{tail}"


def _cost_tail(cand: str, ref: str, proj: list[ProjectionRow], evens: list[BreakEvenResult], wl: WorkloadUsed) -> str:
    """Cost per completed task at the team's volume (the one definition), and the break-even with the reference."""
    row = next((p for p in proj if p.runner == cand), None)
    if row is None or row.cost_per_completed_task_usd is None:
        return ""
    est = ", estimated" if wl.estimated else ""
    tail = f"; {fmt_usd(row.cost_per_completed_task_usd)} per completed task at {wl.requests_per_month:,.0f} requests/month{est}"
    be = next((b for b in evens if b.self_hosted == cand and b.api == ref), None)
    if be is not None:
        tail += f", cheaper than {ref} from {be.requests_per_month:,} requests/month" if be.requests_per_month else f", not cheaper than {ref} up to {be.searched_up_to:,} requests/month"
    return tail


def _verdict(cand: str, ref: str, category: str, pairs: list[tuple[float, float]], margin: float, cost: str, repeated: bool = False) -> VerdictResult:
    """`pairs`: per paired sample, (candidate, reference) pass rate over its epochs. `repeated`: some sample
    was answered more than once by either runner, so the test is on per-sample means (evals.stats.means)."""
    if not pairs:
        v = VerdictResult(candidate=cand, reference=ref, category=category, paired=0, gap=None, gap_ci=None, mcnemar_p=None, margin=margin, verdict="inconclusive", extra_samples_needed=None, sentence="")
    elif repeated:
        mv = mean_verdict([c - r for c, r in pairs], margin)
        v = VerdictResult(
            candidate=cand, reference=ref, category=category, paired=len(pairs), gap=mv.gap, gap_ci=list(mv.verdict.ci), mcnemar_p=mv.p_two_sided,
            margin=margin, verdict=mv.verdict.verdict, extra_samples_needed=mv.verdict.extra_samples_needed, reason=mv.verdict.reason or None,
            min_samples=mv.verdict.min_samples, sentence="", epochs=True,
        )
    else:
        g = paired_gap([p[0] >= 1 for p in pairs], [p[1] >= 1 for p in pairs])
        nv = noninferiority_verdict(g, margin)
        v = VerdictResult(
            candidate=cand, reference=ref, category=category, paired=g.n, gap=g.gap, gap_ci=list(nv.ci), mcnemar_p=g.mcnemar_p,
            discordant=[g.b, g.c], margin=margin, verdict=nv.verdict, extra_samples_needed=nv.extra_samples_needed,
            reason=nv.reason or None, min_samples=nv.min_samples, sentence="",
        )
    v.sentence = _sentence(v, cost)
    return v


def analyse(store: Store, run_id: str, suite: Suite | None = None, price_overrides: Any = None, allow_above_bound: bool = False, measurements: Sequence[int] = ()) -> ReportModel:
    """`allow_above_bound`: size self-hosted runners from a measured capacity even when it beats the physical bound (knowingly).
    `measurements`: `evals measure` sweep ids to size runners with, instead of each profile's most complete recent sweep."""
    run = store.run(run_id)
    info = json.loads(run["info_json"])
    margin = float(info.get("margin", suite.margin if suite else 0.05))
    ref = run["reference_runner"]
    if ref is None:  # the run stage always records one; the column only allows NULL
        raise ValueError(f"run {run_id} has no reference runner")
    rr = store.run_runners(run_id)
    profiles = {r.runner: RunnerProfile.model_validate_json(r.profile_json) for r in rr}
    # The prices the run was costed with, unless the caller asks to re-price it with another file.
    pricing: dict[str, RunnerPricing] = {
        r.runner: RunnerPricing.from_json(r.pricing_json) if r.pricing_json and price_overrides is None else runner_pricing(profiles[r.runner], price_overrides)
        for r in rr
    }
    samples = {r.sample_id: r for r in store.samples(run_id)}
    n_samples = len(samples)

    # Keyed by unit: (sample id, epoch), one per answer asked of a runner.
    finals: dict[str, dict[Unit, FinalAnswer]] = defaultdict(dict)
    for a in store.final_answers(run_id):
        finals[a.runner][(a.sample_id, a.epoch)] = a
    outcomes: dict[str, dict[Unit, bool]] = defaultdict(dict)
    for o in store.outcomes(run_id):
        outcomes[o.runner][(o.sample_id, o.epoch)] = bool(o.passed)
    epochs_asked = info.get("epochs") or {}
    usage = {r.runner: r for r in store.usage_by_runner(run_id)}

    runners: list[RunnerSummary] = []
    per_sample_ok: dict[str, dict[str, list[bool]]] = {}  # runner -> sample -> passed, per ok answer
    for row in rr:
        name = row.runner
        prof = profiles[name]
        fin = finals.get(name, {})
        statuses: dict[str, int] = defaultdict(int)
        for a in fin.values():
            statuses[a.status] += 1
        planned = row.planned or n_samples
        statuses["not_run"] = planned - len(fin)
        answered = statuses.get("ok", 0)
        completed = sum(1 for u, a in fin.items() if a.status == "ok" and outcomes[name].get(u))
        ok_rows = [a for a in fin.values() if a.status == "ok"]
        ttft = [a.ttft_ms for a in ok_rows if a.ttft_ms is not None]
        lat = [a.latency_ms for a in ok_rows if a.latency_ms is not None]
        tps = [a.output_tps for a in ok_rows if a.output_tps is not None]
        u = usage.get(name, _NO_USAGE)
        unknown = int(u.unk or 0)
        p = pricing[name]
        throughput = None
        if p.kind == "self_hosted":
            # Little's law per replica over every task sent: requests in flight ÷ the time each task held its slot,
            # all its attempts counted (errors, truncations, retries), not the latency of ok answers only.
            in_flight = min(prof.concurrency, len(fin))
            throughput = in_flight * len(fin) * 3_600_000 / float(u.lat_sum) / max(1, len(prof.urls())) if u.lat_sum else None
            cost_total = None  # known only at a volume: set from the projection below
        else:
            cost_total = _cost(p, u.tokens) if name in usage else 0.0
        per = per_sample_ok[name] = _ok_outcomes(fin, outcomes[name])
        rate, ci = _clustered_rate(per)
        runners.append(
            RunnerSummary(
                name=name, provider=row.provider, model=row.model, simulated=bool(row.simulated),
                role="reference" if name == ref else "candidate", samples=n_samples, answered=answered, completed=completed,
                errors=planned - answered, statuses=dict(statuses), pass_rate=rate, pass_rate_ci=ci,
                completion_rate=completed / planned if planned else 0.0, attempts=int(u.attempts),
                epochs=int(epochs_asked.get(name, 1)), answers_planned=planned, flakiness=_flakiness(per),
                requests_sent=row.requests_sent, requests_reused=row.requests_reused, stopped_reason=row.stopped_reason,
                input_tokens=None if unknown else int(u.inp), output_tokens=None if unknown else int(u.outp), tokens_unknown=unknown, cost_total_usd=cost_total,
                cost_per_completed_task_usd=cost_total / completed if cost_total is not None and completed else None,
                cost_basis=p.describe() + _unknown_tokens_note(unknown, p.kind), throughput_tasks_per_hour=throughput,
                batch_answers=(n_batch := sum(1 for a in fin.values() if a.batch_id)),
                batch_price=dataclasses.replace(p, batch=True).describe() if n_batch and p.kind == "api" else None,
                ttft_ms_p50=_pct(ttft, 50), ttft_ms_p95=_pct(ttft, 95), latency_ms_p50=_pct(lat, 50), latency_ms_p95=_pct(lat, 95),
                output_tps_p50=_pct(tps, 50),
            )
        )

    categories: list[CategoryResult] = []
    cats = sorted({s.category for s in samples.values()})
    for row in rr:
        name = row.runner
        for cat in cats:
            ids = [sid for sid, s in samples.items() if s.category == cat]
            mine = {sid: v for sid, v in per_sample_ok[name].items() if samples[sid].category == cat}
            rate, ci = _clustered_rate(mine)
            categories.append(
                CategoryResult(
                    runner=name, category=cat, samples=len(ids), answered=sum(len(v) for v in mine.values()), completed=sum(sum(v) for v in mine.values()),
                    pass_rate=rate, pass_rate_ci=ci, small=len(mine) < SMALL_CATEGORY,
                )
            )

    def pairs(cand: str, cat: str | None) -> tuple[list[tuple[float, float]], bool]:
        """Per sample both answered ok at least once: the two pass rates over their ok epochs; and whether any was repeated."""
        out, repeated = [], False
        mine, theirs = per_sample_ok.get(cand, {}), per_sample_ok.get(ref, {})
        for sid, s in samples.items():
            if (cat is not None and s.category != cat) or sid not in mine or sid not in theirs:
                continue
            a, b = mine[sid], theirs[sid]
            out.append((sum(a) / len(a), sum(b) / len(b)))
            repeated = repeated or len(a) > 1 or len(b) > 1
        return out, repeated

    per_sample = _per_sample(store, run_id, finals, outcomes, pricing)
    category_of = {sid: s.category for sid, s in samples.items()}
    category_of_unit = {u: samples[u[0]].category for fin in finals.values() for u in fin}
    # The workload the run was made with (stored with it), so the report, the gate and the trend price one volume.
    profile_wl = info["workload"] if "workload" in info else (suite.workload if suite else None)
    wl = economics.workload_used(profile_wl, {c: sum(1 for v in category_of.values() if v == c) for c in cats})

    chosen = {name: choose(store, profiles[name], measurements) for name, p in pricing.items() if p.kind == "self_hosted"}
    frontiers = {name: c.frontier if c else None for name, c in chosen.items()}
    refused = {name: msg for name, f in frontiers.items() if f is not None and not allow_above_bound and (msg := capacity_refusal(f))}

    def measured(runner: str) -> float | None:
        f = frontiers.get(runner)
        return f.tasks_per_hour if f and runner not in refused else None

    proj, cost_models = economics.projections(wl, runners, pricing, profiles, measured, refused)
    for projected in proj:  # say which sweep: a quick check and a full sweep give different capacities
        if projected.capacity_source == "measured" and (c := chosen.get(projected.runner)):
            projected.capacity_source = c.describe()
    economics.at_volume_costs(runners, proj, pricing, wl)
    evens = economics.break_evens(wl, cost_models)
    verdicts, cat_verdicts = [], []
    for row in rr:
        cand = row.runner
        if cand == ref:
            continue
        both, repeated = pairs(cand, None)
        verdicts.append(_verdict(cand, ref, "all", both, margin, _cost_tail(cand, ref, proj, evens, wl), repeated))
        for cat in cats:
            both, repeated = pairs(cand, cat)
            cat_verdicts.append(_verdict(cand, ref, cat, both, margin, "", repeated))
    confusion = _confusion(store, run_id)
    failures = _failures(store, run_id, finals, outcomes, samples, ref)
    disagreements = _disagreements(store, run_id, finals, outcomes, samples, ref)
    judge = store.judge_cost(run_id)
    sims = [r.name for r in runners if r.simulated]
    return ReportModel(
        run_id=run_id, suite=run["suite"], suite_hash=run["suite_hash"], created_at=run["created_at"], finished_at=run["finished_at"],
        status=run["status"], tool_version=run["tool_version"], git_commit=run["git_commit"], simulated=bool(sims), simulated_runners=sims,
        reference=ref, margin=margin, runners=runners, categories=categories, verdicts=verdicts, category_verdicts=cat_verdicts,
        confusion=confusion, judge_cost_usd=float(judge), prices=[PriceSource(**p.source_row(n)) for n, p in pricing.items()],
        workload=wl, projections=proj, break_even=evens, capacity_refused=refused,
        routing=economics.routing(per_sample, category_of_unit, wl, cost_models, ref, margin), cascades=economics.cascades(per_sample, proj, ref),
        method={
            "samples": n_samples,
            "categories": {c: sum(1 for s in samples.values() if s.category == c) for c in cats},
            "small_category_threshold": SMALL_CATEGORY,
            "interval": f"Wilson 95% for pass rates; for gaps, {NONINFERIORITY_METHOD}; exact McNemar test"
            + (f". With epochs: pass rates with a cluster-robust (ratio) interval over samples; for gaps, {MEANS_METHOD}; exact sign-flip test" if any(r.epochs > 1 for r in runners) else ""),
            "epochs": {r.name: r.epochs for r in runners},
            "pass_rate_definition": "completed ÷ answered; errors, truncations and timeouts are counted apart and never completed",
            "python": info.get("python"),
            "budget_usd": info.get("budget_usd"),
            "reuse": info.get("reuse"),
        },
        frontiers=frontiers, servers=_servers(store, run_id), hardware=_hardware(profiles), sandbox=_sandbox(store, run_id),
        failures=failures, disagreements=disagreements,
    )


def _servers(store: Store, run_id: str) -> list[ServerFacts]:
    """The server facts of the run, one row per runner and server, merging its `server`, `metrics` and `usage_missing` facts."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for f in store.server_facts(run_id):
        row = rows.setdefault((f["runner"], f["base_url"]), {"runner": f["runner"], "base_url": f["base_url"], "version": None, "models": [], "unavailable": {}})
        d = f["data"]
        if f["kind"] == "server":
            row.update(version=d.get("version"), models=d.get("models", []), shared_with=d.get("shared_with", []))
            row["unavailable"].update(d.get("unavailable", {}))
        elif f["kind"] == "metrics":
            row["metrics"] = d.get("deltas", {})
            if d.get("unavailable"):
                row["unavailable"]["metrics"] = d["unavailable"]
        elif f["kind"] == "usage_missing":
            row["answers_without_usage"] = d.get("answers", 0)
        elif f["kind"] == "usage_anomaly":  # read as "No consistent token counts: ..."
            row["unavailable"]["consistent token counts"] = f"{d.get('answers', 0)} answers, e.g. {d.get('example')}; billed at the costliest reading"
        elif f["kind"] == "tool_calls_as_text":
            row["unavailable"]["parsed tool calls"] = f"{d.get('answers', 0)} answers wrote their tool calls as text (e.g. sample {d.get('example')}); {d.get('note')}"
    return [ServerFacts.model_validate(r) for r in rows.values()]


def _hardware(profiles: dict[str, RunnerProfile]) -> list[HardwareAssumption]:
    out = []
    for name, prof in profiles.items():
        sh = prof.pricing.self_hosted
        if sh is None:
            continue
        out.append(
            HardwareAssumption(
                runner=name, gpu=sh.gpu, gpus=sh.gpus, ownership="owned" if sh.purchase else "rented", hourly_usd=sh.hourly_cost_usd(),
                usd_per_gpu_hour=sh.cloud_price_per_gpu_hour, purchase=sh.purchase.model_dump() if sh.purchase else None, utilisation=sh.utilisation,
            )
        )
    return out


def _sandbox(store: Store, run_id: str) -> SandboxInfo:
    """The isolation recorded with the run's code scores: the machine that scored may not be the one reporting."""
    details = (json.loads(d or "{}") for d in store.score_details(run_id, "code_tests"))
    recorded = [d for d in details if d.get("isolation")]
    return SandboxInfo(
        code_answers=len(recorded), isolation=sorted({d["isolation"] for d in recorded}),
        process_limit_enforced=all(d.get("process_limit_enforced", True) for d in recorded),
    )


_NO_USAGE = RunnerUsage(runner="", attempts=0, fresh=0, inp=0, outp=0, unk=0, lat_sum=0, tokens=NO_TOKENS)
"""A runner without a single attempt."""


def _unknown_tokens_note(unknown: int, kind: str) -> str:
    """What an API runner's cost basis must say when answers came without token counts
    (a self-hosted runner pays by the hour: its cost does not depend on them)."""
    if not unknown or kind == "self_hosted":
        return ""
    return f"; token counts unknown for {unknown:,} answers (the server reported none): their cost is not included, so the spend is a lower bound"


def _cost(pricing: RunnerPricing, r: TokenSums) -> float:
    """API spend of these attempts at the prices the report uses: the run's own, or --prices to re-price it.
    (The store's cost_usd column is the budget's record of the prices in force when each was sent.)
    API cost is linear in tokens, so summed tokens priced once give the sum of per-attempt costs."""
    if not pricing.batch:
        return pricing.cost_of(Usage(input_tokens=r.t_in, cached_input_tokens=r.t_cached, cache_write_tokens=r.t_write, output_tokens=r.t_out))
    # a batch runner: batch answers at the batch rate, its synchronous retries at the full rate
    sync = Usage(input_tokens=r.s_in, cached_input_tokens=r.s_cached, cache_write_tokens=r.s_write, output_tokens=r.s_out)
    batched = Usage(
        input_tokens=r.t_in - r.s_in, cached_input_tokens=r.t_cached - r.s_cached, cache_write_tokens=r.t_write - r.s_write, output_tokens=r.t_out - r.s_out
    )
    return pricing.cost_of(batched) + dataclasses.replace(pricing, batch=False).cost_of(sync)


def _per_sample(store: Store, run_id: str, finals: Finals, outcomes: Outcomes, pricing: dict[str, RunnerPricing]) -> dict[str, dict[Unit, economics.PerSample]]:
    """Per runner and answer asked (sample, epoch): what the cascade and the routing replay."""
    spent = {(r.runner, (r.sample_id, r.epoch)): _cost(pricing[r.runner], r.tokens) for r in store.tokens_by_answer(run_id)}
    # A failure production could see without a reference: declared by scorers that produce format checks.
    fmt = {(r.runner, (r.sample_id, r.epoch)) for r in store.format_failures(run_id)}
    return {
        runner: {u: economics.PerSample(a.status, bool(outcomes[runner].get(u)), spent.get((runner, u), 0.0), (runner, u) in fmt) for u, a in fin.items()}
        for runner, fin in finals.items()
    }


def _confusion(store: Store, run_id: str) -> dict[str, Any]:
    """Per runner (and per scorer, when several produce labels: a ticket label and the tool an agent chose
    are different questions), the confusion matrix, with each expected label's pass rate: for tool_call,
    the share of calls of that tool that were right in name and arguments."""
    pairs: dict[tuple[str, str], list[tuple[str | None, str | None]]] = defaultdict(list)
    passed: dict[tuple[str, str], dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in store.label_scores(run_id):
        d = json.loads(r.details_json or "{}")
        pairs[(r.runner, r.scorer)].append((d.get("expected"), d.get("predicted")))
        passed[(r.runner, r.scorer)][str(d.get("expected"))].append(bool(r.passed))
    several = len({scorer for _, scorer in pairs}) > 1
    out = {}
    for (runner, scorer), p in pairs.items():
        cm = confusion_matrix(p)
        for label, stats in cm["per_label"].items():
            got = passed[(runner, scorer)].get(label, [])
            stats["pass_rate"] = sum(got) / len(got) if got else None
        out[f"{runner} · {scorer}" if several else runner] = cm
    return out


def _shown(a: FinalAnswer) -> str:
    """An answer as the failure explorer shows it: its text, then its tool calls one a line."""
    calls = render_calls(json.loads(a.tool_calls_json)) if a.tool_calls_json else ""
    return "\n".join(x for x in (a.text or "", calls) if x)


def _failures(store: Store, run_id: str, finals: Finals, outcomes: Outcomes, samples: dict[str, SampleRow], ref: str) -> list[FailureRow]:
    """Every non-passing (runner, sample), with the reference runner's answer beside it."""
    expl: dict[tuple[str, Unit], list[str]] = defaultdict(list)
    for r in store.score_notes(run_id, failing_only=True):
        expl[(r.runner, (r.sample_id, r.epoch))].append(f"{r.scorer}: {r.error or r.explanation or 'failed'}")
    rows = []
    for runner, fin in finals.items():
        for u, a in fin.items():
            passed = outcomes[runner].get(u) if a.status == "ok" else None
            if passed:
                continue
            sid = u[0]
            theirs = _counterpart(finals.get(ref, {}), u) if runner != ref else None
            ref_out = _shown(theirs) if theirs is not None else None
            rows.append(
                FailureRow(
                    sample_id=sid, epoch=u[1], category=samples[sid].category, runner=runner, status=a.status, passed=passed,
                    output=clip(_shown(a), FAILURE_TEXT_LIMIT), reference_output=clip(ref_out, FAILURE_TEXT_LIMIT) if ref_out is not None else None,
                    expected=_expected(samples[sid]), explanation="; ".join(expl.get((runner, u), [])), error=a.error, prompt=_prompt(samples[sid]),
                )
            )
    return rows


def _counterpart(fin: dict[Unit, FinalAnswer], u: Unit) -> FinalAnswer | None:
    """The other runner's answer to set beside answer `u`: the same epoch, else its first (a greedy runner answers once)."""
    return fin.get(u) or fin.get((u[0], 1))


def _expected(sample: SampleRow) -> str | None:
    """The sample's reference answer as text: tool calls one a line for a tool-calling sample, else the string or its JSON."""
    exp_val = json.loads(sample.reference_json) if sample.reference_json else None
    exp_calls = reference_calls(exp_val) if exp_val is not None else None
    exp_val = render_calls(exp_calls) if exp_calls and sample.request_json else exp_val
    return clip(exp_val if isinstance(exp_val, str) else json.dumps(exp_val, ensure_ascii=False), FAILURE_TEXT_LIMIT) if exp_val is not None else None


def _prompt(sample: SampleRow) -> str:
    """What the sample asked, as the judge reads it: `[role]` then the text, message by message."""
    messages = json.loads(sample.input_json) if sample.input_json else []
    return clip(render_conversation(messages if isinstance(messages, list) else []), FAILURE_TEXT_LIMIT)


def _disagreements(store: Store, run_id: str, finals: Finals, outcomes: Outcomes, samples: dict[str, SampleRow], ref: str) -> list[Disagreement]:
    """The paired samples (both answered ok) where a candidate and the reference disagree: the verdict's discordant pairs."""
    expl: dict[tuple[str, Unit], list[str]] = defaultdict(list)
    for r in store.score_notes(run_id):
        expl[(r.runner, (r.sample_id, r.epoch))].append(f"{r.scorer}: {r.error or r.explanation or ('passed' if r.passed else 'failed')}")
    rows = []
    for runner, fin in finals.items():
        if runner == ref:
            continue
        for u, a in fin.items():
            b = _counterpart(finals.get(ref, {}), u)
            if a.status != "ok" or b is None or b.status != "ok":
                continue
            bu = (b.sample_id, b.epoch)
            cand_passed, ref_passed = outcomes[runner].get(u, False), outcomes[ref].get(bu, False)
            if cand_passed == ref_passed:
                continue
            sid = u[0]
            rows.append(
                Disagreement(
                    sample_id=sid, epoch=u[1], category=samples[sid].category, candidate=runner, candidate_passed=cand_passed, prompt=_prompt(samples[sid]),
                    candidate_output=clip(_shown(a), FAILURE_TEXT_LIMIT), reference_output=clip(_shown(b), FAILURE_TEXT_LIMIT), expected=_expected(samples[sid]),
                    candidate_explanation="; ".join(expl.get((runner, u), [])), reference_explanation="; ".join(expl.get((ref, bu), [])),
                )
            )
    return sorted(rows, key=lambda d: (d.candidate, d.candidate_passed, d.sample_id, d.epoch))
