"""The run stage: suite + runner profiles -> every answer in the store.

Everything that can be wrong with the inputs (files, keys, prices) is checked
before the run is created, so a bad invocation writes nothing half-done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

from evals import __version__
from evals.config import ConfigError, RunnerProfile, Suite
from evals.cost.pricing import RunnerPricing, runner_pricing
from evals.providers.base import Provider
from evals.providers.factory import api_key, make_providers
from evals.providers.launch import launch_all
from evals.providers.registry import services
from evals.providers.server_facts import RunServers
from evals.providers.translate import RequestParams, anthropic_not_sent, request_params, text_tool_call
from evals.run.budget import Budget
from evals.run.executor import Job, RunnerResult, run_jobs
from evals.run.keys import epochs_for, request_identity, request_key, samples_model
from evals.run.progress import Progress
from evals.store.batches import BatchLedger
from evals.store.db import Store
from evals.suite.load import load_samples, suite_hash
from evals.suite.sample import Sample


@dataclass
class RunSummary:
    run_id: str
    results: dict[str, RunnerResult]
    reused: dict[str, int]
    status: str
    in_flight: dict[str, int] = dataclasses.field(default_factory=dict)
    """Batch runners' batches still running when the wait limit passed (status `waiting`)."""

    def trouble(self) -> tuple[int, str] | None:
        """The exit code and one line for a run that must not pass as fine: 4 when a
        runner was stopped early (budget, a dead endpoint's breaker, an exhausted quota),
        5 when a runner has no ok answer at all, 6 when batches are still in flight (nothing is
        scored yet); None otherwise. The first runner's trouble decides, stops before empties."""
        if self.in_flight:
            waiting = ", ".join(f"{n!r} ({k} batch(es))" for n, k in self.in_flight.items())
            return EXIT_WAITING, f"waiting for batch: runner(s) {waiting} still in flight; `evals run --collect` collects, scores and reports them"
        stopped = [f"runner {n!r} stopped: {r.stopped_reason}" for n, r in self.results.items() if r.stopped_reason]
        if stopped:
            return EXIT_STOPPED, "; ".join(stopped)
        empty = [n for n, r in self.results.items() if r.answered_ok == 0 and self.reused.get(n, 0) == 0 and r.sent > 0]
        if empty:
            return EXIT_NOTHING_ANSWERED, f"runner(s) {', '.join(repr(n) for n in empty)} answered nothing: every request failed (see the report's failure explorer or `evals runs`)"
        return None


EXIT_STOPPED = 4
"""`evals run`: a runner was stopped before its last sample (budget, breaker, quota)."""
EXIT_NOTHING_ANSWERED = 5
"""`evals run`: a runner sent requests and got no ok answer back."""
EXIT_WAITING = 6
"""`evals run`: batches were still in flight when the wait limit passed; nothing is scored yet."""


def new_run_id(suite: str) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{suite}-{secrets.token_hex(2)}"


def git_commit(workspace: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(workspace), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def choose_reference(runners: list[RunnerProfile], reference: str | None) -> str:
    names = [r.name for r in runners]
    if reference:
        if reference not in names:
            raise ConfigError(f"--reference {reference!r} is not one of the runners in this run: {', '.join(names)}")
        return reference
    marked = [r.name for r in runners if r.role == "reference"]
    if len(marked) > 1:
        raise ConfigError(f"several runners say `role: reference` ({', '.join(marked)}); pick one with --reference")
    return marked[0] if marked else names[0]


@dataclass
class PreparedRun:
    samples: list[Sample]
    reference: str
    pricing: dict[str, RunnerPricing]


def prepare_run(suite: Suite, runners: list[RunnerProfile], reference: str | None, price_overrides: Path | None) -> PreparedRun:
    """Every check on a run's inputs (runners, samples, reference, prices, keys), so a bad invocation fails before anything is written."""
    if not runners:
        raise ConfigError("no runners given; name at least one with --runner")
    names = [r.name for r in runners]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"runner names must be unique in a run: {', '.join(sorted(dupes))}")
    offline = [r.name for r in runners if r.provider == "vllm_offline"]
    if len(offline) > 1:
        # Each engine takes gpu_memory_utilization of the GPU when it loads: two in one process run out of memory.
        raise ConfigError(f"runners {', '.join(offline)} each load a vllm.LLM engine in this process; run them one per `evals run`, or serve them with `launch:` blocks")
    for r in runners:
        api_key(r)
        if r.pricing.api is not None and r.pricing.api.batch and r.batch is None:
            # Pricing a synchronous run at batch rates would understate its cost by half.
            raise ConfigError(f"runner {r.name!r}: `pricing.api.batch: true` prices at the batch rate, but the runner sends through the synchronous API; add `batch: true` to the profile (or run with --batch) to use the batch API, or set it to false")
        if r.batch is not None and r.pricing.api is None:
            raise ConfigError(f"runner {r.name!r}: `batch:` needs `pricing.api` (a batch is priced per token at the batch rate)")
    return PreparedRun(samples=load_samples(suite), reference=choose_reference(runners, reference), pricing={r.name: runner_pricing(r, price_overrides) for r in runners})


