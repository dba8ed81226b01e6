"""Two runs side by side: what changed in what was run, and in what it measured.

Quality is compared on pairs: the samples both runs answered `ok`, by sample
id, so that a night with a few timeouts is not compared on an easier subset
than the night before. Errors are shown apart, as the report does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, computed_field

from evals.gate.history import RunData, RunnerData
from evals.gate.rule import PairCounts, mcnemar_drop_p, relative_change
from evals.stats.intervals import z_two_sided
from evals.stats.means import score_interval, sign_flip_drop_p
from evals.stats.paired import paired_gap
from evals.stats.ratio import Statistic, paired_ratio_test

RUN_FACTS = ("id", "suite", "suite_hash", "status", "created_at", "finished_at", "git_commit", "tool_version", "reference_runner", "unscored", "unscored_runners")


class PairedScope(BaseModel):
    scope: str
    """`overall`, or a category name."""
    n: int
    """Samples both runs answered ok (the pairs)."""
    improved: int
    """Passed in B, failed in A (with epochs: samples whose pass rate over epochs rose)."""
    regressed: int
    """Failed in B, passed in A (with epochs: samples whose pass rate fell)."""
    pass_rate_a: float | None
    pass_rate_b: float | None
    """Pass rates on the pairs only."""
    gap: float | None
    """B − A on the pairs."""
    gap_ci: list[float] | None
    """95% score interval of the gap: Tango's (evals.stats.paired); with epochs, that of evals.stats.means."""
    mcnemar_p: float | None
    """Exact two-sided McNemar p-value (with epochs: the exact sign-flip test's)."""
    drop_p: float | None = None
    """Exact one-sided p-value of "the pass rate dropped": McNemar's; with epochs, the sign-flip test on per-sample pass rates."""
    epochs: bool = False
    """Some sample was answered more than once in a run: pairs are per-sample pass rates over epochs."""

    def counts(self) -> PairCounts:
        return PairCounts(n=self.n, improved=self.improved, regressed=self.regressed)


class RatioCheck(BaseModel):
    """A paired test of a rise in cost or latency on the shared samples (evals.stats.ratio)."""

    statistic: str
    """`mean` (cost per answered sample) or `p95` (latency)."""
    n: int
    before: float
    after: float
    ratio: float
    p_value: float
    """One-sided paired randomisation p-value for a rise."""


def ratio_check(before: dict[str, float], after: dict[str, float], shared: list[str], statistic: Statistic) -> RatioCheck | None:
    """The test over the shared samples both runs measured; None when fewer than two were, or a run's statistic is zero."""
    ids = [sid for sid in shared if sid in before and sid in after]
    x, y = [before[sid] for sid in ids], [after[sid] for sid in ids]
    if len(ids) < 2 or min(_stat_of(x, statistic), _stat_of(y, statistic)) <= 0:
        return None
    t = paired_ratio_test(x, y, statistic)
    return RatioCheck(statistic=t.statistic, n=t.n, before=t.before, after=t.after, ratio=t.ratio, p_value=t.p_value)


def _stat_of(values: list[float], statistic: Statistic) -> float:
    return float(np.mean(values) if statistic == "mean" else np.percentile(values, 95))


class RunnerComparison(BaseModel):
    runner: str
    model_a: str
    model_b: str
    profile_hash_a: str
    profile_hash_b: str
    profile_changes: list[str]
    """Top-level profile fields whose values differ (params, simulate, pricing, ...)."""
    simulated: bool = False
    """Either run's answers came from the simulated server."""
    served_models_a: list[str]
    served_models_b: list[str]
    server_facts_a: list[dict[str, Any]]
    server_facts_b: list[dict[str, Any]]
    samples_a: int
    samples_b: int
    error_rate_a: float
    error_rate_b: float
    """Share of samples without an ok answer (error, truncated, timeout, refused, not run)."""
    statuses_a: dict[str, int]
    statuses_b: dict[str, int]
    pass_rate_a: float | None
    pass_rate_b: float | None
    """Each run's own pass rate (completed ÷ answered), as in its report."""
    pass_rate_ci_a: list[float] | None
    pass_rate_ci_b: list[float] | None
    cost_per_completed_a: float | None
    cost_per_completed_b: float | None
    cost_change: float | None
    """Relative: B ÷ A − 1."""
    latency_p95_a: float | None
    latency_p95_b: float | None
    latency_change: float | None
    """Relative: B ÷ A − 1."""
    overall: PairedScope
    categories: list[PairedScope]
    cost_test: RatioCheck | None = None
    """Cost per answered sample (the runner's spend shared out over its samples) on the shared samples."""
    latency_test: RatioCheck | None = None
    """End-to-end latency p95 on the shared samples."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def profile_changed(self) -> bool:
        """Matched by name, but configured differently: allowed, and reported."""
        return self.profile_hash_a != self.profile_hash_b


class Comparison(BaseModel):
    run_a: dict[str, Any]
    run_b: dict[str, Any]
    suite_changed: bool
    """The suites' content hashes differ: the same sample ids may not be the same tasks."""
    runners: list[RunnerComparison]
    only_in_a: list[str]
    only_in_b: list[str]


