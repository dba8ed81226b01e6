"""The gate: a comparison of a run with its baseline -> checks, a result and an exit code.

Exit codes are a contract with CI:

- 0 pass: every check ran and none regressed.
- 1 regression: a check that could be run found a real drop (see rule.py).
- 2 inconclusive: something prevented a fair comparison and nothing regressed:
  too many errors in either run (an outage is never a regression: its
  runner's checks are not run at all), too few shared samples, a changed
  suite, an unfinished run, no runner in common.
- 3 usage error: unknown run, no baseline, bad flags (raised, never returned).

A runner that regressed fails the gate even when another runner of the same
run was inconclusive: the drop that was measured is real either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.gate.compare import Comparison, PairedScope, RatioCheck, RunnerComparison
from evals.gate.history import RunData
from evals.gate.rule import decide, detectable_drop, mcnemar_drop_p
from evals.report.text import fmt_sig, fmt_usd

PASS, REGRESSION, INCONCLUSIVE, USAGE = 0, 1, 2, 3

Result = Literal["pass", "regression", "inconclusive", "no-baseline"]
Status = Literal["pass", "regression", "inconclusive", "skipped"]
RESULTS: dict[int, Result] = {PASS: "pass", REGRESSION: "regression", INCONCLUSIVE: "inconclusive"}

RULE = (
    "every check is a one-sided test in one Holm–Bonferroni family at alpha (the whole gate's false-alarm rate): quality "
    "(overall and per category) regresses when the exact McNemar test of a drop on the samples both runs answered ok is "
    "significant and the observed drop exceeds the tolerance; cost per answered sample (mean) and latency p95 on those samples "
    "regress when a paired randomisation test of a rise is significant and the observed rise exceeds the relative tolerance; "
    "a runner with too many errors in either run, or missing from this run, is inconclusive, never a regression"
)


class GateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tolerance: float = Field(default=0.02, ge=0, lt=1)
    """Pass-rate drop (absolute, 0.02 = 2 points) that is too small to matter."""
    cost_tolerance: float = Field(default=0.10, ge=0)
    """Allowed relative rise of the mean cost per answered sample on the shared samples (0.10 = +10%)."""
    latency_tolerance: float = Field(default=0.20, ge=0)
    """Allowed relative rise of end-to-end latency p95 on the shared samples."""
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    """Above this share of samples without an ok answer, in either run, a runner is inconclusive."""
    min_shared: int = Field(default=30, ge=1)
    """Fewer samples answered ok by both runs than this: inconclusive."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Chance of a false alarm in the whole gate (quality, cost and latency, Holm together) when nothing changed."""


class Check(BaseModel):
    name: str
    """`error rate`, `quality: overall`, `quality: <category>`, `cost per completed task`, `latency p95`."""
    status: Status
    message: str
    p_value: float | None = None
    """One-sided p-value of the check's test (quality: exact McNemar; cost, latency: paired randomisation)."""
    adjusted_p: float | None = None
    """Holm-adjusted over every tested check of the gate."""
    detectable_drop: float | None = None
    """Quality checks: the smallest true drop (a fraction) this check catches with 80% power at its number of pairs."""


class RunnerGate(BaseModel):
    runner: str
    status: Literal["pass", "regression", "inconclusive"]
    notes: list[str]
    """What changed besides the measurements: profile, model, served model, server facts."""
    checks: list[Check]


