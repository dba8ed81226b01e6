"""Run history: what the gate and the trend read from the store, and the gate
results they write back.

Per-runner figures (pass rate, cost per completed task, latency p95) come from
the analyse stage itself, so the gate judges exactly the numbers the report
shows; only the per-sample outcomes it pairs are read here directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.config import ConfigError
from evals.report.model import RunnerSummary
from evals.report.summaries import runner_summaries
from evals.store.db import Store
from evals.store.reads import RunRow

LAST_PASS = "last-pass"


class NoBaseline(ConfigError):
    """`last-pass` found no earlier finished run of the suite to compare with."""


@dataclass(frozen=True)
class RunnerData:
    name: str
    model: str
    profile_hash: str
    profile: dict[str, Any]
    served_models: list[str]
    """Model names the server reported in its responses (e.g. a vLLM served-model name)."""
    server_facts: list[dict[str, Any]]
    """Per server: base_url, version (e.g. vLLM's) and served models, where the server told."""
    summary: RunnerSummary
    status: dict[str, str]
    """sample id -> final status (ok, error, truncated, timeout, refused); `ok` when any of its epochs was answered ok."""
    passed: dict[str, float]
    """sample id -> share of its ok answers (one, or one per epoch) that passed the suite's pass rule."""
    latency_ms: dict[str, float]
    """sample id -> end-to-end latency of its final ok answers, the mean over epochs (where the server timed it)."""
    cost_usd: dict[str, float]
    """sample id -> its share of the runner's spend (summary.cost_total_usd) per answer asked, every attempt included; empty when unknown."""
    answers: dict[str, int] = field(default_factory=dict)
    """sample id -> ok answers it has (more than one: epochs); a sample not in it has one."""


class GatedRun(RunRow):
    """The run's row, with what the gate must know of its scoring."""

    unscored: int
    """ok answers without a pass/fail outcome (not, or not fully, scored)."""
    unscored_runners: dict[str, int]


@dataclass(frozen=True)
class RunData:
    run: GatedRun
    category: dict[str, str]
    """sample id -> category."""
    runners: dict[str, RunnerData]

    @property
    def id(self) -> str:
        return str(self.run["id"])


def _server_facts(store: Store, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Per runner, what its servers said about themselves: base URL, version (vLLM's
    /version) and served models. The /metrics deltas are left out: they differ every run."""
    out: dict[str, list[dict[str, Any]]] = {}
    for f in store.server_facts(run_id):
        if f["kind"] == "server":
            d = f["data"]
            out.setdefault(f["runner"], []).append({"base_url": f["base_url"], "version": d.get("version"), "models": d.get("models", [])})
    return out


def load_run(store: Store, run_id: str, prices: Path | None = None) -> RunData:
    """Everything the comparison needs about one run. KeyError for an unknown run."""
    unscored = store.unscored_answers(run_id)
    run = GatedRun(**store.run(run_id), unscored=sum(unscored.values()), unscored_runners=unscored)
    summaries = {r.name: r for r in runner_summaries(store, run_id, prices)}
    category = store.sample_categories(run_id)
    status: dict[str, dict[str, str]] = {}
    served: dict[str, set[str]] = {}
    latencies: dict[str, dict[str, list[float]]] = {}
    ok_epochs: dict[str, dict[str, set[int]]] = {}
    asked: dict[str, dict[str, int]] = {}
    for a in store.final_statuses(run_id):
        runner, sid = a.runner, a.sample_id
        asked.setdefault(runner, {})[sid] = asked.get(runner, {}).get(sid, 0) + 1
        if a.status == "ok":
            status.setdefault(runner, {})[sid] = "ok"
            ok_epochs.setdefault(runner, {}).setdefault(sid, set()).add(a.epoch)
            if a.latency_ms is not None:
                latencies.setdefault(runner, {}).setdefault(sid, []).append(float(a.latency_ms))
        else:
            status.setdefault(runner, {}).setdefault(sid, a.status)
        if a.served_model:
            served.setdefault(a.runner, set()).add(a.served_model)
    latency = {r: {sid: sum(v) / len(v) for sid, v in per.items()} for r, per in latencies.items()}
    passes: dict[str, dict[str, int]] = {}
    for o in store.outcomes(run_id):
        if o.epoch in ok_epochs.get(o.runner, {}).get(o.sample_id, ()):
            passes.setdefault(o.runner, {})[o.sample_id] = passes.get(o.runner, {}).get(o.sample_id, 0) + bool(o.passed)
    answers = {r: {sid: len(e) for sid, e in per.items()} for r, per in ok_epochs.items()}
    passed = {r: {sid: passes.get(r, {}).get(sid, 0) / n for sid, n in per.items()} for r, per in answers.items()}
    facts = _server_facts(store, run_id)
    spent = _spend_weights(store, run_id)
    runners = {}
    for rr in store.run_runners(run_id):
        name = rr.runner
        runners[name] = RunnerData(
            name=name, model=rr.model, profile_hash=rr.profile_hash, profile=json.loads(rr.profile_json),
            served_models=sorted(served.get(name, ())), server_facts=facts.get(name, []), summary=summaries[name],
            status=status.get(name, {}), passed=passed.get(name, {}), latency_ms=latency.get(name, {}), answers=answers.get(name, {}),
            cost_usd={
                sid: c / asked.get(name, {}).get(sid, 1)
                for sid, c in _allocate(summaries[name].cost_total_usd, spent.get(name, {}), self_hosted=bool((json.loads(rr.profile_json).get("pricing") or {}).get("self_hosted"))).items()
            },
        )
    return RunData(run=run, category=category, runners=runners)


def _spend_weights(store: Store, run_id: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Per runner and sample, over every attempt the run made for it: (recorded API cost, time taken in ms)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for r in store.spend_by_sample(run_id):
        out.setdefault(r.runner, {})[r.sample_id] = (float(r.cost), float(r.ms))
    return out


def _allocate(total: float | None, weights: dict[str, tuple[float, float]], self_hosted: bool) -> dict[str, float]:
    """The runner's spend shared out over its samples: in proportion to each sample's
    recorded API cost, or for a self-hosted runner (which pays for time) to the time its
    attempts took. The shares add up to the figure the report shows, so the gate's paired
    cost test compares what the report costs."""
    w = {sid: ms if self_hosted else cost for sid, (cost, ms) in weights.items()}
    whole = sum(w.values())
    if total is None or whole <= 0:
        return {}
    return {sid: total * x / whole for sid, x in w.items()}


def find_baseline(store: Store, run_id: str, baseline: str) -> tuple[str, str]:
    """(baseline run id, why it was chosen).

    `last-pass` looks among earlier finished runs of the same suite, newest
    first: the latest with the same suite hash whose latest gate result is
    pass; else (nothing has passed yet, e.g. in the first nights after a suite
    change) the latest with the same suite hash that did not regress, else the
    latest with the same suite hash; else the latest of the suite at all,
    whose different hash the gate then reports as inconclusive, so a suite
    change is seen once and the next night compares like with like. A
    regressed run is never the baseline while another candidate exists, so a
    regression keeps failing until it is fixed instead of becoming the norm.
    """
    if baseline != LAST_PASS:
        store.run(baseline)  # KeyError for an unknown run
        if baseline == run_id:
            raise ConfigError(f"run {run_id} cannot be its own baseline")
        return baseline, "named as the baseline"
    suite_hash = store.run(run_id)["suite_hash"]
    # finished and fully scored, newest first; a run in which a runner was stopped early (budget, breaker,
    # quota) is left out: its missing answers would make a partial night the norm
    earlier = store.earlier_runs(run_id)
    same = [r for r in earlier if r.suite_hash == suite_hash]
    results = {r.id: store.latest_gate_result(r.id) for r in same}
    for r in same:
        if results[r.id] == "pass":
            return r.id, "the latest earlier run of this suite that passed its gate"
    for r in same:
        if results[r.id] != "regression":
            return r.id, "the latest earlier run of this suite that did not regress; none has passed a gate yet"
    if same:
        return same[0].id, "the latest earlier run of this suite; every earlier one regressed"
    if earlier:
        return earlier[0].id, "the latest earlier run of this suite; none has this suite hash"
    raise NoBaseline(f"no baseline for {run_id}: no earlier finished run of suite {store.run(run_id)['suite']!r} in {store.path}")


def record_gate_result(store: Store, run_id: str, baseline_id: str | None, result: str, exit_code: int, report_json: str) -> None:
    store.add_gate_result(run_id, baseline_id, result, exit_code, report_json)
