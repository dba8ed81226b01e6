"""Money reads the same everywhere (terminal, report, gate messages, summary.md): thousands separators,
cents above a dollar, three significant digits below, never scientific notation such as $8.63713e-05."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from evals.cli import main
from evals.gate import gate
from evals.report.text import fmt_usd
from tests.conftest import sim_runner, write_workspace


def test_the_gate_formats_money_with_the_report_formatter() -> None:
    assert gate._usd is fmt_usd
    # 8.63713e-05 to three significant digits: 0.0000864.
    assert gate._usd(8.63713e-05) == "$0.0000864"
    assert gate._usd(12_345.678) == "$12,345.68"


def test_evals_cost_prints_small_costs_without_exponents(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"api": sim_runner("model-b", protocol="anthropic")})
    args = ["cost", "-w", str(ws), "-r", "api", "--requests-per-day", "1000000", "--input-tokens", "10", "--output-tokens", "2", "--peak-hour-share", "0.1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    # claude-sonnet-4-5 at $3 / $15 per million tokens: (10 × 3 + 2 × 15) / 1e6 = $0.00006 per request;
    # 1,000,000 a day × 730 / 24 days = 30,416,667 a month → $1,825 a month.
    assert "$0.00006" in r.output and "$1,825" in r.output
    assert "e-0" not in r.output
