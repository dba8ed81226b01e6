"""Change since the baseline run: the report's view of what `evals compare` measures.

The baseline is the run `evals gate --baseline last-pass` would pick, so the
report and the gate compare against the same night. This lives apart from
analyse because the comparison analyses both runs itself (the gate reads
the report's figures, so analyse cannot call the gate).

The report flags changes rather than judging them: a change is flagged when
the exact two-sided McNemar test is significant, for the categories after
Holm–Bonferroni over the runner's categories, since with six categories one
would otherwise be flagged in a quarter of unchanged runs. Whether a drop
fails a build is the gate's question, with its own tolerances.
"""

from __future__ import annotations

from pathlib import Path

from evals.gate.compare import PairedScope, RunnerComparison
from evals.gate.history import LAST_PASS, NoBaseline, find_baseline
from evals.gate.rule import holm
from evals.gate.service import compare_runs
from evals.report.model import BaselineResult, PairedChange, RunnerChange
from evals.store.db import Store

ALPHA = 0.05


def since_baseline(store: Store, run_id: str, prices: Path | None = None) -> BaselineResult | None:
    """`run_id` against its last-pass baseline; None when no earlier run of its suite has finished."""
    try:
        base_id, reason = find_baseline(store, run_id, LAST_PASS)
    except NoBaseline:
        return None
    c = compare_runs(store, base_id, run_id, prices)
    return BaselineResult(
        run_id=base_id, reason=reason, created_at=c.run_a["created_at"], git_commit=c.run_a["git_commit"], tool_version=c.run_a["tool_version"],
        suite_changed=c.suite_changed, alpha=ALPHA, runners=[_runner(r) for r in c.runners], only_in_baseline=c.only_in_a, only_now=c.only_in_b,
    )


def _change(s: PairedScope, adjusted_p: float | None) -> PairedChange:
    p = s.mcnemar_p if adjusted_p is None else adjusted_p
    return PairedChange(
        scope=s.scope, paired=s.n, improved=s.improved, regressed=s.regressed, pass_rate_before=s.pass_rate_a, pass_rate_now=s.pass_rate_b,
        gap=s.gap, gap_ci=s.gap_ci, mcnemar_p=s.mcnemar_p, adjusted_p=adjusted_p, significant=p is not None and p <= ALPHA,
    )


def _runner(r: RunnerComparison) -> RunnerChange:
    tested = [c for c in r.categories if c.mcnemar_p is not None]
    adjusted = dict(zip((c.scope for c in tested), holm([c.mcnemar_p for c in tested if c.mcnemar_p is not None]), strict=True))
    changes = [f"profile: {', '.join(r.profile_changes) or 'hash only'}"] if r.profile_changed else []
    if r.served_models_a != r.served_models_b:
        changes.append(f"served models: {', '.join(r.served_models_a) or 'unknown'} → {', '.join(r.served_models_b) or 'unknown'}")
    versions = [sorted({str(f.get("version")) for f in facts}) for facts in (r.server_facts_a, r.server_facts_b)]
    if versions[0] != versions[1]:
        changes.append(f"server version: {', '.join(versions[0]) or 'unknown'} → {', '.join(versions[1]) or 'unknown'}")
    return RunnerChange(
        runner=r.runner, overall=_change(r.overall, None), categories=[_change(c, adjusted.get(c.scope)) for c in r.categories],
        cost_per_completed_task_before_usd=r.cost_per_completed_a, cost_per_completed_task_now_usd=r.cost_per_completed_b, cost_change=r.cost_change,
        latency_ms_p95_before=r.latency_p95_a, latency_ms_p95_now=r.latency_p95_b, latency_change=r.latency_change,
        error_rate_before=r.error_rate_a, error_rate_now=r.error_rate_b, changes=changes,
    )
