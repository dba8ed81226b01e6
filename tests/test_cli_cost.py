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
    args = ["cost", "-w", str(ws), "-r", "llama-3.3-70b-vllm", "-r", "claude-sonnet-5.5", "--requests-per-day", "500000", "--input-tokens", "500", "--output-tokens", "200", "--peak-hour-share", "0.08", "--capacity", "llama-3.3-70b-vllm=20000", "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    proj = {p["runner"]: p for p in d["projections"]}
    # peak: 500,000 x 0.08 = 40,000/h -> 2 replicas of 20,000/h; 2 x 4 GPUs x $1.79 x 730 h
    assert proj["llama-3.3-70b-vllm"]["replicas"] == 2
    assert proj["llama-3.3-70b-vllm"]["monthly_cost"] == pytest.approx(2 * 4 * 1.79 * 730)
    # Claude Sonnet 5.5: 500 x $2 + 200 x $10 per million = $0.003 per request
    assert proj["claude-sonnet-5.5"]["cost_per_task"] == pytest.approx(0.003)
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
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "claude-sonnet-5.5"])
    assert r.exit_code == 2 and "--requests-per-day" in r.output
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "claude-sonnet-5.5", "--suite", "support", "--capacity", "x=abc"])
    assert r.exit_code == 2 and "RUNNER=NUMBER" in r.output


def test_cost_takes_workload_from_suite(ws: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "gpt-5", "--suite", "support", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["workload"]["requests_per_day"] == api.find_suite(ws, "support").workload["requests_per_day"]


def test_run_refuses_batch_pricing_it_cannot_honour(ws: Path) -> None:
    p = ws / "runners" / "claude-sonnet-5.5-sim.yaml"
    body = yaml.safe_load(p.read_text())
    body["pricing"]["api"]["batch"] = True
    p.write_text(yaml.safe_dump(body))
    r = CliRunner().invoke(main, ["run", "-w", str(ws), "--suite", "support", "--runner", "claude-sonnet-5.5-sim"])
    assert r.exit_code == 2 and "batch" in r.output
    assert not (ws / "reports" / "evals.sqlite").exists()


def test_cost_assumes_a_peak_rather_than_flat_traffic(ws: Path) -> None:
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "gpt-5", "--requests-per-day", "1000", "--input-tokens", "10", "--output-tokens", "10", "--json"])
    w = json.loads(r.output)["workload"]
    assert w["peak_hour_share_assumed"] is True and w["peak_hour_share"] == 0.1
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "gpt-5", "--requests-per-day", "1000", "--input-tokens", "10", "--output-tokens", "10"])
    assert "10% assumed" in r.output


def _hand_example_runners(ws: Path) -> None:
    """The issue's example: one local replica at $1,950 a month (1 GPU at $1,950 / 730 h), an API at $0.0022 a request
    (1,000 input tokens at $2.20 per million, no output)."""
    local = {"name": "local-7b", "provider": "openai_compatible", "model": "m", "base_url": "http://127.0.0.1:9/v1",
             "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 1950 / 730}}}
    hosted = {"name": "hosted", "provider": "openai", "model": "some-model", "pricing": {"api": {"input_per_mtok": 2.2, "output_per_mtok": 0}}}
    for r in (local, hosted):
        (ws / "runners" / f"{r['name']}.yaml").write_text(yaml.safe_dump(r))


HAND = ["--requests-per-month", "1000000", "--input-tokens", "1000", "--output-tokens", "0", "--peak-hour-share", "0.1", "--capacity", "local-7b=100000"]


def test_cost_route_pays_whole_replicas_the_issue_example(ws: Path) -> None:
    _hand_example_runners(ws)
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "local-7b", "-r", "hosted", *HAND, "--route", "local-7b=0.8", "--json"])
    assert r.exit_code == 0, r.output
    x = json.loads(r.output)["routes"]
    # (1,950 for the replica + 0.2 × 1,000,000 × $0.0022 = 440) / 1,000,000 = $0.00239 per request
    assert x["shares"] == {"local-7b": 0.8, "hosted": pytest.approx(0.2)}
    assert x["monthly_cost"] == pytest.approx(1950 + 440) and x["cost_per_request"] == pytest.approx(0.00239)
    vs = {c["runner"]: c["scenario_vs_alone"] for c in x["compared"]}
    # 0.00239 / 0.0022 − 1 = +8.6%: 9% DEARER than sending everything to the API
    assert vs["hosted"] == pytest.approx(0.00239 / 0.0022 - 1) and round(100 * vs["hosted"]) == 9
    text = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "local-7b", "-r", "hosted", *HAND, "--route", "local-7b=0.8"]).output
    assert "$0.00239 per request" in text and "+9% vs hosted alone" in text and "730 h" in text


def test_cost_cascade_local_answers_everything(ws: Path) -> None:
    _hand_example_runners(ws)
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "local-7b", "-r", "hosted", *HAND, "--cascade", "local-7b=0.2", "--json"])
    assert r.exit_code == 0, r.output
    [c] = json.loads(r.output)["cascades"]
    # the local replica carries all 1M requests ($1,950), 20% are sent on: 200,000 × $0.0022 = $440 → $0.00239 per request
    assert (c["escalate_to"], c["monthly_cost"], c["cost_per_request"]) == ("hosted", pytest.approx(2390), pytest.approx(0.00239))