def execute_run(
    *,
    workspace: Path,
    suite: Suite,
    runners: list[RunnerProfile],
    store: Store,
    reference: str | None = None,
    budget_usd: float | None = None,
    reuse: bool = True,
    quiet: bool = False,
    price_overrides: Path | None = None,
    prepared: PreparedRun | None = None,
    wait_s: float | None = None,
    epochs: int | dict[str, int] | None = None,
) -> RunSummary:
    """`prepared` is `prepare_run`'s result when the caller checked the inputs before creating the store.
    `wait_s`: how long batch runners wait for their batches (default: each runner's batch.wait_s).
    `epochs`: times each sample goes to every sampling runner (or per runner name), over the profiles' and the suite's `epochs:`."""
    p = prepared or prepare_run(suite, runners, reference, price_overrides)
    asked = {r.name: epochs_for(r, suite.epochs, epochs.get(r.name) if isinstance(epochs, dict) else epochs) for r in runners}
    samples, ref, pricing = p.samples, p.reference, p.pricing
    with services(runners, samples) as service_urls, launch_all(runners, workspace / "reports" / "logs") as launched:
        # launched runners talk to the server just started; the store keeps their profiles as written
        served = [r.model_copy(update={"base_url": launched[r.name]}) if r.name in launched else r for r in runners]
        providers = {r.name: make_providers(r, service_urls.get(r.name)) for r in served}
        servers = RunServers(served)
        run_id = new_run_id(suite.name)
        store.create_run(
            run_id,
            suite=suite.name,
            suite_hash=suite_hash(suite),
            workspace=str(workspace.resolve()),
            git_commit=git_commit(workspace),
            tool_version=__version__,
            reference_runner=ref,
            info={"margin": suite.margin, "budget_usd": budget_usd, "python": sys.version.split()[0], "reuse": reuse, "epochs": asked,
                  "workload": json.loads(json.dumps(suite.workload, default=str)) if suite.workload else None},  # the volume its costs are priced at
        )
        store.add_samples(
            run_id,
            (
                (
                    s.id, s.category, json.dumps(s.input, ensure_ascii=False), json.dumps(s.reference, ensure_ascii=False), json.dumps(s.metadata, ensure_ascii=False),
                    json.dumps(s.scorers) if s.scorers is not None else None, json.dumps(s.request_fields(), ensure_ascii=False) if s.request_fields() else None,
                )
                for s in samples
            ),
        )
        status = "failed"
        results: dict[str, RunnerResult] = {}
        in_flight: dict[str, int] = {}
        reused: dict[str, int] = {}
        try:
            jobs_by_runner = {}
            for r in runners:
                store.add_runner(run_id, r.name, r.provider, r.model, r.simulated, r.profile_hash(), r.model_dump_json(), pricing[r.name].to_json())
                jobs, n_reused = _plan(store, run_id, r, samples, pricing[r.name], reuse, asked[r.name])
                store.update_runner(run_id, r.name, planned=len(jobs) + n_reused)
                jobs_by_runner[r.name] = jobs
                reused[r.name] = n_reused
            servers.before()
            store.start_writer()
            # Everything loaded so far lives for the whole run: freeze it so the
            # collector's full passes (tens of ms) do not stall request timing.
            gc.collect()
            gc.freeze()
            try:
                results, in_flight = asyncio.run(_run_all(runners, providers, jobs_by_runner, store, run_id, pricing, Budget(budget_usd), quiet, wait_s))
            finally:
                gc.unfreeze()
                store.stop_writer()
            for name, res in results.items():
                store.update_runner(run_id, name, requests_sent=res.sent, requests_reused=reused[name], stopped_reason=res.stopped_reason, wall_s=res.wall_s)
            for row in servers.facts_after(store.answers_without_usage(run_id)):
                store.add_server_fact(run_id, *row)
            for (runner, url), (n, example) in store.usage_anomalies(run_id).items():
                store.add_server_fact(run_id, runner, url, "usage_anomaly", {"answers": n, "example": example, "note": USAGE_ANOMALY_NOTE})
            for (runner, url), (n, example) in _text_tool_calls(store, run_id, samples).items():
                store.add_server_fact(run_id, runner, url, "tool_calls_as_text", {"answers": n, "example": example, "note": TEXT_CALLS_NOTE})
            status = "waiting" if in_flight else "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if status not in ("finished", "waiting"):  # the runners never reported their counts: take them from what was stored
                store.record_sent_counts(run_id, status)
            store.finish_run(run_id, status)
    return RunSummary(run_id=run_id, results=results, reused=reused, status=status, in_flight=in_flight)


USAGE_ANOMALY_NOTE = (
    "the server reported token counts that cannot all be true (see evals/cost/anomaly.py); the answers are kept "
    "with the counts as reported, and billed at the reading that costs the most"
)


