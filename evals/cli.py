"""`evals`: a thin command line over evals.api. Exit codes: 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal

import click

from evals import __version__
from evals.report.text import fmt_sig, fmt_usd

# `evals --help` loads click and nothing else: every command imports the API (and through it the
# SDKs, scipy, pandas, ...) when it runs. tests/test_startup.py guards this.
if TYPE_CHECKING:
    from evals import api
    from evals.gate.compare import Comparison
    from evals.gate.gate import GateReport

_workspace = click.option("--workspace", "-w", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Workspace with tasks/, runners/ and reports/.")
_store = click.option("--store", type=click.Path(dir_okay=False, path_type=Path), help="Results store (default: WORKSPACE/reports/evals.sqlite).")


class _Cli(click.Group):
    """Turns the tool's own errors into one clear line and the exit code their class owns
    (bad input 2, infrastructure 1), instead of a traceback. Anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from evals.errors import EvalsError

        try:
            return super().invoke(ctx)
        except EvalsError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except FileNotFoundError as e:  # a path the user gave
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


@click.group(cls=_Cli)
@click.version_option(__version__, prog_name="evals")
def main() -> None:
    """workload-evals: is the open model good enough on your traffic, and what does each completed task cost?"""


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the example files in an existing workspace.")
def init(directory: Path, force: bool) -> None:
    """Write a fresh workspace with the example suite and runner profiles."""
    from evals import api

    api.init_workspace(directory, force=force)
    click.echo(f"workspace ready: {directory}\n  next: cd {directory} && evals run --suite support --runner llama-3.3-70b-sim --runner claude-sonnet-5.5-sim")


def _print_outcome(outcome: api.RunOutcome) -> None:
    rep = outcome.report
    if rep is None:
        click.echo(f"run {outcome.run_id}: {outcome.run.status}")
        return
    if rep.simulated:
        click.secho(f"SIMULATED: {', '.join(rep.simulated_runners)} answered from the simulated server; figures demonstrate the tool, not the models.", fg="yellow", err=True)
    for r in rep.runners:
        rate = f"{r.pass_rate:.1%}" if r.pass_rate is not None else "n/a"
        cpc = fmt_usd(r.cost_per_completed_task_usd)  # the same figure, formatted as in the report
        click.echo(f"  {r.name:<28} pass {rate:>6}  completed {r.completed}/{r.asked}  errors {r.errors}  cost/completed {cpc}  sent {r.requests_sent} reused {r.requests_reused}")
    if rep.workload is not None:
        w = rep.workload
        click.echo(f"  cost/completed: at {w.requests_per_month:,.0f} requests/month (730 h){' (estimated; ' + w.source + ')' if w.estimated else ''}")
    for v in rep.verdicts:
        click.echo(f"  {v.sentence}")
    if outcome.scores is not None and (outcome.scores.judge_sent or outcome.scores.judge_reused):
        click.echo(f"  {_judge_line(outcome.scores)}")
    click.echo(f"report: {outcome.report_path}")


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the demo workspace (created if missing; reused on a second run).")
@click.option("--quiet", "-q", is_flag=True)
def demo(out: Path, quiet: bool) -> None:
    """Init a workspace, start the simulated endpoints, run, score and report the example suite."""
    from evals import api

    _print_outcome(api.demo(out, quiet=quiet))


@main.command()
@_workspace
@click.option("--suite", "-s", help="Suite name (tasks/NAME) or path (required unless --collect).")
@click.option("--runner", "-r", "runners", multiple=True, help="Runner name (runners/NAME.yaml) or path; repeat for several (required unless --collect).")
@click.option("--reference", help="Runner the others are compared with (default: the one with role: reference, else the first).")
@click.option("--budget", "budget_usd", type=float, help="Stop sending new requests before this many dollars are spent.")
@click.option("--no-reuse", is_flag=True, help="Send every request again instead of reusing stored answers.")
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Your own API price file, laid over the catalogue.")
@click.option("--no-report", is_flag=True, help="Run and score only.")
@_store
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (also when CI is set).")
@click.option("--batch", is_flag=True, help="Send through the vendors' batch APIs at the batch rate (openai, anthropic, simulated runners), as `batch: true` in their profiles.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait for batches; then leave them in flight for --collect (exit 6).")
@click.option("--collect", "collect", is_flag=True, help="Collect the batches the latest run left in flight (or --run-id's), then score and report; nothing is submitted twice.")
@click.option("--run-id", help="With --collect: the run whose batches to collect.")
@click.option("--epochs", type=click.IntRange(1, 50), help="Send each sample this many times to runners that sample (temperature > 0 or unset, Anthropic); over `epochs:` in profiles and suite.")
def run(
    workspace: Path, suite: str | None, runners: tuple[str, ...], reference: str | None, budget_usd: float | None, no_reuse: bool, prices: Path | None, no_report: bool,
    store: Path | None, quiet: bool, batch: bool, wait_s: float | None, collect: bool, run_id: str | None, epochs: int | None,
) -> None:
    """Run a suite against runners; score and report."""
    from evals import api
    from evals.config import ConfigError

    if collect:
        if suite or runners or batch or reference or epochs:
            raise ConfigError("--collect takes the run's own suite, runners and epochs; give only --run-id, --wait, --store, --quiet, --no-report with it")
        outcome = api.collect(workspace=workspace, run_id=run_id, store=store, wait_s=wait_s, quiet=quiet, report=not no_report)
    elif not suite or not runners or run_id:
        raise ConfigError("evals run needs --suite and at least one --runner (--run-id goes with --collect)")
    else:
        for runner, note in api.retired_models(workspace=workspace, runners=list(runners), prices=prices).items():
            click.secho(f"warning: runner {runner}: {note}", fg="red", err=True)
        outcome = api.run(
            workspace=workspace, suite=suite, runners=list(runners), reference=reference, budget_usd=budget_usd, reuse=not no_reuse, quiet=quiet, store=store, prices=prices,
            report=not no_report, batch=batch, wait_s=wait_s, epochs=epochs,
        )
    _print_outcome(outcome)
    trouble = outcome.run.trouble()
    if trouble is not None:  # the report is written; the exit code says the run is not a clean one
        click.secho(f"run {outcome.run_id}: {trouble[1]}", fg="red", err=True)
        sys.exit(trouble[0])


