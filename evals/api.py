"""The Python API. Every command of `evals` is a thin wrapper over one function here.

    from evals import api
    outcome = api.run(workspace=".", suite="support", runners=["llama-3.3-70b-sim", "claude-sonnet-5.5-sim"])
    print(outcome.report_path)
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, ParamSpec, Sequence, TypeVar

# Only the light layers load here: `evals --help` and `evals runs` must start in well under a
# second, so every stage that pulls in an SDK, scipy, pandas or matplotlib is imported by the
# function that needs it (tests/test_startup.py guards this).
from evals.config import ConfigError, RunnerProfile, Suite, find_runner, find_suite, load_suite
from evals.store.db import Store
from evals.store.reads import RunListing

if TYPE_CHECKING:
    from evals.gate.compare import Comparison
    from evals.gate.gate import GateOptions, GateReport
    from evals.gate.nightly import NightlyResult
    from evals.measure.model import Frontier
    from evals.report.model import ReportModel
    from evals.run.orchestrate import RunSummary
    from evals.scoring.base import ScoringContext
    from evals.scoring.stage import ScoreSummary
    from evals.stats.power import Plan

EXAMPLE_WORKSPACE = Path(__file__).parent / "examples" / "workspace"
DEFAULT_STORE = Path("reports") / "evals.sqlite"
DEMO_RUNNERS = ["claude-sonnet-5.5-sim", "gpt-5-sim", "llama-3.3-70b-sim", "qwen-2.5-72b-sim"]
DEMO_SUITE = "support"


P = ParamSpec("P")
T = TypeVar("T")


def _loop_safe(fn: Callable[P, T]) -> Callable[P, T]:
    """Lets a function that runs its own event loop be called where one already runs (Jupyter, an async
    app): there `asyncio.run` refuses, so the call moves to a worker thread and this one waits for it.
    Async code should await the `a`-prefixed variant instead, which does not block its loop."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(*args, **kwargs)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"evals-{fn.__name__}") as pool:
            return pool.submit(fn, *args, **kwargs).result()

    return call


@dataclass
class RunOutcome:
    run_id: str
    run: RunSummary
    scores: ScoreSummary | None
    report: ReportModel | None
    report_path: Path | None


def open_store(workspace: str | Path = ".", store: str | Path | None = None) -> Store:
    ws = Path(workspace)
    return Store(Path(store) if store else ws / DEFAULT_STORE)


WORKSPACE_GITIGNORE = "# what evals writes: the results store, reports, logs, and `evals demo --out demo`\nreports/\ndemo/\n"


