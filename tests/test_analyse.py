"""The analyse stage over a real store: the figures behind the report, on unhappy paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from evals import api
from evals.config import ConfigError, find_runner, find_suite
from evals.providers.factory import MissingKeyError, api_key
from evals.report.analyse import analyse
from evals.run.orchestrate import execute_run
from evals.scoring.stage import score_run
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace

HOUSE_PRICES = "models:\n  house-model:\n    provider: anthropic\n    input: {inp}\n    output: {out}\n    source: our contract\n    as_of: 2026-11-01\n"


def _house_runner() -> dict[str, Any]:
    r = sim_runner("house-model", "anthropic", accuracy={"default": 1.0})
    r["pricing"] = {"api": {"model": "house-model"}}
    return r


def test_a_run_priced_from_a_file_reports_without_it_and_can_be_repriced(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", {"h": _house_runner()})
    cheap, dear = tmp_path / "cheap.yaml", tmp_path / "dear.yaml"
    cheap.write_text(HOUSE_PRICES.format(inp=1, out=2))
    dear.write_text(HOUSE_PRICES.format(inp=100, out=200))
    out = api.run(workspace=ws, suite="mini", runners=["h"], prices=cheap, quiet=True)
    assert out.report is not None
    cost = out.report.runners[0].cost_total_usd
    assert cost and cost > 0
    # the price file is gone from the command line: the stored prices carry the report and the regrade
    api.rescore(workspace=ws, run_id=out.run_id)
    store = Store(ws / "reports" / "evals.sqlite")
    assert analyse(store, out.run_id).runners[0].cost_total_usd == pytest.approx(cost)
    # re-pricing with another file changes the cost, not just its description
    repriced = analyse(store, out.run_id, None, dear).runners[0]
    assert repriced.cost_total_usd == pytest.approx(cost * 100)
    assert "$100 in" in repriced.cost_basis
    with pytest.raises(ConfigError, match="missing.yaml: file not found"):
        analyse(store, out.run_id, None, tmp_path / "missing.yaml")


def test_budget_stops_the_paying_runner_only_and_projection_counts_samples_sent(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"c": {**sim_runner("claude", "anthropic", accuracy={"default": 1.0}), "concurrency": 2}, "v": sim_runner("local", accuracy={"default": 1.0})})
    store = Store(ws / "reports" / "evals.sqlite")
    suite = find_suite(ws, "mini")
    s = execute_run(workspace=ws, suite=suite, runners=[find_runner(ws, "c"), find_runner(ws, "v")], store=store, quiet=True, budget_usd=0.03)
    assert s.results["c"].stopped_reason == "budget" and s.results["v"].stopped_reason is None
    score_run(store, s.run_id, suite)
    m = analyse(store, s.run_id, suite)
    c = next(r for r in m.runners if r.name == "c")
    v = next(r for r in m.runners if r.name == "v")
    assert v.answered == 40 and 0 < c.answered < 40 and c.statuses["not_run"] == 40 - c.answered
    proj = next(p for p in m.projections if p.runner == "c")
    # per task sent, not per sample in the suite: a budget stop must not halve the API's price
    assert proj.cost_per_task_usd == pytest.approx(c.cost_total_usd / c.answered)
    assert proj.cost_per_completed_task_usd == pytest.approx(c.cost_total_usd / c.completed)


def test_self_hosted_throughput_is_per_replica(tmp_path: Path, sim_factory: Any) -> None:
    a, b = sim_factory({"m": {"ttft_ms": 20}}), sim_factory({"m": {"ttft_ms": 20}})
    runner = {"provider": "openai_compatible", "model": "m", "base_urls": [a.base_url + "/v1", b.base_url + "/v1"], "concurrency": 8,
              "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}}
    ws = write_workspace(tmp_path, {"r": runner})
    store = Store(ws / "reports" / "evals.sqlite")
    s = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "r")], store=store, quiet=True)
    assert a.stats()["requests"] > 0 and b.stats()["requests"] > 0
    lat = [r["latency_ms"] for r in store.query("SELECT latency_ms FROM attempts WHERE run_id=? AND status='ok'", (s.run_id,))]
    r = analyse(store, s.run_id).runners[0]
    # 8 in flight over 2 replicas: each replica carries 4
    assert r.throughput_tasks_per_hour == pytest.approx(8 * 3_600_000 / float(np.mean(lat)) / 2)


def test_a_named_key_variable_that_is_unset_fails_for_self_hosted_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_VLLM_KEY", raising=False)
    ws = write_workspace(tmp_path, {"v": {"provider": "openai_compatible", "model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_VLLM_KEY",
                                           "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}}})
    with pytest.raises(MissingKeyError, match="MY_VLLM_KEY"):
        api_key(find_runner(ws, "v"))
    p = ws / "runners" / "v.yaml"
    body = yaml.safe_load(p.read_text())
    del body["api_key_env"]
    p.write_text(yaml.safe_dump(body))
    assert api_key(find_runner(ws, "v")) is None  # a local server without a key is fine


def test_a_profile_without_a_busiest_hour_assumes_one_and_says_so() -> None:
    from evals.report.economics import DEFAULT_WORKLOAD, workload_used

    wl = workload_used({"requests_per_day": 1000, "peak_hour_share": None, "source": "imported logs"}, {"a": 3, "b": 1})
    assert wl.peak_hour_share == DEFAULT_WORKLOAD["peak_hour_share"] and wl.estimated
    assert "busiest-hour share not in the profile" in wl.source
    assert wl.category_share == {"a": 0.75, "b": 0.25}
    given = workload_used({"requests_per_day": 1000, "peak_hour_share": 0.2}, {"a": 1})
    assert given.peak_hour_share == 0.2 and not given.estimated


def test_format_failures_are_those_visible_without_a_reference() -> None:
    from evals.report.economics import format_failed

    assert format_failed("json_schema", '{"schema_errors": ["x"]}')
    assert not format_failed("json_schema", '{"mismatched": ["amount"]}')
    assert format_failed("label", '{"expected": "bug", "predicted": null}')
    assert not format_failed("label", '{"expected": "bug", "predicted": "billing"}')
    assert not format_failed("exact", "{}")
