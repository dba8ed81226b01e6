"""Trend: quality, cost and latency of one runner over the past runs of a suite.

A single gate answers "did last night break something"; the trend answers
"are we drifting", which a sequence of individually insignificant drops can
do. Every point is the runner summary the analyse stage kept for that run,
so it matches the report of that run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.report.summaries import runner_summaries
from evals.store.db import Store


def trends(store: Store, suite: str, runners: list[str], last_n: int = 20, prices: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Per runner, its last `last_n` finished runs of `suite`, oldest first.

    Each run's summaries are read from the store (analysed once, when its report was built).
    """
    if last_n < 1:
        raise ValueError(f"last_n must be at least 1, got {last_n}")
    wanted: dict[str, set[str]] = {r: set(store.latest_finished_runs(suite, r, last_n)) for r in runners}
    union = set().union(*wanted.values())
    oldest_first = [x for x in store.runs_of_suite(suite) if x in union]
    out: dict[str, list[dict[str, Any]]] = {r: [] for r in runners}
    for run_id in oldest_first:
        run = store.run(run_id)
        summaries = runner_summaries(store, run_id, prices)
        gate = store.latest_gate_result(run_id)
        hashes = {x.runner: x.profile_hash for x in store.run_runners(run_id)}
        versions: dict[str, set[str]] = {}
        for f in store.server_facts(run_id):
            if f["kind"] == "server" and f["data"].get("version"):
                versions.setdefault(f["runner"], set()).add(f["data"]["version"])
        for s in summaries:
            if run_id not in wanted.get(s.name, ()):
                continue
            out[s.name].append(
                {
                    "run_id": run_id, "created_at": run["created_at"], "git_commit": run["git_commit"], "suite_hash": run["suite_hash"],
                    "runner": s.name, "model": s.model, "profile_hash": hashes.get(s.name), "server_versions": sorted(versions.get(s.name, ())),
                    "simulated": s.simulated,
                    "samples": s.samples, "answered": s.answered, "completed": s.completed,
                    "error_rate": s.errors / s.asked if s.asked else 0.0,
                    "pass_rate": s.pass_rate, "pass_rate_ci": s.pass_rate_ci,
                    "cost_per_completed_task_usd": s.cost_per_completed_task_usd, "latency_ms_p95": s.latency_ms_p95, "gate": gate,
                }
            )
    return out


def trend(store: Store, suite: str, runner: str, last_n: int = 20, prices: Path | None = None) -> list[dict[str, Any]]:
    """One runner's points, oldest first: pass rate with its Wilson 95% interval,
    cost per completed task, latency p95, error rate, server versions and the
    gate result per run."""
    return trends(store, suite, [runner], last_n, prices)[runner]