def test_cost_route_refuses_bad_shares(ws: Path) -> None:
    _hand_example_runners(ws)
    base = ["cost", "-w", str(ws), "-r", "local-7b", "-r", "hosted", *HAND]
    r = CliRunner().invoke(main, [*base, "--route", "local-7b=0.7", "--route", "hosted=0.7"])
    assert r.exit_code == 2 and "add up to 1.4" in r.output
    r = CliRunner().invoke(main, [*base, "--route", "nobody=0.5"])
    assert r.exit_code == 2 and "not among the --runner options" in r.output


def test_cost_owned_vs_rented_uses_the_projected_utilisation(ws: Path) -> None:
    # llama-owned: 4 × A100-80GB bought for $80,000 over 36 months, 2 kW × PUE 1.3 × $0.15/kWh; catalogue rent for A100-80GB.
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "llama-owned", "--requests-per-month", "730000", "--input-tokens", "100", "--output-tokens", "50",
                                  "--peak-hour-share", "0.1", "--capacity", "llama-owned=10000", "--json"])
    assert r.exit_code == 0, r.output
    [o] = json.loads(r.output)["owned_vs_rented"]
    # 730,000/month = 1,000/h on average; peak 24,000/day × 0.1 = 2,400/h → 1 replica of 10,000/h; utilisation 1,000 / 10,000 = 10%
    assert o["replicas"] == 1 and o["projected_utilisation"] == pytest.approx(0.1)
    from evals.cost.catalogue import load_gpus

    rent = load_gpus().get("A100-80GB").cloud_price.usd_per_gpu_hour * 4
    # owned = 730 × (80,000 / 36 / 730 + 2 × 1.3 × 0.15 × 0.10) = 2,222.22 + 28.47; rented = 730 × 4 GPUs × catalogue price
    assert o["owned_monthly"] == pytest.approx(80000 / 36 + 730 * 2 * 1.3 * 0.15 * 0.1)
    assert o["rented_monthly"] == pytest.approx(730 * rent)
    assert "projected 10% utilisation" in o["verdict"] and "730 h" in o["verdict"]


def test_cost_refuses_a_capacity_above_the_physical_bound(ws: Path) -> None:
    from evals.measure.model import Frontier, OperatingPoint, Slo, Step
    from evals.measure.persist import save
    from evals.store.db import Store

    prof = api.find_runner(ws, "llama-3.3-70b-vllm")
    step = Step(mode="concurrency", level=8, requests=10, served=10, errors={}, window_s=10, requests_per_s=5, output_tokens_per_s=50_000,
                total_tokens_per_s=60_000, goodput_per_s=5, ttft_ms=None, itl_ms=None, e2e_ms=None, per_stream_output_tps=6_000, peak_in_flight=8,
                meets_slo=True, decode_bound_per_stream_tps=60, decode_bound_aggregate_tps=480)
    f = Frontier(runner=prof.name, model=prof.model, profile_hash=prof.profile_hash(), suite=None, simulated=False, streaming=True,
                 created_at="2026-12-01T00:00:00+00:00", mode="concurrency", slo=Slo(ttft_ms=500), steps=[step],
                 operating_point=OperatingPoint(mode="concurrency", level=8, requests_per_s=5, tasks_per_hour=18_000, output_tokens_per_s=50_000,
                                                ttft_ms=None, e2e_ms=None, basis="measured"),
                 flags=["above the bound"], notes=[], bound=None)
    st = Store(ws / "reports" / "evals.sqlite")
    save(st, f)
    st.close()
    args = ["cost", "-w", str(ws), "-r", prof.name, "--requests-per-day", "1000", "--input-tokens", "10", "--output-tokens", "10"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "above the physical decode bound" in r.output and "--allow-above-bound" in r.output
    r = CliRunner().invoke(main, [*args, "--allow-above-bound", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["projections"][0]["replicas"] == 1


def test_cost_flags_a_retired_model(ws: Path) -> None:
    old = {"name": "sonnet-45", "provider": "anthropic", "model": "claude-sonnet-4-5", "pricing": {"api": {"model": "claude-sonnet-4-5"}}}
    (ws / "runners" / "sonnet-45.yaml").write_text(yaml.safe_dump(old))
    args = ["cost", "-w", str(ws), "-r", "sonnet-45", "--requests-per-day", "1000", "--input-tokens", "10", "--output-tokens", "10"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "warning: runner sonnet-45" in r.output and "RETIRED by its vendor on 2026-11-30" in r.output
    d = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert "RETIRED" in d["retirement"]["sonnet-45"]
    # a current model carries no warning
    r = CliRunner().invoke(main, ["cost", "-w", str(ws), "-r", "claude-sonnet-5.5", *args[5:]])
    assert r.exit_code == 0 and "warning" not in r.output