class GateReport(BaseModel):
    run_id: str
    baseline_id: str | None
    baseline_reason: str
    result: Result
    exit_code: int
    reasons: list[str]
    """Why the runs as a whole could not be compared fairly (empty when they could)."""
    options: GateOptions
    rule: str = RULE
    runners: list[RunnerGate]
    comparison: Comparison | None
    simulated_runners: list[str] = []
    """Runners whose answers came from the simulated server: the gate then tests the tool, not a model."""


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _points(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _run_reasons(c: Comparison) -> list[str]:
    reasons = []
    if c.suite_changed:
        reasons.append(
            f"suite changed: {c.run_a['suite_hash']} in the baseline, {c.run_b['suite_hash']} now, so the same sample ids may not be the same tasks; "
            "the next run is compared with this one (or name a baseline run of the new suite)"
        )
    for label, run in (("run", c.run_b), ("baseline", c.run_a)):
        if run["status"] != "finished":
            reasons.append(f"{label} {run['id']} is {run['status']}, not finished")
        if run.get("unscored"):
            who = ", ".join(f"{name} {n}" for name, n in (run.get("unscored_runners") or {}).items())
            reasons.append(f"{label} {run['id']} has {run['unscored']} answers that were never scored ({who}): run `evals score {run['id']}` first")
    if not c.runners:
        reasons.append("no runner is in both runs")
    return reasons


def _notes(r: RunnerComparison) -> list[str]:
    notes = []
    if r.profile_changed:
        notes.append(f"profile changed ({', '.join(r.profile_changes) or 'hash only'}): {r.profile_hash_a} → {r.profile_hash_b}")
    if r.model_a != r.model_b:
        notes.append(f"model changed: {r.model_a} → {r.model_b}")
    if r.served_models_a != r.served_models_b:
        notes.append(f"served model changed: {', '.join(r.served_models_a) or 'unknown'} → {', '.join(r.served_models_b) or 'unknown'}")
    versions_a, versions_b = (sorted({str(f.get("version")) for f in facts}) for facts in (r.server_facts_a, r.server_facts_b))
    if versions_a != versions_b:
        notes.append(f"server version changed: {', '.join(versions_a) or 'unknown'} → {', '.join(versions_b) or 'unknown'}")
    elif r.server_facts_a != r.server_facts_b:
        notes.append("servers changed (base URL or served models; see `evals compare`)")
    return notes


def _error_check(r: RunnerComparison, o: GateOptions) -> Check:
    bad = [(label, rate, st) for label, rate, st in (("baseline", r.error_rate_a, r.statuses_a), ("run", r.error_rate_b, r.statuses_b)) if rate > o.max_error_rate]
    if not bad:
        return Check(name="error rate", status="pass", message=f"errors {_pct(r.error_rate_a)} in the baseline, {_pct(r.error_rate_b)} now (max {_pct(o.max_error_rate)})")
    parts = [f"{label}: {_pct(rate)} of samples without an ok answer ({', '.join(f'{k} {v}' for k, v in sorted(st.items()) if k != 'ok')})" for label, rate, st in bad]
    return Check(
        name="error rate", status="inconclusive",
        message=f"{'; '.join(parts)} exceeds the maximum {_pct(o.max_error_rate)}: an outage or a broken endpoint, not a quality result; quality, cost and latency were not judged",
    )


_usd = fmt_usd
"""Money as the report, summary.md and the terminal show it: never `$8.63713e-05`."""


def _ms(x: float) -> str:
    return f"{x:.0f} ms"


@dataclass
class _Tested:
    """A check waiting for the family's Holm adjustment."""

    check: Check
    p_value: float
    material: bool
    describe: Callable[[float, float, str], str]
    """(p, adjusted p, verdict) -> the check's message."""
    drop: tuple[int, float] | None = None
    """Quality checks: (pairs, discordance), for the detectable drop."""


def _ratio_check(name: str, test: RatioCheck | None, tolerance: float, fmt: Callable[[float], str], o: GateOptions, extra: str = "") -> tuple[Check, _Tested | None]:
    if test is None:
        return Check(name=name, status="skipped", message="not measured on the shared samples of both runs (e.g. no timing, no spend, a batch runner)"), None
    check = Check(name=name, status="pass", message="")

    def describe(p: float, q: float, verdict: str) -> str:
        return (
            f"{verdict}: {fmt(test.before)} → {fmt(test.after)} ({test.statistic} on {test.n} shared samples, {100 * (test.ratio - 1):+.1f}%, "
            f"tolerance +{100 * tolerance:g}%); one-sided paired randomisation p={fmt_sig(p)}, Holm-adjusted {fmt_sig(q)} (alpha {o.alpha:g}){extra}"
        )

    return check, _Tested(check, test.p_value, test.ratio - 1 > tolerance, describe)


def _quality(name: str, s: PairedScope, o: GateOptions) -> _Tested:
    def describe(p: float, q: float, verdict: str) -> str:
        assert s.gap is not None and s.gap_ci is not None
        return (
            f"{verdict}: {_pct(s.pass_rate_a)} → {_pct(s.pass_rate_b)} on {s.n} shared samples, {_points(s.gap)} "
            f"(95% CI {100 * s.gap_ci[0]:+.1f} to {100 * s.gap_ci[1]:+.1f}); {s.improved} improved, {s.regressed} regressed; "
            f"one-sided {'sign-flip test on per-sample pass rates over epochs' if s.epochs else 'McNemar'} p={fmt_sig(p)}, Holm-adjusted {fmt_sig(q)} (alpha {o.alpha:g}); "
            f"tolerance {100 * o.tolerance:g} points"
        )

    check = Check(name=name, status="pass", message="")
    p = s.drop_p if s.drop_p is not None else mcnemar_drop_p(s.improved, s.regressed)
    return _Tested(check, p, s.n > 0 and s.gap is not None and s.gap < -o.tolerance, describe, (s.n, (s.improved + s.regressed) / s.n if s.n else 0.0))


_VERDICTS = {
    "quality": ("significant drop beyond tolerance", "significant drop within tolerance", "drop beyond tolerance but not significant", "no significant drop"),
    "rise": ("significant rise beyond tolerance", "significant rise within tolerance", "rise beyond tolerance but not significant (noise at this sample size)", "no significant rise"),
}


def _missing(name: str, c: Comparison) -> RunnerGate:
    msg = f"{name} is in the baseline {c.run_a['id']} but not in this run: not gated tonight (nothing about it was measured)"
    return RunnerGate(runner=name, status="inconclusive", notes=[], checks=[Check(name="coverage", status="inconclusive", message=msg)])


def evaluate(comparison: Comparison, options: GateOptions, baseline_reason: str) -> GateReport:
    """Every check of every runner, decided together (Holm needs the whole family)."""
    o = options
    reasons = _run_reasons(comparison)
    gates: list[RunnerGate] = []
    family: list[_Tested] = []
    for r in comparison.runners:
        if reasons:
            checks = [Check(name=n, status="skipped", message="not checked: the runs are not comparable") for n in ("error rate", "quality: overall")]
            gates.append(RunnerGate(runner=r.runner, status="inconclusive", notes=_notes(r), checks=checks))
            continue
        err = _error_check(r, o)
        checks = [err]
        if err.status == "inconclusive":
            checks += [Check(name=n, status="skipped", message="not judged: too many errors") for n in ("quality: overall", "cost per answered sample", "latency p95")]
        else:
            if r.overall.n < o.min_shared:
                checks.append(Check(
                    name="quality: overall", status="inconclusive",
                    message=f"only {r.overall.n} samples answered ok in both runs; at least {o.min_shared} are needed to judge quality",
                ))
            else:
                for name, scope in [("quality: overall", r.overall), *((f"quality: {c.scope}", c) for c in (r.categories if len(r.categories) > 1 else []))]:
                    t = _quality(name, scope, o)
                    checks.append(t.check)
                    family.append(t)
            cpc = f"; cost per completed task {_usd(r.cost_per_completed_a)} → {_usd(r.cost_per_completed_b)}" if r.cost_per_completed_a is not None and r.cost_per_completed_b is not None else ""
            for check, tested in (
                _ratio_check("cost per answered sample", r.cost_test, o.cost_tolerance, _usd, o, cpc),
                _ratio_check("latency p95", r.latency_test, o.latency_tolerance, _ms, o),
            ):
                checks.append(check)
                if tested is not None:
                    family.append(tested)
        gates.append(RunnerGate(runner=r.runner, status="pass", notes=_notes(r), checks=checks))
    gates += [_missing(name, comparison) for name in comparison.only_in_a]

    decisions = decide([t.p_value for t in family], [t.material for t in family], o.alpha)
    first_step = o.alpha / max(1, len(family))  # the level Holm asks of a single real regression
    for t, d in zip(family, decisions, strict=True):
        t.check.p_value, t.check.adjusted_p = d.p_value, d.adjusted_p
        words = _VERDICTS["quality" if t.drop is not None else "rise"]
        verdict = words[0] if d.regression else words[1] if d.significant else words[2] if d.material else words[3]
        if d.regression:
            t.check.status = "regression"
        t.check.message = t.describe(d.p_value, d.adjusted_p, verdict)
        if t.drop is not None:
            n, discordance = t.drop
            t.check.detectable_drop = detectable_drop(n, discordance, first_step, o.tolerance)
            t.check.message += (
                f"; smallest drop detectable with 80% power at {n} pairs: {100 * t.check.detectable_drop:.1f} points"
                if t.check.detectable_drop is not None else f"; no drop is detectable with 80% power at {n} pairs"
            )

    for g in gates:
        statuses = {c.status for c in g.checks}
        g.status = "regression" if "regression" in statuses else "inconclusive" if "inconclusive" in statuses or reasons else "pass"
    found = {g.status for g in gates}
    code = REGRESSION if "regression" in found else INCONCLUSIVE if reasons or "inconclusive" in found else PASS
    return GateReport(
        run_id=comparison.run_b["id"], baseline_id=comparison.run_a["id"], baseline_reason=baseline_reason, result=RESULTS[code],
        exit_code=code, reasons=reasons, options=o, runners=gates, comparison=comparison,
        simulated_runners=[r.runner for r in comparison.runners if r.simulated],
    )


def reasons_in_brief(report: GateReport) -> list[str]:
    """One line per reason the gate did not plainly pass: run-level reasons, then every
    check that regressed or was inconclusive, named by runner."""
    return [*report.reasons, *(f"{g.runner}: {c.name}: {c.message}" for g in report.runners for c in g.checks if c.status in ("regression", "inconclusive"))]


def without_baseline(run: RunData, options: GateOptions, reason: str) -> GateReport:
    """The first run of a suite: nothing to compare with, so no quality verdict,
    but an outage is still reported (a broken first night must not pass silently)."""
    gates = []
    for name, r in run.runners.items():
        s = r.summary
        rate = s.errors / s.asked if s.asked else 0.0
        ok = rate <= options.max_error_rate
        msg = f"errors {_pct(rate)} (max {_pct(options.max_error_rate)})" + ("" if ok else ": an outage or a broken endpoint")
        gates.append(RunnerGate(runner=name, status="pass" if ok else "inconclusive", notes=[], checks=[Check(name="error rate", status="pass" if ok else "inconclusive", message=msg)]))
    outage = any(g.status == "inconclusive" for g in gates)
    return GateReport(
        run_id=run.id, baseline_id=None, baseline_reason=reason, result="inconclusive" if outage else "no-baseline",
        exit_code=INCONCLUSIVE if outage else PASS, reasons=[], options=options, runners=gates, comparison=None,
        simulated_runners=[name for name, r in run.runners.items() if r.summary.simulated],
    )