def init_workspace(directory: str | Path, force: bool = False) -> Path:
    """Write a fresh workspace: the example suite and runner profiles, an empty reports/, and a
    .gitignore that keeps what runs write (reports/, demo/) out of the team's repository."""
    d = Path(directory)
    for sub in ("tasks", "runners"):  # check both before writing either: a refusal writes nothing
        target = d / sub
        if target.exists() and any(target.iterdir()) and not force:
            raise ConfigError(f"{target} already exists and is not empty; give --force to overwrite the example files in it")
    for sub in ("tasks", "runners"):
        shutil.copytree(EXAMPLE_WORKSPACE / sub, d / sub, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    (d / "reports").mkdir(parents=True, exist_ok=True)
    if not (d / ".gitignore").exists():
        (d / ".gitignore").write_text(WORKSPACE_GITIGNORE)
    return d


def _context(workspace: Path, prices: Path | None = None) -> ScoringContext:
    from evals.scoring.base import ScoringContext

    return ScoringContext(workspace=workspace, resolve_runner=lambda name: find_runner(workspace, name), price_overrides=prices)


def _judges(ws: Path, suite: Suite) -> list[RunnerProfile]:
    specs = [*suite.scorers, *(x for c in suite.categories.values() for x in c.scorers or [])]
    names = {sp.args["judge"] for sp in specs if sp.name.startswith("judge_") and "judge" in sp.args}
    return [find_runner(ws, n) for n in sorted(names)]


def _score(ws: Path, st: Store, run_id: str, suite: Suite, ctx: ScoringContext, budget_usd: float | None = None, reuse: bool = True) -> ScoreSummary:
    """Score a run; simulated judges get the simulated server for the time of scoring. Judge calls
    are the run's attempts: they draw on what `budget_usd` has left after what the run already spent."""
    from evals.providers.registry import services
    from evals.run.budget import Budget
    from evals.run.calls import ModelCalls
    from evals.scoring.stage import score_run
    from evals.suite.load import load_samples

    budget = Budget(budget_usd)
    budget.spent_usd = st.spent_usd(run_id)
    ctx.calls = ModelCalls(store=st, run_id=run_id, budget=budget, reuse=reuse)
    judges = _judges(ws, suite)
    with services(judges, load_samples(suite) if judges else []) as urls:
        ctx.service_urls = urls
        return score_run(st, run_id, suite, ctx)


@_loop_safe
def run(
    *,
    workspace: str | Path = ".",
    suite: str,
    runners: list[str],
    reference: str | None = None,
    budget_usd: float | None = None,
    reuse: bool = True,
    quiet: bool = False,
    store: str | Path | None = None,
    prices: str | Path | None = None,
    score: bool = True,
    report: bool = True,
    batch: bool = False,
    wait_s: float | None = None,
    profiles: list[RunnerProfile] | None = None,
    epochs: int | dict[str, int] | None = None,
) -> RunOutcome:
    """Run a suite against runners, then score and report (unless told not to).

    `batch`: every runner that can (openai, anthropic, simulated) goes through its vendor's batch API, as if
    its profile said `batch: true`. `wait_s`: how long to wait for batches; when they are still in flight
    the run is left `waiting` (nothing scored) for `collect`. `profiles`: runner profiles instead of names.
    `epochs`: times each sample goes to a runner that samples (one number for all, or per runner name),
    over the profiles' and the suite's `epochs:`; greedy runners (temperature 0) get each sample once."""
    from evals.report.render import render
    from evals.run.orchestrate import execute_run, prepare_run
    from evals.scoring.stage import check_scorers

    ws = Path(workspace)
    s = find_suite(ws, suite)
    profiles = profiles if profiles is not None else [find_runner(ws, r) for r in runners]
    if batch:
        profiles = _batch_mode(profiles)
    price_path = Path(prices) if prices else None
    ctx = _context(ws, price_path)
    check_scorers(s, ctx)  # a bad scorer fails before any request is paid for
    prepared = prepare_run(s, profiles, reference, price_path)  # everything is checked before the store is created
    st = open_store(ws, store)
    try:
        summary = execute_run(
            workspace=ws, suite=s, runners=profiles, store=st, reference=reference, budget_usd=budget_usd, reuse=reuse, quiet=quiet, price_overrides=price_path,
            prepared=prepared, wait_s=wait_s, epochs=epochs,
        )
        score = score and summary.status != "waiting"  # scored and reported when the batches are in
        scores = _score(ws, st, summary.run_id, s, ctx, budget_usd, reuse) if score else None
        model = _analyse(st, summary.run_id, s, price_path) if score and report else None
        path = render(model, ws / "reports" / summary.run_id) if model else None
    finally:
        st.close()
    return RunOutcome(run_id=summary.run_id, run=summary, scores=scores, report=model, report_path=path)


def _batch_mode(profiles: list[RunnerProfile]) -> list[RunnerProfile]:
    """`--batch`: the API-priced runners that can use a vendor batch API do; the others (self-hosted,
    a simulated twin of a self-hosted model included) run as they are."""
    from evals.config import BATCH_PROVIDERS, BatchMode

    able = [p.name for p in profiles if p.provider in BATCH_PROVIDERS and p.pricing.api is not None]
    if not able:
        raise ConfigError(f"--batch: none of the runners ({', '.join(p.name for p in profiles)}) has a batch API; batch mode is for API-priced runners of providers {', '.join(BATCH_PROVIDERS)}")
    return [p.model_copy(update={"batch": BatchMode()}) if p.name in able and p.batch is None else p for p in profiles]


@_loop_safe
def collect(
    *, workspace: str | Path = ".", run_id: str | None = None, store: str | Path | None = None, wait_s: float | None = None, quiet: bool = False,
    report: bool = True,
) -> RunOutcome:
    """Collect the batches a run left in flight (default: the latest run that has some), then score and report.

    It is the same run started again, with the runner profiles that run stored: every answer already in
    the store is reused and every batch in flight is collected, not submitted again."""
    from evals.store.batches import IN_FLIGHT_STATES

    ws = Path(workspace)
    st = _existing_store(ws, store)
    try:
        waiting = st.runs_with_batches(IN_FLIGHT_STATES)
        rid = run_id or (waiting[0] if waiting else None)
        if rid is None:
            raise ConfigError(f"no batches in flight in {st.path}: nothing to collect (`evals runs` lists runs and their batches)")
        r = st.run(rid)
        if rid not in waiting:
            raise ConfigError(f"run {rid} has no batches in flight: nothing to collect")
        profiles = [RunnerProfile.model_validate_json(x.profile_json) for x in st.run_runners(rid)]
        epochs = json.loads(r["info_json"] or "{}").get("epochs")  # the same epochs, so the same request keys
    finally:
        st.close()
    return run(
        workspace=ws, suite=r["suite"], runners=[p.name for p in profiles], profiles=profiles, reference=r["reference_runner"], store=store, wait_s=wait_s,
        quiet=quiet, report=report, epochs=epochs,
    )


def _analyse(st: Store, run_id: str, suite: Suite | None, prices: Path | None, measurements: Sequence[int] = (), allow_above_bound: bool = False) -> ReportModel:
    """The run's ReportModel with its change since the baseline run and its trend over the suite's recent runs."""
    return _with_history(st, _analysed_and_kept(st, run_id, suite, prices, measurements, allow_above_bound), prices)


def _analysed_and_kept(st: Store, run_id: str, suite: Suite | None, prices: Path | None, measurements: Sequence[int] = (), allow_above_bound: bool = False) -> ReportModel:
    """The run analysed (the one analysis it gets), its runner summaries kept in the store as this
    report shows them, so the gate, compare and later trends read them instead of analysing it again."""
    from evals.report.analyse import analyse
    from evals.report.summaries import keep

    model = analyse(st, run_id, suite, prices, measurements=measurements, allow_above_bound=allow_above_bound)
    if not measurements and not allow_above_bound:  # sized by a chosen sweep or an impossible capacity: this report's own view, not the run's summary
        keep(st, model, prices)
    return model


def _with_history(st: Store, model: ReportModel, prices: Path | None) -> ReportModel:
    """Add what past runs say (baseline, trend: their kept summaries), the recorded gate, and the sandbox here."""
    from evals.gate.baseline import since_baseline
    from evals.gate.service import recorded_gate
    from evals.gate.trend import trends
    from evals.scoring.sandbox import isolation_available

    run_id = model.run_id
    if model.sandbox and model.sandbox.code_answers:
        model.sandbox.available_here = isolation_available()
    model.baseline = since_baseline(st, run_id, prices)
    model.gate = recorded_gate(st, run_id)
    model.trend = trends(st, model.suite, [r.name for r in model.runners], 20, prices)
    return model


def retired_models(*, workspace: str | Path = ".", runners: list[str], prices: str | Path | None = None) -> dict[str, str]:
    """Runner → a warning for each whose API model its vendor has retired (requests to it fail) or has dated a retirement for."""
    from evals.cost.retirement import retirement_notes

    ws = Path(workspace)
    return retirement_notes([find_runner(ws, r) for r in runners], Path(prices) if prices else None)


def _suite_or_none(ws: Path, name: str) -> Suite | None:
    """The run's suite when the workspace still has it (for its workload profile); the report works without."""
    try:
        return find_suite(ws, name)
    except ConfigError:
        return None


def _run_or_latest(st: Store, run_id: str | None) -> str:
    rid = run_id or st.latest_run_id()
    if rid is None:
        raise ConfigError(f"no runs in {st.path}; run `evals run` first")
    return rid


def _suite_of_run(ws: Path, st: Store, run_id: str, suite: str | None) -> Suite:
    r = st.run(run_id)
    return load_suite(suite) if suite else find_suite(ws, r["suite"])


@_loop_safe
def rescore(
    *, workspace: str | Path = ".", run_id: str | None = None, suite: str | None = None, store: str | Path | None = None, report: bool = True,
    budget_usd: float | None = None, reuse: bool = True,
) -> tuple[ScoreSummary, Path | None]:
    """Regrade a stored run (e.g. after changing a scorer) without calling the runners again. LLM judges
    are asked only about (answer, scorer, settings) they have not judged before; stored verdicts are reused."""
    from evals.report.render import render

    ws = Path(workspace)
    st = _existing_store(ws, store)
    try:
        rid = _run_or_latest(st, run_id)
        s = _suite_of_run(ws, st, rid, suite)
        summary = _score(ws, st, rid, s, _context(ws), budget_usd, reuse)
        path = render(_analyse(st, rid, s, None), ws / "reports" / rid) if report else None
    finally:
        st.close()
    return summary, path


def build_report(*, workspace: str | Path = ".", run_id: str | None = None, out: str | Path | None = None, store: str | Path | None = None, prices: str | Path | None = None, measurements: Sequence[int] = (), allow_above_bound: bool = False) -> Path:
    """`measurements`: `evals measure` sweep ids that size self-hosted runners (default: each profile's most complete recent sweep).
    `allow_above_bound`: size from a measured capacity even when it beats the physical bound (knowingly; refused otherwise)."""
    from evals.report.render import render

    ws = Path(workspace)
    st = _existing_store(ws, store)
    try:
        rid = _run_or_latest(st, run_id)
        model = _analyse(st, rid, _suite_or_none(ws, st.run(rid)["suite"]), Path(prices) if prices else None, measurements, allow_above_bound)
        return render(model, Path(out) if out else ws / "reports" / rid)
    finally:
        st.close()


@_loop_safe
def demo(out: str | Path, quiet: bool = False) -> RunOutcome:
    """init + simulated endpoints + run + score + report, on the embedded example."""
    d = Path(out)
    if not (d / "tasks" / DEMO_SUITE).exists():
        init_workspace(d)
    return run(workspace=d, suite=DEMO_SUITE, runners=DEMO_RUNNERS, quiet=quiet)


def _existing_store(workspace: str | Path = ".", store: str | Path | None = None) -> Store:
    """The results store for commands that only read it: where there is none, say so and create nothing."""
    path = Path(store) if store else Path(workspace) / DEFAULT_STORE
    if not path.is_file():
        where = f"{path}" if store else f"{Path(workspace).resolve()}: no {DEFAULT_STORE} there, so it is not a workspace with runs"
        raise ConfigError(f"no results store at {where}; run `evals run` (or `evals init DIR` for a new workspace) first, or point at one with --workspace or --store")
    return Store(path)


def list_runs(*, workspace: str | Path = ".", store: str | Path | None = None, limit: int = 20) -> list[RunListing]:
    """The latest `limit` runs, newest first, with their runners, served models, latest gate result and batches in flight."""
    st = _existing_store(workspace, store)
    try:
        return st.run_listing(limit)
    finally:
        st.close()


def export(*, workspace: str | Path = ".", run_id: str, path: str | Path, store: str | Path | None = None, all_attempts: bool = False) -> Path:
    """A run's answers to `.parquet` or `.jsonl`: input messages, reference, output, grade, usage, timing and cost per answer."""
    from evals.report.analyse import analyse
    from evals.store.export import export_run

    st = _existing_store(workspace, store)
    try:
        model = analyse(st, run_id, _suite_or_none(Path(workspace), st.run(run_id)["suite"]))  # an unknown run fails here
        rows = {p.runner: p for p in model.projections}
        w = model.workload
        allocation = {
            r.name: (
                rows[r.name].cost_per_task_usd if r.name in rows else None,
                f"ALLOCATION, not a bill: the self-hosted cost per request at {w.requests_per_month:,.0f} requests/month "
                f"(replicas for the busiest hour × hourly cost × 730 h ÷ monthly requests){' at an ASSUMED volume' if w.estimated else ''}"
                if r.name in rows and w else "self-hosted: no cost per request could be projected (no capacity)",
            )
            for r in model.runners if r.name in {h.runner for h in model.hardware}
        }
        return export_run(st, run_id, path, all_attempts=all_attempts, allocation=allocation)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    finally:
        st.close()


def list_measurements(*, workspace: str | Path = ".", store: str | Path | None = None, runner: str | None = None) -> list[dict[str, Any]]:
    """Stored `evals measure` sweeps, newest first, each with `sizes`: whether it is the one that sizes
    its runner's current profile by default (the most complete recent sweep; see measure.persist.choose)."""
    from evals.measure.persist import choose, sweeps

    ws = Path(workspace)
    st = _existing_store(ws, store)
    try:
        rows = sweeps(st, runner)
        default: dict[str, int | None] = {}
        for name in {r["runner"] for r in rows}:
            try:
                c = choose(st, find_runner(ws, name))
            except ConfigError:  # the profile is gone from the workspace: no sweep sizes it
                c = None
            default[name] = c.id if c else None
        return [r | {"sizes": default[r["runner"]] == r["id"]} for r in rows]
    finally:
        st.close()


def simulated_models(workspace: str | Path = ".") -> tuple[dict[str, Any], list[Any]]:
    """Behaviours of the workspace's simulated runners and the samples of its suites, for `evals sim`."""
    from evals.config import load_runner
    from evals.suite.load import load_samples

    ws = Path(workspace)
    models = {}
    for p in sorted((ws / "runners").glob("*.yaml")):
        prof = load_runner(p)
        if prof.simulate is not None:
            models[prof.model] = prof.simulate
    samples = [s for d in sorted((ws / "tasks").glob("*/suite.yaml")) for s in load_samples(load_suite(d))]
    if not models:
        raise ConfigError(f"no simulated runners (provider: simulated) in {ws / 'runners'}")
    return models, samples


def compare_runs(*, workspace: str | Path = ".", run_a: str, run_b: str, store: str | Path | None = None, prices: str | Path | None = None) -> Comparison:
    """Run B against run A: per runner and category, pass-rate change (paired on shared samples), cost and latency change."""
    from evals.gate import service as gate_service

    st = _existing_store(workspace, store)
    try:
        return gate_service.compare_runs(st, run_a, run_b, Path(prices) if prices else None)
    finally:
        st.close()


def gate(
    *,
    workspace: str | Path = ".",
    run_id: str,
    baseline: str = "last-pass",  # evals.gate.history.LAST_PASS, spelled out so importing the API stays light
    options: GateOptions | None = None,
    store: str | Path | None = None,
    prices: str | Path | None = None,
    junit: str | Path | None = None,
    summary_md: str | Path | None = None,
) -> GateReport:
    """Gate a run against a baseline (`last-pass` or a run id); record the result; write JUnit XML and Markdown.

    The report's exit_code is the contract: 0 pass, 1 regression, 2 inconclusive.
    Usage errors (unknown run, no baseline) raise KeyError or ConfigError.
    """
    from evals.gate import service as gate_service
    from evals.gate.gate import GateOptions

    st = _existing_store(workspace, store)
    try:
        report = gate_service.gate_run(st, run_id, baseline, options or GateOptions(), Path(prices) if prices else None)
    finally:
        st.close()
    gate_service.write_outputs(report, Path(junit) if junit else None, Path(summary_md) if summary_md else None)
    return report


@_loop_safe
def nightly(config: str | Path, *, wait: bool = False, quiet: bool = True) -> NightlyResult:
    """Run, score, report (with trend), gate and record, under the store's lock.

    Raises LockHeld when another nightly holds the store's lock (unless
    `wait`), ConfigError or KeyError for a bad config or an unknown baseline
    run, checked before any request is sent.
    """
    from evals.cost.retirement import refuse_retired
    from evals.gate.history import LAST_PASS
    from evals.gate.nightly import BatchPending, finish_nightly, gate_nightly, load_nightly, store_lock
    from evals.report.render import render

    cfg = load_nightly(config)
    # A retired model's requests fail: refused before anything is sent, unless the config allows it.
    refuse_retired([p for p in (find_runner(Path(cfg.workspace), r) for r in cfg.runners) if not p.simulated], cfg.prices, cfg.allow_retired)
    with store_lock(cfg.lock_path, wait=wait):
        if cfg.baseline != LAST_PASS:
            st = open_store(cfg.workspace, cfg.store_path)
            try:
                st.run(cfg.baseline)
            finally:
                st.close()
        outcome = run(
            workspace=cfg.workspace, suite=cfg.suite, runners=cfg.runners, reference=cfg.reference, budget_usd=cfg.budget_usd,
            reuse=cfg.reuse, quiet=quiet, store=cfg.store_path, prices=cfg.prices, report=False, wait_s=cfg.batch_wait_s, epochs=cfg.epochs,
        )
        if outcome.run.status == "waiting":  # nothing to gate yet: neither a pass nor a regression
            raise BatchPending(f"run {outcome.run_id}: {outcome.run.trouble()[1]}; tonight's gate is inconclusive (exit 2)")  # type: ignore[index]
        # Tonight's run is analysed once; the gate reads the summary kept from that analysis, and the
        # report is rendered after the gate, so it shows tonight's gate and its trend point carries it.
        st = open_store(cfg.workspace, cfg.store_path)
        try:
            model = _analysed_and_kept(st, outcome.run_id, _suite_or_none(Path(cfg.workspace), cfg.suite), cfg.prices)
            gate = gate_nightly(st, cfg, outcome.run_id)
            report_path = render(_with_history(st, model, cfg.prices), cfg.report_root / outcome.run_id)
            return finish_nightly(st, cfg, outcome.run_id, report_path, gate)
        finally:
            st.close()


@_loop_safe
def measure_runner(
    workspace: str | Path,
    runner: str,
    suite: str | None = None,
    *,
    concurrencies: Sequence[int] | None = None,
    rates: Sequence[float] | None = None,
    requests_per_step: int | None = None,
    duration_s: float | None = None,
    ttft_slo_ms: float = 500.0,
    e2e_slo_ms: float | None = None,
    tpot_slo_ms: float | None = None,
    burstiness: float = 1.0,
    max_tokens: int | None = None,
    seed: int = 0,
    store: str | Path | None = None,
    quiet: bool = False,
    client: Literal["sdk", "lean"] | None = None,
) -> Frontier:
    """Sweep a runner's endpoint with a suite's prompts (see evals.measure.measure),
    store the frontier and return it, its `id` the stored sweep's. A runner's
    latest measurement is its capacity for the self-hosted cost. As in `evals run`, simulated runners get
    the in-process simulated server and `launch:` runners their own server,
    started for the sweep and stopped after it."""
    from pydantic import ValidationError

    from evals.measure.frontier import measure
    from evals.measure.persist import save as save_measurement
    from evals.providers.factory import api_key
    from evals.providers.launch import launch_all
    from evals.providers.registry import services
    from evals.suite.load import load_samples

    ws = Path(workspace)
    profile = find_runner(ws, runner)
    if suite is None:
        suites = sorted(p.parent.name for p in (ws / "tasks").glob("*/suite.yaml"))
        if len(suites) != 1:
            raise ConfigError(f"name the suite whose prompts to send with --suite; this workspace has {', '.join(suites) or 'none'}")
        suite = suites[0]
    s = find_suite(ws, suite)
    samples = load_samples(s)
    api_key(profile)  # a missing key fails before any server is launched
    with services([profile], samples) as service_urls, launch_all([profile], ws / "reports" / "logs") as launched:
        try:
            frontier = measure(
                profile,
                [x.input for x in samples],
                concurrencies=concurrencies,
                rates=rates,
                requests_per_step=requests_per_step,
                duration_s=duration_s,
                ttft_slo_ms=ttft_slo_ms,
                e2e_slo_ms=e2e_slo_ms,
                tpot_slo_ms=tpot_slo_ms,
                burstiness=burstiness,
                max_tokens=max_tokens,
                seed=seed,
                suite=s.name,
                base_url=launched.get(profile.name, service_urls.get(profile.name)),
                quiet=quiet,
                client=client,
            )
        except ValidationError as e:  # the latency target: name the flag, not the model's field
            first = e.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "slo"
            flag = {"ttft_ms": "--ttft-slo-ms", "tpot_ms": "--tpot-slo-ms", "e2e_ms": "--e2e-slo-ms", "percentile": "--slo-percentile"}.get(field, field)
            raise ConfigError(f"{flag} {first.get('input')!r}: {first['msg']}") from None
        except ValueError as e:  # bad load levels or limits: the user's input
            raise ConfigError(str(e)) from None
    st = open_store(ws, store)
    try:
        frontier = frontier.model_copy(update={"id": save_measurement(st, frontier)})
    finally:
        st.close()
    return frontier


def plan_samples(*, margin: float = 0.05, expected_gap: float = 0.0, discordance: float | None = None, reference_rate: float = 0.9, power: float = 0.8, alpha: float = 0.05) -> Plan:
    """Paired samples needed for the verdict to say "good enough" with probability `power`:
    Nam's score formula, and the smallest N whose exact (enumerated) power reaches `power`.

    Without a measured discordance, assume the runners fail independently
    (a cautious overestimate: real models share their hard samples)."""
    from evals.stats.power import discordance_from_rates, plan

    if discordance is None and not (0 <= reference_rate <= 1 and 0 <= reference_rate + expected_gap <= 1):
        raise ConfigError(
            f"--reference-rate {reference_rate:g} with --expected-gap {expected_gap:+g} gives the candidate a pass rate of "
            f"{reference_rate + expected_gap:g}; both rates must lie between 0 and 1 (or give --discordance from a pilot run)"
        )
    disc = discordance if discordance is not None else max(discordance_from_rates(reference_rate, reference_rate + expected_gap), abs(expected_gap))
    return plan(margin, expected_gap, disc, alpha=alpha, power=power)


def size_deployment(*, model: str | None = None, gpu: str, quant: str = "fp16", context: int = 8192, concurrency: int = 16, gpus: int | None = None, kv_dtype: str = "fp16", gpu_memory_utilization: float = 0.9, config: str | Path | None = None) -> dict[str, Any]:
    """GPUs of one node needed for weights + KV cache, KV capacity, and the decode bound from memory bandwidth.

    The model comes from the catalogue (`model`) or from a Hugging Face config.json (`config`).
    `fits` is false when no tensor-parallel count of one node holds it (the CLI exits 1)."""
    from evals.cost.catalogue import load_gpus, load_models
    from evals.cost.sizing import MAX_GPUS_PER_NODE, model_from_hf_config, size

    if (model is None) == (config is None):
        raise ConfigError("name the model: --model NAME (from the catalogue) or --config PATH (a Hugging Face config.json), one of the two")
    m = model_from_hf_config(config) if config is not None else load_models().get(model)  # type: ignore[arg-type]
    g = load_gpus().get(gpu)
    r = size(m, g, quant, context, concurrency, gpu_memory_utilization, kv_dtype, gpus=gpus)  # type: ignore[arg-type]
    return {
        "model": model or m.hf_id, "hf_id": m.hf_id, "params_b_total": m.params_b_total, "params_b_active": m.params_b_active,
        "gpu": gpu, "quant": quant, "kv_dtype": kv_dtype, "context_tokens": context, "concurrency": concurrency,
        "gpus": r.gpus, "max_gpus_per_node": MAX_GPUS_PER_NODE, "interconnect": r.interconnect,
        "fits": r.fits, "tensor_parallel_ok": r.tensor_parallel_ok, "tensor_parallel_sizes": r.tensor_parallel_sizes,
        "gpu_memory_utilization": gpu_memory_utilization,
        "weights_gb": r.weights_bytes / 1e9, "kv_bytes_per_token": r.kv_bytes_per_token, "kv_needed_gb": r.kv_bytes_needed / 1e9,
        "usable_gb": r.usable_bytes / 1e9, "kv_capacity_tokens": r.kv_capacity_tokens,
        "bandwidth_gb_s": r.total_bandwidth_bytes_per_s / 1e9, "step_gb": r.step_bytes / 1e9,
        "decode_bound_tokens_per_s_per_sequence": r.decode_tokens_per_s_per_sequence_bound,
        "decode_bound_tokens_per_s_at_concurrency": r.aggregate_decode_bound(concurrency, context),
        "sources": {"model": m.source, "gpu": g.sources},
    }


def cost_calculator(
    *,
    workspace: str | Path = ".",
    runners: list[str],
    requests_per_day: float | None = None,
    requests_per_month: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    peak_hour_share: float | None = None,
    suite: str | None = None,
    pass_rates: dict[str, float] | None = None,
    capacities: dict[str, float] | None = None,
    prices: str | Path | None = None,
    store: str | Path | None = None,
    measurements: Sequence[int] = (),
    routes: dict[str, float] | None = None,
    cascades: dict[str, float] | None = None,
    escalate_to: str | None = None,
    allow_above_bound: bool = False,
) -> dict[str, Any]:
    """Projection and break-even over runner profiles and a workload, without running a suite.

    Monthly figures are for a 730-hour month (365 × 24 ÷ 12). `routes` (runner → share of requests)
    and `cascades` (local runner → escalation rate, sent on to `escalate_to`) price a mixed fleet, a
    self-hosted share paying whole replicas all month. A measured capacity above the physical bound is
    refused unless `allow_above_bound`.

    The workload comes from the flags, else from the suite's workload profile.
    Self-hosted capacity comes from --capacity, else from the `evals measure` sweep
    chosen with `measurements`, else the profile's most complete recent sweep. Pass rates default to 1 (cost per
    task = cost per completed task) unless given.
    """
    from evals.cost import scenario
    from evals.cost.capacity import refusal as capacity_refusal
    from evals.cost.pricing import runner_pricing
    from evals.cost.projection import COST_DEFINITION, ApiRunner, SelfHostedRunner, Workload, break_even, project, search_ceiling
    from evals.cost.retirement import retirement_notes
    from evals.cost.selfhosted import HOURS_PER_MONTH
    from evals.measure.persist import choose, unused_choices
    from evals.report.economics import DEFAULT_WORKLOAD

    ws = Path(workspace)
    profiles = [find_runner(ws, r) for r in runners]
    wp: dict[str, Any] = dict(find_suite(ws, suite).workload or {}) if suite else {}
    cats = wp.get("categories") or {}
    avg_in = input_tokens if input_tokens is not None else round(sum(c.get("share", 0) * c.get("avg_input_tokens", 0) for c in cats.values())) if cats else None
    avg_out = output_tokens if output_tokens is not None else round(sum(c.get("share", 0) * c.get("avg_output_tokens", 0) for c in cats.values())) if cats else None
    per_day = requests_per_day if requests_per_day is not None else (None if requests_per_month is not None else wp.get("requests_per_day"))
    per_month = requests_per_month if requests_per_month is not None else (None if per_day is not None else wp.get("requests_per_month"))
    if per_day is None and per_month is None:
        raise ConfigError("give the volume: --requests-per-day or --requests-per-month (or --suite with a workload profile)")
    if avg_in is None or avg_out is None:
        raise ConfigError("give the request size: --input-tokens and --output-tokens (or --suite with a workload profile)")
    peak = peak_hour_share or wp.get("peak_hour_share")  # none known: assume a peak, never flat traffic
    try:
        wl = Workload(requests_per_day=per_day, requests_per_month=per_month, avg_input_tokens=avg_in, avg_output_tokens=avg_out, peak_hour_share=peak or DEFAULT_WORKLOAD["peak_hour_share"])
    except ValueError as e:
        raise ConfigError(f"workload: {e}") from None
    st = open_store(ws, store) if (ws / DEFAULT_STORE).exists() or store else None
    if measurements and st is None:
        raise ConfigError(f"--measurement: no results store at {ws / DEFAULT_STORE}; run `evals measure` first or give --store")
    models: dict[str, ApiRunner | SelfHostedRunner] = {}
    notes: dict[str, str] = {}
    try:
        if st is not None:
            unused_choices(st, profiles, measurements)
        for p in profiles:
            rate = (pass_rates or {}).get(p.name, 1.0)
            rp = runner_pricing(p, Path(prices) if prices else None)
            if rp.kind == "api":
                assert rp.price is not None
                models[p.name] = ApiRunner.from_prices(p.name, rp.price, wl, rate, batch=rp.batch)
                notes[p.name] = ("SIMULATED runner, priced as its real twin: " if p.simulated else "") + rp.describe()
                continue
            cap = (capacities or {}).get(p.name)
            src = "as given"
            chosen = choose(st, p, measurements) if cap is None and st is not None else None
            if chosen is not None and chosen.frontier.tasks_per_hour:
                refused = None if allow_above_bound else capacity_refusal(chosen.frontier)
                if refused:
                    raise ConfigError(refused)
                cap, src = chosen.frontier.tasks_per_hour, f"({chosen.describe()})"
            if not cap:
                raise ConfigError(f"runner {p.name!r}: no capacity; run `evals measure --runner {p.name}` or give --capacity {p.name}=TASKS_PER_HOUR")
            sh = p.pricing.self_hosted
            assert sh is not None and rp.hourly_usd is not None
            models[p.name] = SelfHostedRunner(name=p.name, hourly_cost_usd=rp.hourly_usd, tasks_per_hour=cap, gpus_per_replica=sh.gpus, pass_rate=rate)
            notes[p.name] = ("SIMULATED runner (capacity from the simulated server): " if p.simulated else "") + f"self-hosted {rp.hardware}: ${rp.hourly_usd:,.2f}/h per replica, capacity {cap:,.0f} tasks/h {src}; replicas sized for the peak hour"
    finally:
        if st is not None:
            st.close()
    top = search_ceiling(wl.monthly_requests)
    owned = [scenario.owned_vs_rented(p, wl, m) for p in profiles if p.pricing.self_hosted and p.pricing.self_hosted.purchase and isinstance(m := models[p.name], SelfHostedRunner)]
    evens = [
        {"self_hosted": s.name, "api": a.name, "requests_per_month": break_even(wl, a, s, top, points=20).requests_per_month, "searched_up_to": top}
        for s in models.values() if isinstance(s, SelfHostedRunner) for a in models.values() if isinstance(a, ApiRunner)
    ]
    return {
        "workload": wl.model_dump() | {"monthly_requests": wl.monthly_requests, "peak_hour_share_assumed": not peak},
        "projections": [project(wl, m).model_dump() | {"basis": notes[n]} for n, m in models.items()],
        "break_even": evens,
        "owned_vs_rented": owned,
        "routes": scenario.route(wl, models, routes) if routes else None,
        "cascades": [scenario.cascade(wl, models, local, rate, escalate_to) for local, rate in (cascades or {}).items()],
        "retirement": retirement_notes(profiles, Path(prices) if prices else None),
        "hours_per_month": HOURS_PER_MONTH,
        "definition": COST_DEFINITION,
    }


def import_traffic(*, workspace: str | Path = ".", paths: list[str | Path], suite: str, **options: Any) -> Any:
    """Traffic logs -> tasks/SUITE/ (redacted, deduplicated, sampled, with a workload profile).

    `options` are the fields of evals.traffic.ImportOptions (format, mapping,
    categories, sample, min_per_category, seed, no_redact, near_duplicate_threshold,
    volume_per_day, logged_fraction, verbatim_metadata, scorers_from, max_bad_fraction,
    overwrite)."""
    from pydantic import ValidationError

    from evals.traffic import ImportOptions, TrafficImportError
    from evals.traffic import import_traffic as run_import

    try:
        opts = ImportOptions(**options)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(map(str, first["loc"]))
        # the flag the user typed, not the option's field name
        flag = {"near_duplicate_threshold": "--near-duplicates", "volume_per_day": "--volume", "mapping": "--map"}.get(field, "--" + field.replace("_", "-"))
        raise ConfigError(f"{flag}: {first['msg']}") from None
    try:
        return run_import([Path(p) for p in paths], suite, Path(workspace), opts)
    except TrafficImportError as e:
        raise ConfigError(str(e)) from None


# ---------------------------------------------------------------- async variants


async def arun(**kwargs: Any) -> RunOutcome:
    """`run` for async code (`await api.arun(...)`, e.g. in Jupyter): same arguments; the work runs in a
    worker thread with its own event loop, so the caller's loop keeps serving."""
    return await asyncio.to_thread(run, **kwargs)


async def arescore(**kwargs: Any) -> tuple[ScoreSummary, Path | None]:
    """`rescore` for async code."""
    return await asyncio.to_thread(rescore, **kwargs)


async def ademo(out: str | Path, quiet: bool = False) -> RunOutcome:
    """`demo` for async code."""
    return await asyncio.to_thread(demo, out, quiet)


async def anightly(config: str | Path, *, wait: bool = False, quiet: bool = True) -> NightlyResult:
    """`nightly` for async code."""
    return await asyncio.to_thread(nightly, config, wait=wait, quiet=quiet)


async def ameasure_runner(workspace: str | Path, runner: str, suite: str | None = None, **kwargs: Any) -> Frontier:
    """`measure_runner` for async code."""
    return await asyncio.to_thread(measure_runner, workspace, runner, suite, **kwargs)


async def abuild_report(**kwargs: Any) -> Path:
    """`build_report` for async code (analysing a large run takes a while)."""
    return await asyncio.to_thread(build_report, **kwargs)
