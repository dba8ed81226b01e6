"""Every `evals measure` sweep is kept; `evals cost` and the report size a runner with the most complete
recent sweep of its profile, say which, and take another with --measurement ID."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evals.cli import main
from tests.conftest import sim_runner, write_workspace

COST = ["--requests-per-day", "10000", "--input-tokens", "500", "--output-tokens", "200", "--peak-hour-share", "0.1", "--json"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full sweep (3 load levels), then a quick one (1 level) of the same profile."""
    ws = write_workspace(tmp_path_factory.mktemp("ws"), {"a": sim_runner("model-a", ttft_ms=5, tokens_per_second=2000), "api": sim_runner("model-b", protocol="anthropic")})
    cli = CliRunner()
    for levels in ("1,2,4", "1"):
        r = cli.invoke(main, ["measure", "-w", str(ws), "--runner", "a", "--concurrency", levels, "--requests", "4", "--json", "-q"])
        assert r.exit_code == 0, r.output
    return ws


def _sweeps(ws: Path) -> list[dict[str, object]]:
    r = CliRunner().invoke(main, ["measurements", "-w", str(ws), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_both_sweeps_are_kept_and_the_full_one_sizes_the_runner(measured: Path) -> None:
    rows = _sweeps(measured)
    assert [(x["id"], x["steps"], x["sizes"]) for x in rows] == [(2, 1, False), (1, 3, True)]
    text = CliRunner().invoke(main, ["measurements", "-w", str(measured)]).stdout
    assert text.splitlines()[1].startswith("*    1")


def test_cost_uses_the_full_sweep_and_says_which(measured: Path) -> None:
    full, quick = sorted(_sweeps(measured), key=lambda x: x["id"])
    r = CliRunner().invoke(main, ["cost", "-w", str(measured), "-r", "a", "-r", "api", *COST])
    assert r.exit_code == 0, r.output
    row = next(p for p in json.loads(r.stdout)["projections"] if p["runner"] == "a")
    assert "sweep 1 of " in row["basis"] and "(3 steps), the most complete of 2" in row["basis"]
    assert f"{full['tasks_per_hour']:,.0f} tasks/h" in row["basis"]
    # --measurement 2 takes the quick sweep's capacity instead.
    r = CliRunner().invoke(main, ["cost", "-w", str(measured), "-r", "a", "-r", "api", "--measurement", "2", *COST])
    assert r.exit_code == 0, r.output
    row = next(p for p in json.loads(r.stdout)["projections"] if p["runner"] == "a")
    assert "sweep 2 of " in row["basis"] and "as chosen with --measurement" in row["basis"]
    assert f"{quick['tasks_per_hour']:,.0f} tasks/h" in row["basis"]


def test_a_wrong_measurement_id_is_bad_input(measured: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(measured), "-r", "a", "--measurement", "99", *COST])
    assert r.exit_code == 2 and "no measurement 99" in r.output and "stored ones (newest first): 2, 1" in r.output
    r = CliRunner().invoke(main, ["cost", "-w", str(measured), "-r", "api", "--measurement", "1", *COST])
    assert r.exit_code == 2 and "measured runner 'a', which is not among the runners here" in r.output


def test_the_report_names_the_sweep(measured: Path) -> None:
    cli = CliRunner()
    r = cli.invoke(main, ["run", "-w", str(measured), "--suite", "mini", "-r", "api", "-r", "a", "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads(next((measured / "reports").glob("*/summary.json")).read_text())
    row = next(p for p in summary["projections"] if p["runner"] == "a")
    assert row["capacity_source"].startswith("measured: sweep 1 of ") and "(3 steps)" in row["capacity_source"]
    r = cli.invoke(main, ["report", "-w", str(measured), "--measurement", "2", "--out", str(measured / "chosen")])
    assert r.exit_code == 0, r.output
    row = next(p for p in json.loads((measured / "chosen" / "summary.json").read_text())["projections"] if p["runner"] == "a")
    assert row["capacity_source"].startswith("measured: sweep 2 of ") and "as chosen with --measurement" in row["capacity_source"]