def _rate(passed: list[float]) -> float | None:
    return sum(passed) / len(passed) if passed else None


def paired_scope(scope: str, pairs: list[tuple[float, float]], epochs: bool = False) -> PairedScope:
    """Pairs are (pass rate in A, pass rate in B) per shared sample: 0 or 1 for one answer each, the
    share of its ok epochs that passed when `epochs`."""
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    if not pairs:
        return PairedScope(scope=scope, n=0, improved=0, regressed=0, pass_rate_a=None, pass_rate_b=None, gap=None, gap_ci=None, mcnemar_p=None)
    if epochs:
        d = [y - x for x, y in pairs]
        drop = sign_flip_drop_p(d)
        return PairedScope(
            scope=scope, n=len(d), improved=sum(x > 0 for x in d), regressed=sum(x < 0 for x in d), pass_rate_a=_rate(a), pass_rate_b=_rate(b),
            gap=sum(d) / len(d), gap_ci=list(score_interval(d, z_two_sided(0.95))), mcnemar_p=min(1.0, 2 * min(drop, sign_flip_drop_p([-x for x in d]))),
            drop_p=drop, epochs=True,
        )
    g = paired_gap([x >= 1 for x in b], [x >= 1 for x in a])
    return PairedScope(
        scope=scope, n=g.n, improved=g.b, regressed=g.c, pass_rate_a=_rate(a), pass_rate_b=_rate(b),
        gap=g.gap, gap_ci=list(g.ci), mcnemar_p=g.mcnemar_p, drop_p=mcnemar_drop_p(g.b, g.c),
    )


def _profile_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def compare_runner(ra: RunnerData, rb: RunnerData, category: dict[str, str]) -> RunnerComparison:
    """One runner in two runs; categories come from run B (the newer, normally)."""
    shared = sorted(sid for sid, st in rb.status.items() if st == "ok" and ra.status.get(sid) == "ok")
    pairs = {sid: (ra.passed.get(sid, 0.0), rb.passed.get(sid, 0.0)) for sid in shared}
    epochs = any(ra.answers.get(sid, 1) > 1 or rb.answers.get(sid, 1) > 1 for sid in shared)
    cats = sorted({category.get(sid, "all") for sid in shared})
    sa, sb = ra.summary, rb.summary
    return RunnerComparison(
        runner=rb.name, model_a=ra.model, model_b=rb.model, profile_hash_a=ra.profile_hash, profile_hash_b=rb.profile_hash, simulated=sa.simulated or sb.simulated,
        profile_changes=_profile_changes(ra.profile, rb.profile), served_models_a=ra.served_models, served_models_b=rb.served_models,
        server_facts_a=ra.server_facts, server_facts_b=rb.server_facts, samples_a=sa.samples, samples_b=sb.samples,
        error_rate_a=sa.errors / sa.asked if sa.asked else 0.0, error_rate_b=sb.errors / sb.asked if sb.asked else 0.0,
        statuses_a={k: v for k, v in sa.statuses.items() if v}, statuses_b={k: v for k, v in sb.statuses.items() if v},
        pass_rate_a=sa.pass_rate, pass_rate_b=sb.pass_rate, pass_rate_ci_a=sa.pass_rate_ci, pass_rate_ci_b=sb.pass_rate_ci,
        cost_per_completed_a=sa.cost_per_completed_task_usd, cost_per_completed_b=sb.cost_per_completed_task_usd,
        cost_change=relative_change(sb.cost_per_completed_task_usd, sa.cost_per_completed_task_usd),
        latency_p95_a=sa.latency_ms_p95, latency_p95_b=sb.latency_ms_p95, latency_change=relative_change(sb.latency_ms_p95, sa.latency_ms_p95),
        overall=paired_scope("overall", list(pairs.values()), epochs),
        categories=[paired_scope(c, [p for sid, p in pairs.items() if category.get(sid, "all") == c], epochs) for c in cats],
        cost_test=ratio_check(ra.cost_usd, rb.cost_usd, shared, "mean"), latency_test=ratio_check(ra.latency_ms, rb.latency_ms, shared, "p95"),
    )


def compare(a: RunData, b: RunData) -> Comparison:
    """Run B against run A (A is the older or the baseline)."""
    common = [n for n in b.runners if n in a.runners]
    return Comparison(
        run_a={k: a.run.get(k) for k in RUN_FACTS},
        run_b={k: b.run.get(k) for k in RUN_FACTS},
        suite_changed=a.run["suite_hash"] != b.run["suite_hash"],
        runners=[compare_runner(a.runners[n], b.runners[n], b.category) for n in common],
        only_in_a=[n for n in a.runners if n not in b.runners],
        only_in_b=[n for n in b.runners if n not in a.runners],
    )