@main.command()
@click.argument("run_id", required=False)
@_workspace
@click.option("--suite", help="Suite directory to score with (default: the run's suite in this workspace).")
@click.option("--budget", "budget_usd", type=float, help="Dollars the run may spend in all, judge calls included (what it already spent counts).")
@click.option("--no-reuse", is_flag=True, help="Ask LLM judges again even about answers they have judged before.")
@_store
def score(run_id: str | None, workspace: Path, suite: str | None, store: Path | None, budget_usd: float | None, no_reuse: bool) -> None:
    """Re-score a stored run (default: the latest) without calling the runners again.

    LLM judges are asked only about answers they have not judged with the same settings; their
    calls are recorded in the run, budgeted, and reused next time."""
    from evals import api

    summary, path = api.rescore(workspace=workspace, run_id=run_id, suite=suite, store=store, budget_usd=budget_usd, reuse=not no_reuse)
    click.echo(f"graded {summary.graded} answers: {summary.passed} passed, {summary.scorer_errors} scorer errors")
    click.echo(_judge_line(summary))
    click.echo(f"report: {path}")


def _judge_line(summary: Any) -> str:
    return f"judge requests: {summary.judge_sent} sent, {summary.judge_reused} reused from the store"


@main.command()
@click.argument("run_id", required=False)
@_workspace
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Directory for index.html, summary.json, summary.md.")
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--measurement", "measurements", multiple=True, type=int, help="`evals measure` sweep id that sizes its runner (repeatable; default: the most complete recent sweep of each profile; `evals measurements` lists them).")
@click.option("--allow-above-bound", is_flag=True, help="Size self-hosted runners from a measured capacity even when `evals measure` found it above the physical bound (knowingly).")
@_store
def report(run_id: str | None, workspace: Path, out: Path | None, prices: Path | None, measurements: tuple[int, ...], allow_above_bound: bool, store: Path | None) -> None:
    """Write the HTML report of a stored run (default: the latest)."""
    from evals import api

    click.echo(f"report: {api.build_report(workspace=workspace, run_id=run_id, out=out, store=store, prices=prices, measurements=measurements, allow_above_bound=allow_above_bound)}")