def _plan(store: Store, run_id: str, r: RunnerProfile, samples: list[Sample], pricing: RunnerPricing, reuse: bool, epochs: int = 1) -> tuple[list[Job], int]:
    """Jobs still to send, after copying in every answer an earlier run already paid for.

    A sample goes `epochs` times to a runner that samples (keys.samples_model) and once to a greedy one,
    whose repeats would be the same answer; each epoch has its own request key, so an epoch reuses only
    a stored answer of that same epoch."""
    ident = request_identity(r)
    # The runner's params are defaults; a sample's own settings win, and the request row records which did.
    sent = {s.id: request_params(r.params, s) for s in samples}
    protocol = _protocol(r)
    keyed = [
        (s, e, request_key(ident, s.input, s.request_fields(), e))
        for s in samples
        for e in range(1, (epochs if samples_model(protocol, sent[s.id].temperature) else 1) + 1)
    ]
    store.add_requests(
        (
            k, r.provider, json.dumps(ident["base_urls"]), r.model, json.dumps(ident["params"], sort_keys=True), json.dumps(s.input, ensure_ascii=False),
            json.dumps({**s.request_fields(), "origin": _origin(r, sent[s.id]), **({"epoch": e} if e > 1 else {})}, ensure_ascii=False),
        )
        for s, e, k in keyed
    )
    done = store.reusable_answers(k for *_, k in keyed) if reuse else {}
    store.reuse_attempts(run_id, r.name, [(s.id, e, done[k]) for s, e, k in keyed if k in done])
    jobs = [Job(s.id, s.input, k, pricing.worst_case_usd(s.input, sent[s.id].max_tokens), params=sent[s.id], epoch=e) for s, e, k in keyed if k not in done]
    return jobs, len(keyed) - len(jobs)


TEXT_CALLS_NOTE = "the server did not parse tool calls: check --tool-call-parser (and --enable-auto-tool-choice)"


def _text_tool_calls(store: Store, run_id: str, samples: list[Sample]) -> dict[tuple[str, str], tuple[int, str]]:
    """(runner, base_url) -> (answers, an example sample id) where a request with tools was answered with
    tool-call markup as text and no tool calls: a self-hosted server without the right tool-call parser."""
    tools = {s.id: s.tools for s in samples if s.tools}
    out: dict[tuple[str, str], tuple[int, str]] = {}
    if not tools:
        return out
    for r in store.answers_without_tool_calls(run_id):
        if r.sample_id in tools and text_tool_call(r.text or "", tools[r.sample_id]):
            key = (r.runner, r.base_url or "")
            n, example = out.get(key, (0, r.sample_id))
            out[key] = (n + 1, example)
    return out


def _protocol(r: RunnerProfile) -> str:
    return r.simulate.protocol if r.simulated and r.simulate is not None else r.provider


def _origin(r: RunnerProfile, p: RequestParams) -> dict[str, str]:
    """Where each generation setting of a request came from, as sent to this runner's protocol."""
    return anthropic_not_sent(p) if _protocol(r) == "anthropic" else dict(p.origin)


async def _run_all(
    runners: list[RunnerProfile], providers: dict[str, list[Provider]], jobs_by_runner: dict[str, list[Job]], store: Store, run_id: str,
    pricing: dict[str, RunnerPricing], budget: Budget, quiet: bool, wait_s: float | None = None,
) -> tuple[dict[str, RunnerResult], dict[str, int]]:
    """Every runner at once: synchronous runners finish while batch runners wait for their batches."""
    ledger = BatchLedger(store.path) if any(r.batch is not None for r in runners) else None
    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)
    in_flight: dict[str, int] = {}

    async def batch(r: RunnerProfile, tick: Callable[[], None]) -> RunnerResult:
        assert ledger is not None and r.batch is not None
        from evals.run.batch import BatchRun  # both vendors' SDKs: imported only when a runner uses a batch API

        b = await BatchRun(
            r, providers[r.name], jobs_by_runner[r.name], store=store, ledger=ledger, run_id=run_id, pricing=pricing[r.name], budget=budget,
            mode=r.batch, say=say, on_done=tick, wait_s=wait_s,
        ).run()
        if b.in_flight:
            in_flight[r.name] = b.in_flight
        return b.result

    with Progress(quiet=quiet) as progress:
        try:
            tasks = []
            for r in runners:
                jobs = jobs_by_runner[r.name]
                tick = progress.add(r.name, total=len(jobs))
                if r.batch is not None:
                    tasks.append(batch(r, tick))
                else:
                    tasks.append(run_jobs(r, providers[r.name], jobs, store=store, run_id=run_id, cost_of=pricing[r.name].cost_of, budget=budget, on_done=tick))
            results = await asyncio.gather(*tasks)
        finally:
            for ps in providers.values():
                for p in ps:
                    await p.aclose()
            if ledger is not None:
                ledger.close()
    return {r.name: res for r, res in zip(runners, results)}, in_flight
