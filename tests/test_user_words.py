"""Error messages speak the user's words (the file, the field, the flag to use), never the class or
parameter names of the code; and a fresh workspace keeps what runs write out of git."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from evals import api
from evals.cli import main
from evals.config import ConfigError, load_runner
from evals.cost.catalogue import load_api_prices
from evals.traffic.errors import TrafficImportError
from evals.traffic.writer import check_target


def test_invalid_files_are_named_as_the_user_knows_them(tmp_path: Path) -> None:
    runner = tmp_path / "r.yaml"
    runner.write_text("name: x\nprovider: openai\nmodel: m\npricing: {api: {model: gpt-5}}\nbogus: 1\n")
    with pytest.raises(ConfigError) as e:
        load_runner(runner)
    assert f"{runner}: invalid runner profile:" in str(e.value) and f"{runner}:5: `bogus`: unknown field" in str(e.value)
    assert "RunnerProfile" not in str(e.value)
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  my-model: {provider: x, input: 1, output: 2, source: contract, as_of: 2026-01-01, colour: red}\n")
    with pytest.raises(ConfigError) as e:
        load_api_prices(prices)
    assert f"{prices}: invalid price file:" in str(e.value) and "ApiPriceOverrides" not in str(e.value)


def test_plan_names_the_flags_not_the_parameters() -> None:
    r = CliRunner().invoke(main, ["plan", "--reference-rate", "0.99", "--expected-gap", "0.05"])
    # 0.99 + 0.05 = 1.04: no pass rate can be that.
    assert r.exit_code == 2 and "--reference-rate 0.99 with --expected-gap +0.05" in r.output and "1.04" in r.output
    assert "p_cand" not in r.output and "p_ref" not in r.output


def test_existing_suite_points_to_the_flag(tmp_path: Path) -> None:
    (tmp_path / "support").mkdir()
    with pytest.raises(TrafficImportError) as e:
        check_target(tmp_path, "support", overwrite=False)
    assert "--overwrite" in str(e.value) and "overwrite=True" not in str(e.value)


def test_init_writes_a_gitignore_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    api.init_workspace(tmp_path / "ws")
    assert (tmp_path / "ws" / ".gitignore").read_text().splitlines()[1:] == ["reports/", "demo/"]
    other = tmp_path / "other"
    (other / "runners").mkdir(parents=True)
    (other / "runners" / "mine.yaml").write_text("name: mine\n")
    r = CliRunner().invoke(main, ["init", str(other)])
    assert r.exit_code == 2 and "--force" in r.output
    assert sorted(p.name for p in other.iterdir()) == ["runners"]


@pytest.mark.parametrize("args", [["report"], ["score"], ["compare", "a", "b"], ["export", "a", "x.jsonl"], ["measurements"]])
def test_reading_commands_outside_a_workspace_write_nothing(tmp_path: Path, args: list[str]) -> None:
    r = CliRunner().invoke(main, [*args, "-w", str(tmp_path)])
    assert r.exit_code == 2 and "not a workspace with runs" in r.output, r.output
    assert list(tmp_path.iterdir()) == []


def test_import_options_are_named_by_their_flags(tmp_path: Path) -> None:
    log = Path(__file__).resolve().parent.parent / "evals" / "examples" / "traffic" / "support-traffic.jsonl.gz"
    r = CliRunner().invoke(main, ["import", str(log), "--suite", "s", "-w", str(tmp_path), "--logged-fraction", "3"])
    assert r.exit_code == 2 and "--logged-fraction:" in r.output and "logged_fraction" not in r.output
    assert list(tmp_path.iterdir()) == []


def test_measure_names_the_latency_flag(tmp_path: Path) -> None:
    api.init_workspace(tmp_path)
    r = CliRunner().invoke(main, ["measure", "-w", str(tmp_path), "--runner", "llama-3.3-70b-sim", "--ttft-slo-ms", "-5", "--concurrency", "1", "--requests", "2", "-q"])
    assert r.exit_code == 2 and "--ttft-slo-ms -5.0: Input should be greater than 0" in r.output
    assert "Slo" not in r.output and "validation error" not in r.output