@main.command()
@_workspace
@_store
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def runs(workspace: Path, store: Path | None, limit: int, as_json: bool) -> None:
    """List stored runs, newest first."""
    from evals import api

    rows = api.list_runs(workspace=workspace, store=store, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        gate = f"  gate={r['gate']}" if r["gate"] else ""
        sim = "SIMULATED " if r["simulated"] else ""
        batches = f"  batches in flight: {r['batches_in_flight']} ({r['batch_progress']} requests done)" if r.get("batches_in_flight") else ""
        click.echo(f"{r['id']}  {r['status']:<11} {sim}{r['suite']:<12} ref={r['reference_runner']}  runners: {r['runners']}  git={(r['git_commit'] or 'unknown')[:10]}{gate}{batches}")


@main.command()
@click.argument("run_id")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_workspace
@_store
@click.option("--all-attempts", is_flag=True, help="Every attempt, retries included, instead of the final answer per sample.")
def export(run_id: str, path: Path, workspace: Path, store: Path | None, all_attempts: bool) -> None:
    """Export a run to PATH (.parquet or .jsonl)."""
    from evals import api

    click.echo(f"wrote {api.export(workspace=workspace, run_id=run_id, path=path, store=store, all_attempts=all_attempts)}")


@main.command(name="import")
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--suite", "-s", required=True, help="Name of the suite to write: WORKSPACE/tasks/NAME/.")
@_workspace
@click.option("--format", "fmt", default="auto", show_default=True, type=click.Choice(["auto", "openai", "anthropic", "jsonl", "csv", "parquet", "datasets"]))
@click.option("--map", "mapping", multiple=True, help="FIELD=COLUMN (or dotted path), e.g. --map input=prompt --map category=metadata.route.")
@click.option("--categories", default="field", show_default=True, help="`field`, `all`, or a rules YAML file (regex or keyword -> category).")
@click.option("--stratify", type=click.Choice(["category"]), help="Sampling is always stratified by category; accepted for clarity.")
@click.option("--sample", type=int, help="Keep N samples, stratified by category.")
@click.option("--min-per-category", default=10, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-redact", is_flag=True, help="Keep the logs' text verbatim (PII and secrets included). Explicit on purpose.")
@click.option("--near-duplicates", default=0.9, show_default=True, type=float, help="Jaccard threshold for near-duplicates; 1 keeps only exact-duplicate removal.")
@click.option("--volume", "volume_per_day", type=float, help="Requests per day in production, when the logs have no timestamps.")
@click.option("--logged-fraction", default=1.0, show_default=True, type=float, help="Share of production requests the logs hold (0.002 = 1 in 500): the volume from timestamps is divided by it.")
@click.option("--scorers-from", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="YAML with the suite's grading (scorers, pass_rule, categories, margin) to use instead of the default similarity scorer.")
@click.option("--verbatim-metadata", multiple=True, metavar="KEY", help="Copy this key of the requests' metadata without redaction (e.g. unit tests whose fixtures look like PII).")
@click.option("--max-bad-fraction", default=0.1, show_default=True, type=float, help="Reject a file when more of its lines than this are unusable.")
@click.option("--overwrite", is_flag=True, help="Replace an existing suite of that name.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
def import_(logs: tuple[Path, ...], suite: str, workspace: Path, fmt: str, mapping: tuple[str, ...], categories: str, stratify: str | None, sample: int | None, min_per_category: int, seed: int, no_redact: bool, near_duplicates: float, volume_per_day: float | None, logged_fraction: float, scorers_from: Path | None, verbatim_metadata: tuple[str, ...], max_bad_fraction: float, overwrite: bool, as_json: bool) -> None:
    """Turn traffic logs (OpenAI/Anthropic logs, CSV, JSONL, Parquet; gzip ok) into a suite."""
    from evals import api
    from evals.config import ConfigError

    pairs = {}
    for m in mapping:
        k, sep, v = m.partition("=")
        if not sep or not k or not v:
            raise ConfigError(f"--map {m!r}: expected FIELD=COLUMN, e.g. input=prompt")
        pairs[k] = v
    rep = api.import_traffic(
        workspace=workspace, paths=list(logs), suite=suite, format=fmt, mapping=pairs, categories=categories, sample=sample,
        min_per_category=min_per_category, seed=seed, no_redact=no_redact, near_duplicate_threshold=None if near_duplicates >= 1 else near_duplicates,
        volume_per_day=volume_per_day, logged_fraction=logged_fraction, scorers_from=scorers_from, verbatim_metadata=verbatim_metadata,
        max_bad_fraction=max_bad_fraction, overwrite=overwrite,
    )
    if as_json:
        click.echo(rep.model_dump_json(indent=2))
        return
    click.echo(f"wrote {rep.suite_dir}: {rep.sampling.selected} samples from {rep.records} valid records ({rep.skipped_total} lines skipped)")
    red = ", ".join(f"{k} {v}" for k, v in sorted(rep.redaction.found.items())) or "nothing found"
    click.echo(f"  redaction: {red}" if rep.redaction.enabled else "  redaction: OFF (--no-redact): the samples hold the logs' text verbatim")
    retried = f" ({rep.dedupe.retries_used} failed answers replaced by their retry)" if rep.dedupe.retries_used else ""
    click.echo(f"  duplicates dropped: {rep.dedupe.exact} exact, {rep.dedupe.near} near{retried}")
    click.echo(f"  per category: {', '.join(f'{k} {v}' for k, v in sorted(rep.sampling.selected_per_category.items()))}")
    for w in rep.warnings:
        click.echo(f"  warning: {w}")
    for sk in rep.skipped[:5]:
        click.echo(f"  skipped {sk.file}:{sk.line}: {sk.reason}")
    click.echo(f"  full report: {Path(rep.suite_dir) / 'import_report.json'}")


@main.command()
@click.option("--margin", default=0.05, show_default=True, type=float, help="Non-inferiority margin, as a fraction (0.05 = 5 points).")
@click.option("--expected-gap", default=0.0, show_default=True, type=float, help="The true gap you expect, candidate − reference (negative: candidate worse).")
@click.option("--discordance", type=float, help="Share of samples where the two runners disagree (from a pilot run); default: a cautious estimate from --reference-rate.")
@click.option("--reference-rate", default=0.9, show_default=True, type=float, help="Expected pass rate of the reference, used when --discordance is not given.")
@click.option("--power", default=0.8, show_default=True, type=float)
@click.option("--alpha", default=0.05, show_default=True, type=float, help="1 − the confidence of the verdict's interval.")
def plan(margin: float, expected_gap: float, discordance: float | None, reference_rate: float, power: float, alpha: float) -> None:
    """How many paired samples a suite needs to show non-inferiority."""
    from evals import api
    from evals.config import ConfigError

    try:
        p = api.plan_samples(margin=margin, expected_gap=expected_gap, discordance=discordance, reference_rate=reference_rate, power=power, alpha=alpha)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    click.echo(
        f"{p.exact_n} paired samples: exact power {p.exact_power:.1%} (target {power:.0%}) to show non-inferiority at a {margin * 100:g}-point margin "
        f"(expected gap {expected_gap * 100:+g} points, discordance {p.discordance:.3f}, {1 - alpha:.0%} interval)"
    )
    click.echo(f"  score formula (Nam 1997): {p.formula_n} paired samples, exact power {p.formula_power:.1%}; exact power is saw-toothed in N, so the exact search decides")


@main.command()
@click.option("--model", help="Open model from the catalogue (id, alias or Hugging Face id), e.g. llama-3.3-70b.")
@click.option("--config", "hf_config", type=click.Path(dir_okay=False, path_type=Path), help="Or any model: its Hugging Face config.json.")
@click.option("--gpu", required=True, help="GPU from the catalogue, e.g. A100-80GB, H100-SXM.")
@click.option("--quant", default="fp16", show_default=True, type=click.Choice(["fp16", "bf16", "fp8", "int8", "int4"]))
@click.option("--kv-dtype", default="fp16", show_default=True, type=click.Choice(["fp16", "bf16", "fp8"]))
@click.option("--context", default=8192, show_default=True, help="Tokens per sequence (prompt + output).")
@click.option("--concurrency", default=16, show_default=True, help="Sequences in flight.")
@click.option("--gpus", type=int, help="Check this many GPUs of one node (1-8) instead of finding the smallest count that fits.")
@click.option("--json", "as_json", is_flag=True)
def size(model: str | None, hf_config: Path | None, gpu: str, quant: str, kv_dtype: str, context: int, concurrency: int, gpus: int | None, as_json: bool) -> None:
    """GPUs of one node needed for a model (weights + KV cache) and its decode throughput bound.

    Exit 0 when it fits and tensor parallelism can split it; 1 when it does not; 2 on bad input."""
    from evals import api
    from evals.config import ConfigError

    try:
        r = api.size_deployment(model=model, config=hf_config, gpu=gpu, quant=quant, context=context, concurrency=concurrency, gpus=gpus, kv_dtype=kv_dtype)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    ok = r["fits"] and r["tensor_parallel_ok"]
    if as_json:
        click.echo(json.dumps(r, indent=2))
        sys.exit(0 if ok else 1)
    name = model or f"{r['hf_id']} ({r['params_b_total']:,.2f}B parameters from {hf_config})"
    link = (r["interconnect"] or "interconnect not in the catalogue").split("; source")[0]
    util = f"{r['gpu_memory_utilization']:.0%}"
    click.echo(f"{name} at {quant} on {gpu}, {concurrency} sequences x {context:,} tokens (KV {kv_dtype}):")
    click.echo(f"  weights            {r['weights_gb']:,.1f} GB")
    click.echo(f"  KV cache           {r['kv_bytes_per_token'] / 1e3:,.1f} kB/token -> {r['kv_needed_gb']:,.1f} GB for the sequences in flight")
    tp = "ok" if r["tensor_parallel_ok"] else f"NOT possible: the heads split only {', '.join(map(str, r['tensor_parallel_sizes']))} ways"
    fits = "fits" if r["fits"] else f"DOES NOT FIT (weights + KV need {r['weights_gb'] + r['kv_needed_gb']:,.1f} GB)"
    click.echo(f"  GPUs               {r['gpus']} of at most {r['max_gpus_per_node']} per node, linked by {link}")
    click.echo(f"                     {r['usable_gb']:,.0f} GB usable at {util}: {fits}; tensor parallel {tp}")
    if not ok:
        click.echo("  no bound: the model cannot be served this way; try fewer sequences or a shorter --context, --quant fp8/int4, --kv-dtype fp8, a larger GPU, or pipeline parallelism across nodes")
        sys.exit(1)
    click.echo(f"  KV capacity        {r['kv_capacity_tokens']:,} tokens beside the weights")
    click.echo(f"  decode bound       {r['decode_bound_tokens_per_s_per_sequence']:,.1f} tokens/s per sequence ({r['bandwidth_gb_s']:,.0f} GB/s / {r['step_gb']:,.1f} GB read per step: weights + KV of {concurrency} sequences at {context:,} tokens)")
    click.echo(f"                     {r['decode_bound_tokens_per_s_at_concurrency']:,.0f} tokens/s summed over {concurrency} sequences")


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, float]:
    from evals.config import ConfigError

    out = {}
    for v in values:
        name, sep, num = v.partition("=")
        try:
            out[name] = float(num)
        except ValueError:
            raise ConfigError(f"{flag} {v!r}: expected RUNNER=NUMBER") from None
        if not sep:
            raise ConfigError(f"{flag} {v!r}: expected RUNNER=NUMBER")
    return out


@main.command()
@_workspace
@click.option("--runner", "-r", "runners", multiple=True, required=True)
@click.option("--suite", help="Take the workload from this suite's workload profile.")
@click.option("--requests-per-day", type=float, help="Volume per day; a month is 730 h (365 × 24 ÷ 12), so 30.42 days.")
@click.option("--requests-per-month", type=float, help="Volume per 730-hour month (give this or --requests-per-day).")
@click.option("--input-tokens", type=int, help="Average input tokens per request.")
@click.option("--output-tokens", type=int, help="Average output tokens per request.")
@click.option("--peak-hour-share", type=float, help="Share of a day's requests in its busiest hour (1/24 if flat).")
@click.option("--pass-rate", "pass_rates", multiple=True, help="RUNNER=RATE, e.g. llama-3.3-70b-vllm=0.91 (default 1).")
@click.option("--capacity", "capacities", multiple=True, help="RUNNER=TASKS_PER_HOUR for self-hosted runners not yet measured.")
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--measurement", "measurements", multiple=True, type=int, help="`evals measure` sweep id that sizes its runner (repeatable; default: the most complete recent sweep of each profile; `evals measurements` lists them).")
@click.option("--route", "routes", multiple=True, help="RUNNER=SHARE of requests sent to it, e.g. llama-3.1-8b-vllm=0.8; one --runner left unrouted takes the rest. A self-hosted share pays whole replicas all month.")
@click.option("--cascade", "cascades", multiple=True, help="LOCAL=ESCALATION_RATE: LOCAL answers every request, that share is sent on to the API (--escalate-to).")
@click.option("--escalate-to", help="Runner a --cascade escalates to (default: the one API runner given).")
@click.option("--allow-above-bound", is_flag=True, help="Size from a measured capacity even when `evals measure` found it above the physical bound (knowingly).")
@_store
@click.option("--json", "as_json", is_flag=True)
def cost(workspace: Path, runners: tuple[str, ...], suite: str | None, requests_per_day: float | None, requests_per_month: float | None, input_tokens: int | None, output_tokens: int | None, peak_hour_share: float | None, pass_rates: tuple[str, ...], capacities: tuple[str, ...], prices: Path | None, measurements: tuple[int, ...], routes: tuple[str, ...], cascades: tuple[str, ...], escalate_to: str | None, allow_above_bound: bool, store: Path | None, as_json: bool) -> None:
    """Monthly cost (730-hour month) and break-even of runners at a workload, without running a suite."""
    from evals import api

    r = api.cost_calculator(
        workspace=workspace, runners=list(runners), suite=suite, requests_per_day=requests_per_day, requests_per_month=requests_per_month,
        input_tokens=input_tokens, output_tokens=output_tokens, peak_hour_share=peak_hour_share,
        pass_rates=_pairs(pass_rates, "--pass-rate"), capacities=_pairs(capacities, "--capacity"), prices=prices, store=store,
        measurements=measurements, routes=_pairs(routes, "--route"), cascades=_pairs(cascades, "--cascade"), escalate_to=escalate_to,
        allow_above_bound=allow_above_bound,
    )
    for runner, note in r["retirement"].items():
        click.secho(f"warning: runner {runner}: {note}", fg="red", err=True)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    w = r["workload"]
    t = Table(title=f"{w['monthly_requests']:,.0f} requests/month (730 h), {w['avg_input_tokens']} in / {w['avg_output_tokens']} out tokens, {w['peak_hour_share']:.0%} in the peak hour")
    for col in ("runner", "kind", "replicas", "GPUs", "monthly (730 h)", "utilisation", "per task", "per completed task"):
        t.add_column(col, justify="left" if col in ("runner", "kind") else "right")
    for p in r["projections"]:
        util = f"{p['utilisation']:.0%}" if p["utilisation"] is not None else "-"
        t.add_row(p["runner"], p["kind"], str(p["replicas"] or "-"), str(p["gpus"] or "-"), f"${p['monthly_cost']:,.0f}", util, fmt_usd(p['cost_per_task']), fmt_usd(p['cost_per_completed_task']))
    Console(width=None if sys.stdout.isatty() else 160).print(t)
    if w["peak_hour_share_assumed"]:
        click.echo(f"note: no busiest-hour share given or in the suite's profile: {w['peak_hour_share']:.0%} assumed (give --peak-hour-share)")
    for b in r["break_even"]:
        v = b["requests_per_month"]
        click.echo(f"{b['self_hosted']} is cheaper than {b['api']} per completed task above {v:,} requests/month" if v else f"{b['self_hosted']} is not cheaper than {b['api']} up to {b['searched_up_to']:,} requests/month")
    for o in r["owned_vs_rented"]:
        click.echo(f"{o['runner']}: {o['verdict']}; renting the same GPUs costs ${o['rented_hourly_usd']:,.2f}/h ({o['rented_source']})")
    if r["routes"]:
        x = r["routes"]
        mix = ", ".join(f"{n} {s:.0%}" for n, s in x["shares"].items())
        vs = "; ".join(f"{c['scenario_vs_alone']:+.0%} vs {c['runner']} alone ({fmt_usd(c['alone_cost_per_request'])})" for c in x["compared"] if c["scenario_vs_alone"] is not None)
        click.echo(f"route {mix}: ${x['monthly_cost']:,.0f}/month (730 h) = {fmt_usd(x['cost_per_request'])} per request, {fmt_usd(x['cost_per_completed_task'])} per completed task; {vs}")
    for c in r["cascades"]:
        vs = "; ".join(f"{x['scenario_vs_alone']:+.0%} vs {x['runner']} alone" for x in c["compared"] if x["scenario_vs_alone"] is not None)
        click.echo(f"cascade {c['local']} → {c['escalate_to']} ({c['escalation_rate']:.0%} escalated): ${c['monthly_cost']:,.0f}/month (730 h) = {fmt_usd(c['cost_per_request'])} per request; {vs}")
    for p in r["projections"]:
        click.echo(f"  {p['runner']}: {p['basis']}")
    click.echo(r["definition"])


@main.command()
@_workspace
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--model", "extra_models", multiple=True, help="Also serve this model name with default behaviour (repeatable); lets a runner's `launch:` block start the simulator.")
def sim(workspace: Path, port: int, host: str, extra_models: tuple[str, ...]) -> None:
    """Serve the simulated OpenAI + Anthropic endpoints for the workspace's simulated runners."""
    import asyncio

    from evals import api
    from evals.config import ConfigError, SimBehaviour
    from evals.sim import SimServer

    try:
        models, samples = api.simulated_models(workspace)
    except ConfigError as e:
        if not extra_models:
            raise
        click.echo(f"warning: {e}; serving only --model {', '.join(extra_models)}", err=True)
        models, samples = {}, []
    for name in extra_models:
        models.setdefault(name, SimBehaviour())
    server = SimServer(models, samples, host=host, port=port)

    def ready(s: SimServer) -> None:
        click.echo(f"SIMULATED endpoints on {s.base_url} (OpenAI: {s.base_url}/v1, Anthropic: {s.base_url}); models: {', '.join(models)}", err=True)

    try:
        asyncio.run(server.serve_forever(ready=ready))
    except KeyboardInterrupt:
        pass



# ---------------------------------------------------------------- history, gate, nightly


class _GateUsageError(click.UsageError):
    exit_code = 3  # evals.gate.gate.USAGE, spelled out so `evals --help` stays import-light


class _GateCommand(click.Command):
    """Bad flags exit 3, not click's usual 2: for the gate 2 means inconclusive, and CI must tell the two apart."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            raise _GateUsageError(e.message, e.ctx) from None


@contextlib.contextmanager
def _usage_exits_3() -> Iterator[None]:
    """Unknown run, no baseline, bad config: one line and exit 3 (LockHeld: exit 2, nothing was judged).

    Anything unexpected also exits 3, with its traceback: Python's own exit
    code for a crash is 1, which CI would read as a regression.
    """
    from evals.errors import EvalsError
    from evals.gate.gate import INCONCLUSIVE, USAGE
    from evals.gate.nightly import NothingJudged

    try:
        yield
    except NothingJudged as e:  # another nightly holds the lock, or the batches are still in flight
        click.echo(f"error: {e}", err=True)
        sys.exit(INCONCLUSIVE)
    except (EvalsError, FileNotFoundError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(USAGE)
    except Exception:
        click.echo(f"error: the command could not run:\n{traceback.format_exc()}", err=True)
        sys.exit(USAGE)


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _fmt_change(x: float | None) -> str:
    return "" if x is None else f" ({100 * x:+.1f}%)"


def _fmt_ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} ms"


def _served(models: list[str], facts: list[dict[str, Any]]) -> str:
    """Served model names and server versions (e.g. vLLM's), where the server told."""
    versions = sorted({str(f["version"]) for f in facts if f.get("version")})
    return (", ".join(models) or "unknown model") + (f" on server {', '.join(versions)}" if versions else "")


def _print_comparison(c: Comparison) -> None:
    a, b = c.run_a, c.run_b
    click.echo(f"A {a['id']}  ({a['created_at']}, git {a['git_commit'] or 'unknown'}, tool {a['tool_version']}, suite {a['suite']} {a['suite_hash']})")
    click.echo(f"B {b['id']}  ({b['created_at']}, git {b['git_commit'] or 'unknown'}, tool {b['tool_version']}, suite {b['suite']} {b['suite_hash']})")
    if c.suite_changed:
        click.secho("suite changed between the runs: the same sample ids may not be the same tasks", fg="yellow")
    for name, where in ((c.only_in_a, "only in A"), (c.only_in_b, "only in B")):
        if name:
            click.echo(f"{where}: {', '.join(name)}")
    for r in c.runners:
        click.echo(f"\n{r.runner}" + (f"  [profile changed: {', '.join(r.profile_changes) or 'hash'}]" if r.profile_changed else ""))
        served_a, served_b = _served(r.served_models_a, r.server_facts_a), _served(r.served_models_b, r.server_facts_b)
        click.echo(f"  served: {served_a}" + (f" -> {served_b}" if served_b != served_a else ""))
        click.echo(f"  {'scope':<20} {'shared':>6} {'A':>7} {'B':>7}  {'gap B-A (95% CI)':<26} {'McNemar p':>9}")
        for s in [r.overall, *r.categories]:
            gap = "n/a" if s.gap is None or s.gap_ci is None else f"{100 * s.gap:+.1f} ({100 * s.gap_ci[0]:+.1f} to {100 * s.gap_ci[1]:+.1f})"
            p = "n/a" if s.mcnemar_p is None else fmt_sig(s.mcnemar_p)
            click.echo(f"  {s.scope:<20} {s.n:>6} {_fmt_pct(s.pass_rate_a):>7} {_fmt_pct(s.pass_rate_b):>7}  {gap:<26} {p:>9}")
        click.echo(f"  errors {_fmt_pct(r.error_rate_a)} -> {_fmt_pct(r.error_rate_b)}; pass rate {_fmt_pct(r.pass_rate_a)} -> {_fmt_pct(r.pass_rate_b)}")
        click.echo(f"  cost/completed {fmt_usd(r.cost_per_completed_a)} -> {fmt_usd(r.cost_per_completed_b)}{_fmt_change(r.cost_change)}; latency p95 {_fmt_ms(r.latency_p95_a)} -> {_fmt_ms(r.latency_p95_b)}{_fmt_change(r.latency_change)}")


@main.command()
@click.argument("run_a")
@click.argument("run_b")
@_workspace
@_store
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def compare(run_a: str, run_b: str, workspace: Path, store: Path | None, prices: Path | None, as_json: bool) -> None:
    """Compare RUN_B with RUN_A: pass rates per runner and category (paired on shared samples), cost, latency."""
    from evals import api

    c = api.compare_runs(workspace=workspace, run_a=run_a, run_b=run_b, store=store, prices=prices)
    sims = [r.runner for r in c.runners if r.simulated]
    if sims:
        click.secho(f"SIMULATED: {', '.join(sims)} answered from the simulated server; these figures demonstrate the tool, not a model.", fg="yellow", err=True)
    if as_json:
        click.echo(c.model_dump_json(indent=2))
    else:
        _print_comparison(c)


def _print_gate(report: GateReport) -> None:
    if report.simulated_runners:
        click.secho(f"SIMULATED: {', '.join(report.simulated_runners)} answered from the simulated server; this gate tests the tool, not a model.", fg="yellow", err=True)
    colour = {"pass": "green", "regression": "red"}.get(report.result, "yellow")
    click.secho(f"gate {report.run_id} vs {report.baseline_id or 'no baseline'}: {report.result.upper()} (exit {report.exit_code})", fg=colour, bold=True)
    click.echo(f"  baseline: {report.baseline_reason}")
    for reason in report.reasons:
        click.echo(f"  {reason}")
    for g in report.runners:
        for n in g.notes:
            click.echo(f"  {g.runner}: {n}")
        for c in g.checks:
            click.echo(f"  {g.runner:<24} {c.name:<26} {c.status.upper():<12} {c.message}")


@main.command(cls=_GateCommand)
@click.argument("run_id")
@click.option("--baseline", default="last-pass", show_default=True, help="`last-pass` (latest earlier run of the suite that passed its gate) or a run id.")
@click.option("--tolerance", type=click.FloatRange(0, 1, max_open=True), default=0.02, show_default=True, help="Pass-rate drop (absolute) too small to matter.")
@click.option("--cost-tolerance", type=click.FloatRange(min=0), default=0.10, show_default=True, help="Allowed relative rise of the mean cost per answered sample on the shared samples (a regression only if also significant).")
@click.option("--latency-tolerance", type=click.FloatRange(min=0), default=0.20, show_default=True, help="Allowed relative rise of latency p95 on the shared samples (a regression only if also significant).")
@click.option("--max-error-rate", type=click.FloatRange(0, 1), default=0.05, show_default=True, help="Above this share of errors in either run: inconclusive.")
@click.option("--min-shared", type=click.IntRange(min=1), default=30, show_default=True, help="Fewer samples answered ok in both runs: inconclusive.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True, help="False-alarm rate of the whole gate: quality, cost and latency checks, Holm-adjusted together.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--summary-md", type=click.Path(dir_okay=False, path_type=Path), help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the gate report as JSON.")
@_workspace
@_store
def gate(run_id: str, baseline: str, tolerance: float, cost_tolerance: float, latency_tolerance: float, max_error_rate: float, min_shared: int, alpha: float, junit: Path | None, summary_md: Path | None, prices: Path | None, as_json: bool, workspace: Path, store: Path | None) -> None:
    """Gate RUN_ID against a baseline. Exit 0 pass, 1 regression, 2 inconclusive (outage, too few shared samples, suite changed), 3 usage error."""
    from evals import api
    from evals.gate.gate import GateOptions

    options = GateOptions(tolerance=tolerance, cost_tolerance=cost_tolerance, latency_tolerance=latency_tolerance, max_error_rate=max_error_rate, min_shared=min_shared, alpha=alpha)
    with _usage_exits_3():
        report = api.gate(workspace=workspace, run_id=run_id, baseline=baseline, options=options, store=store, prices=prices, junit=junit, summary_md=summary_md)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        _print_gate(report)
    sys.exit(report.exit_code)


@main.command(cls=_GateCommand)
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Queue behind a nightly holding the store's lock instead of exiting 2 at once.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def nightly(config: Path, wait: bool, quiet: bool) -> None:
    """Run the nightly in CONFIG (YAML): fresh run, score, report with trend, gate, record. Exits with the gate's code (0/1/2; 3 usage)."""
    from evals import api

    with _usage_exits_3():
        result = api.nightly(config, wait=wait, quiet=quiet)
    _print_gate(result.gate)
    click.echo(f"report: {result.report_path}\ntrend: {result.trend_path}\njunit: {result.junit_path}\nsummary: {result.summary_path}")
    sys.exit(result.exit_code)



@main.command()
@_workspace
@_store
@click.option("--runner", "-r", help="Only this runner's sweeps.")
@click.option("--json", "as_json", is_flag=True)
def measurements(workspace: Path, store: Path | None, runner: str | None, as_json: bool) -> None:
    """List stored `evals measure` sweeps, newest first; * marks the one that sizes its runner by default."""
    from evals import api

    rows = api.list_measurements(workspace=workspace, store=store, runner=runner)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no measurements stored; `evals measure --runner R` adds one")
    for r in rows:
        cap = f"{r['tasks_per_hour']:,.0f} tasks/h" if r["tasks_per_hour"] else "no operating point"
        sim = " SIMULATED" if r["simulated"] else ""
        click.echo(f"{'*' if r['sizes'] else ' '} {r['id']:>4}  {r['created_at'][:19]}  {r['runner']:<28} {r['steps']:>2} steps  {cap}{sim}")


def _levels(text: str | None, kind: Callable[[str], Any], option: str) -> list[Any] | None:
    """`1,4,16` -> [1, 4, 16]."""
    if text is None:
        return None
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint=option) from None


@main.command()
@_workspace
@click.option("--runner", "-r", required=True, help="Runner name (runners/NAME.yaml) or path.")
@click.option("--suite", "-s", help="Suite whose prompts are sent (default: the workspace's only suite).")
@click.option("--concurrency", help="Closed loop: comma-separated concurrencies.  [default: 1,4,16,64,256]")
@click.option("--rate", help="Open loop instead: comma-separated Poisson arrival rates, requests/s.")
@click.option("--requests", "requests_per_step", type=int, help="Measured requests per step (default 4 x C, or 10 s of arrivals; at least 32).")
@click.option("--duration", "duration_s", type=float, help="Seconds of measured requests per step (with --requests: whichever ends first).")
@click.option("--ttft-slo-ms", type=float, default=500.0, show_default=True, help="Time-to-first-token target, at p95.")
@click.option("--e2e-slo-ms", type=float, help="End-to-end latency target, at p95 (needed without streaming).")
@click.option("--tpot-slo-ms", type=float, help="Time-per-output-token target (vLLM's TPOT), at p95; also a per-request goodput target.")
@click.option("--burstiness", type=float, default=1.0, show_default=True, help="With --rate: gamma shape of arrival gaps (1 = Poisson, lower = burstier).")
@click.option("--max-tokens", type=int, help="Override the runner's max_tokens.")
@click.option(
    "--client", type=click.Choice(["lean", "sdk"]),
    help="HTTP client that drives the endpoint: lean (minimal HTTP client, OpenAI-compatible servers) or sdk (the official SDK). Default: the runner's `client:`, else lean where it can be used.",
)
@_store
@click.option("--json", "as_json", is_flag=True, help="Print the frontier as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (also when CI is set).")
def measure(
    workspace: Path, runner: str, suite: str | None, concurrency: str | None, rate: str | None, requests_per_step: int | None, duration_s: float | None, ttft_slo_ms: float,
    e2e_slo_ms: float | None, tpot_slo_ms: float | None, burstiness: float, max_tokens: int | None, client: Literal["lean", "sdk"] | None, store: Path | None, as_json: bool, quiet: bool,
) -> None:
    """Measure an endpoint's throughput/latency frontier and its capacity within the latency target."""
    from rich.console import Console

    from evals import api
    from evals.measure.table import frontier_summary, frontier_table

    if concurrency and rate:
        raise click.UsageError("give --concurrency or --rate, not both")
    frontier = api.measure_runner(
        workspace, runner, suite,
        concurrencies=_levels(concurrency, int, "--concurrency"), rates=_levels(rate, float, "--rate"),
        requests_per_step=requests_per_step, duration_s=duration_s, ttft_slo_ms=ttft_slo_ms, e2e_slo_ms=e2e_slo_ms,
        tpot_slo_ms=tpot_slo_ms, burstiness=burstiness, max_tokens=max_tokens, store=store, quiet=quiet, client=client,
    )
    if frontier.simulated:
        click.secho(f"SIMULATED: {frontier.runner} answered from the simulated server; the figures demonstrate the tool, not a model's speed.", fg="yellow", err=True)
    if as_json:
        click.echo(frontier.model_dump_json(indent=2))
        return
    console = Console()
    if not console.is_terminal:  # a pipe or a log file has no width of its own; rich would assume 80
        console.width = 160
    console.print(frontier_table(frontier))
    console.print(frontier_summary(frontier))
    click.echo(f"saved as sweep {frontier.id} (client: {frontier.client}); `evals measurements` lists sweeps, `--measurement {frontier.id}` sizes the runner from this one")

if __name__ == "__main__":
    main()
