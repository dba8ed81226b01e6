"""`evals size`, `evals cost` and `evals plan`: calculators over the catalogues, no models called."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evals import api
from evals.cli import main


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    api.init_workspace(tmp_path)
    owned = yaml.safe_load((tmp_path / "runners" / "llama-3.3-70b-vllm.yaml").read_text())
    owned["name"] = "llama-owned"
    owned["pricing"]["self_hosted"] = {"gpu": "A100-80GB", "gpus": 4, "utilisation": 0.6, "purchase": {"price_usd": 80000, "amortisation_months": 36, "power_kw": 2.0, "pue": 1.3, "price_per_kwh": 0.15}}
    (tmp_path / "runners" / "llama-owned.yaml").write_text(yaml.safe_dump(owned))
    return tmp_path


def test_size_llama_70b_fp16_on_4_a100(ws: Path) -> None:
    r = CliRunner().invoke(main, ["size", "--model", "llama-3.3-70b", "--gpu", "A100-80GB", "--gpus", "4", "--concurrency", "8", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    # A step reads 70.6e9 params x 2 bytes = 141.2 GB of weights + 8 x 8,192 x 327,680 B = 21.475 GB of KV;
    # 4 x 2,039 GB/s = 8,156 GB/s -> 8,156 / 162.675 = 50.1 tokens/s per sequence
    assert d["weights_gb"] == pytest.approx(141.2, abs=0.1)
    assert d["decode_bound_tokens_per_s_per_sequence"] == pytest.approx(8156 / 162.674836, rel=1e-6)
    assert d["fits"] and d["gpus"] == 4


def test_size_finds_gpu_count_and_flags_what_does_not_fit() -> None:
    r = CliRunner().invoke(main, ["size", "--model", "llama-3.3-70b", "--gpu", "A100-80GB", "--quant", "fp8", "--json"])
    assert json.loads(r.output)["gpus"] == 2
    r = CliRunner().invoke(main, ["size", "--model", "llama-3.3-70b", "--gpu", "RTX-4090", "--gpus", "1"])
    assert "DOES NOT FIT" in r.output and r.exit_code == 1
    r = CliRunner().invoke(main, ["size", "--model", "no-such-model", "--gpu", "A100-80GB"])
    assert r.exit_code == 2 and "unknown model 'no-such-model'" in r.output


def test_cost_projection_and_break_even(ws: Path) -> None:
    args = ["cost", "-w", str(ws), "-r", "llama-3.3-70b-vllm", "-r", "claude-sonnet-4.5", "--requests-per-day", "500000", "--input-tokens", "500", "--output-tokens", "200", "--peak-hour-share", "0.08", "--capacity", "llama-3.3-70b-vllm=20000", "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    proj = {p["runner"]: p for p in d["projections"]}
    # peak: 500,000 x 0.08 = 40,000/h -> 2 replicas of 20,000/h; 2 x 4 GPUs x $1.79 x 730 h
    assert proj["llama-3.3-70b-vllm"]["replicas"] == 2
    assert proj["llama-3.3-70b-vllm"]["monthly_cost"] == pytest.approx(2 * 4 * 1.79 * 730)
    # Claude: 500 x $3 + 200 x $15 per million = $0.0045 per request
    assert proj["claude-sonnet-4.5"]["cost_per_task"] == pytest.approx(0.0045)
    [be] = d["break_even"]
    assert be["requests_per_month"] is not None and be["requests_per_month"] < 500000 * 730 / 24


def test_cost_owned_versus_rented(ws: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "llama-owned", "--requests-per-day", "1000", "--input-tokens", "100", "--output-tokens", "50", "--capacity", "llama-owned=10000", "--json"])
    assert r.exit_code == 0, r.output
    [o] = json.loads(r.output)["owned_vs_rented"]
    assert 0 < o["breakeven_utilisation"] < 1 and "utilisation" in o["verdict"]


def test_cost_needs_capacity_and_volume(ws: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "llama-3.3-70b-vllm", "--requests-per-day", "10", "--input-tokens", "1", "--output-tokens", "1"])
    assert r.exit_code == 2 and "evals measure --runner llama-3.3-70b-vllm" in r.output
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "claude-sonnet-4.5"])
    assert r.exit_code == 2 and "--requests-per-day" in r.output
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "claude-sonnet-4.5", "--suite", "support", "--capacity", "x=abc"])
    assert r.exit_code == 2 and "RUNNER=NUMBER" in r.output


def test_cost_takes_workload_from_suite(ws: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "gpt-5", "--suite", "support", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["workload"]["requests_per_day"] == 20000


def test_run_refuses_batch_pricing_it_cannot_honour(ws: Path) -> None:
    p = ws / "runners" / "claude-sonnet-4.5-sim.yaml"
    body = yaml.safe_load(p.read_text())
    body["pricing"]["api"]["batch"] = True
    p.write_text(yaml.safe_dump(body))
    r = CliRunner().invoke(main, ["run", "-w", str(ws), "--suite", "support", "--runner", "claude-sonnet-4.5-sim"])
    assert r.exit_code == 2 and "batch" in r.output
    assert not (ws / "reports" / "evals.sqlite").exists()


def test_cost_assumes_a_peak_rather_than_flat_traffic(ws: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "gpt-5", "--requests-per-day", "1000", "--input-tokens", "10", "--output-tokens", "10", "--json"])
    w = json.loads(r.output)["workload"]
    assert w["peak_hour_share_assumed"] is True and w["peak_hour_share"] == 0.1
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "gpt-5", "--requests-per-day", "1000", "--input-tokens", "10", "--output-tokens", "10"])
    assert "10% assumed" in r.output
