"""`evals`: a thin command line over evals.api. Exit codes: 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from evals import __version__, api
from evals.config import ConfigError

_workspace = click.option("--workspace", "-w", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Workspace with tasks/, runners/ and reports/.")
_store = click.option("--store", type=click.Path(dir_okay=False, path_type=Path), help="Results store (default: WORKSPACE/reports/evals.sqlite).")


class _Cli(click.Group):
    """Turns bad input into one clear line and exit code 2, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, KeyError, FileNotFoundError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            click.echo(f"error: {msg}", err=True)
            sys.exit(2)
        except RuntimeError as e:  # e.g. a missing API key
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
    api.init_workspace(directory, force=force)
    click.echo(f"workspace ready: {directory}\n  next: cd {directory} && evals run --suite support --runner llama-3.3-70b-sim --runner claude-sonnet-4.5-sim")


def _print_outcome(outcome: api.RunOutcome) -> None:
    rep = outcome.report
    if rep is None:
        click.echo(f"run {outcome.run_id}: {outcome.run.status}")
        return
    if rep.simulated:
        click.secho(f"SIMULATED: {', '.join(rep.simulated_runners)} answered from the simulated server; figures demonstrate the tool, not the models.", fg="yellow", err=True)
    for r in rep.runners:
        rate = f"{r.pass_rate:.1%}" if r.pass_rate is not None else "n/a"
        cpc = f"${r.cost_per_completed_task_usd:.5f}" if r.cost_per_completed_task_usd is not None else "n/a"
        click.echo(f"  {r.name:<28} pass {rate:>6}  completed {r.completed}/{r.samples}  errors {r.errors}  cost/completed {cpc}  sent {r.requests_sent} reused {r.requests_reused}")
    for v in rep.verdicts:
        click.echo(f"  {v.sentence}")
    click.echo(f"report: {outcome.report_path}")


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the demo workspace (created if missing; reused on a second run).")
@click.option("--quiet", "-q", is_flag=True)
def demo(out: Path, quiet: bool) -> None:
    """Init a workspace, start the simulated endpoints, run, score and report the example suite."""
    _print_outcome(api.demo(out, quiet=quiet))


@main.command()
@_workspace
@click.option("--suite", "-s", required=True, help="Suite name (tasks/NAME) or path.")
@click.option("--runner", "-r", "runners", multiple=True, required=True, help="Runner name (runners/NAME.yaml) or path; repeat for several.")
@click.option("--reference", help="Runner the others are compared with (default: the one with role: reference, else the first).")
@click.option("--budget", "budget_usd", type=float, help="Stop sending new requests before this many dollars are spent.")
@click.option("--no-reuse", is_flag=True, help="Send every request again instead of reusing stored answers.")
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Your own API price file, laid over the catalogue.")
@click.option("--no-report", is_flag=True, help="Run and score only.")
@_store
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (also when CI is set).")
def run(workspace: Path, suite: str, runners: tuple[str, ...], reference: str | None, budget_usd: float | None, no_reuse: bool, prices: Path | None, no_report: bool, store: Path | None, quiet: bool) -> None:
    """Run a suite against runners; score and report."""
    outcome = api.run(workspace=workspace, suite=suite, runners=list(runners), reference=reference, budget_usd=budget_usd, reuse=not no_reuse, quiet=quiet, store=store, prices=prices, report=not no_report)
    _print_outcome(outcome)


@main.command()
@click.argument("run_id", required=False)
@_workspace
@click.option("--suite", help="Suite directory to score with (default: the run's suite in this workspace).")
@_store
def score(run_id: str | None, workspace: Path, suite: str | None, store: Path | None) -> None:
    """Re-score a stored run (default: the latest) without calling any model."""
    summary, path = api.rescore(workspace=workspace, run_id=run_id, suite=suite, store=store)
    click.echo(f"graded {summary.graded} answers: {summary.passed} passed, {summary.scorer_errors} scorer errors")
    click.echo(f"report: {path}")


@main.command()
@click.argument("run_id", required=False)
@_workspace
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Directory for index.html, summary.json, summary.md.")
@click.option("--prices", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_store
def report(run_id: str | None, workspace: Path, out: Path | None, prices: Path | None, store: Path | None) -> None:
    """Write the HTML report of a stored run (default: the latest)."""
    click.echo(f"report: {api.build_report(workspace=workspace, run_id=run_id, out=out, store=store, prices=prices)}")


@main.command()
@_workspace
@_store
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def runs(workspace: Path, store: Path | None, limit: int, as_json: bool) -> None:
    """List stored runs, newest first."""
    rows = api.list_runs(workspace=workspace, store=store, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['status']:<11} {r['suite']:<12} ref={r['reference_runner']}  runners: {r['runners']}")


@main.command()
@click.argument("run_id")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_workspace
@_store
@click.option("--all-attempts", is_flag=True, help="Every attempt, retries included, instead of the final answer per sample.")
def export(run_id: str, path: Path, workspace: Path, store: Path | None, all_attempts: bool) -> None:
    """Export a run to PATH (.parquet or .jsonl)."""
    from evals.store.export import export_run

    st = api.open_store(workspace, store)
    try:
        click.echo(f"wrote {export_run(st, run_id, path, all_attempts=all_attempts)}")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    finally:
        st.close()


@main.command()
@_workspace
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
def sim(workspace: Path, port: int, host: str) -> None:
    """Serve the simulated OpenAI + Anthropic endpoints for the workspace's simulated runners."""
    from evals.sim import SimServer

    models, samples = api.simulated_models(workspace)
    server = SimServer(models, samples, host=host, port=port)

    def ready(s: SimServer) -> None:
        click.echo(f"SIMULATED endpoints on {s.base_url} (OpenAI: {s.base_url}/v1, Anthropic: {s.base_url}); models: {', '.join(models)}", err=True)

    try:
        asyncio.run(server.serve_forever(ready=ready))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
