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
    """Scorers that produce format checks flag, in their details, the failures production could see
    without a reference: JSON that breaks the schema, a label outside the label set; not a wrong value."""
    import asyncio

    from evals.scoring import build, registered
    from evals.suite.sample import Sample

    schema = {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}
    json_fn = build("json_schema", {"schema": schema, "match_reference": True})
    label_fn = build("label", {"labels": ["bug", "billing"]})
    money = Sample(id="m", input=[{"role": "user", "content": "refund?"}], reference={"amount": 3})
    ticket = Sample(id="t", input=[{"role": "user", "content": "triage"}], reference="bug")

    def details(fn, output, sample):  # type: ignore[no-untyped-def]
        sc = asyncio.run(fn(output, sample))
        assert not sc.passed and sc.error is None
        return sc.details

    assert details(json_fn, '{"amount": "three"}', money)["format_failed"] is True
    assert "format_failed" not in details(json_fn, '{"amount": 4}', money)  # valid JSON, wrong value
    assert details(label_fn, "no idea", ticket)["format_failed"] is True
    assert "format_failed" not in details(label_fn, "billing", ticket)  # a label, the wrong one
    assert registered()["label"].produces == {"labels", "format_check"}
    assert registered()["json_schema"].produces == {"format_check"} and registered()["exact"].produces == frozenset()


def test_scores_stored_before_scorers_declared_what_they_produce_are_backfilled() -> None:
    """Migration 008: old label/JSON score rows get the built-ins' declarations and the format flag."""
    import sqlite3

    from evals.store.migrations import MIGRATIONS, m008_score_produces

    db = sqlite3.connect(":memory:")
    for name, fn in MIGRATIONS:
        if name.startswith("008"):
            break
        fn(db)
    rows = [
        ("label", 0, '{"expected": "bug", "predicted": null}'),
        ("label", 0, '{"expected": "bug", "predicted": "billing"}'),
        ("json_schema", 0, '{"schema_errors": ["x"]}'),
        ("json_schema", 0, '{"mismatched": ["amount"]}'),
        ("exact", 0, "{}"),
    ]
    db.executemany("INSERT INTO scores VALUES ('r', 'x', ?, 0, ?, '{}', 1.0, 0, ?, '', NULL, ?, NULL, NULL)", [(str(i), s, p, d) for i, (s, p, d) in enumerate(rows)])
    m008_score_produces(db)
    got = [(r[0], r[1], r[2]) for r in db.execute("SELECT scorer, produces, json_extract(details_json, '$.format_failed') FROM scores ORDER BY CAST(sample_id AS INT)")]
    assert got == [
        ("label", "labels,format_check", 1), ("label", "labels,format_check", None),
        ("json_schema", "format_check", 1), ("json_schema", "format_check", None), ("exact", "", None),
    ]


# ---------------------------------------------------------------- one cost per completed task (issue 11)

WORKLOAD = {"requests_per_day": 20_000, "peak_hour_share": 0.1}


def _local_and_claude(tmp_path: Path, **local: Any) -> Path:
    claude = sim_runner("claude", "anthropic", accuracy={"default": 1.0})
    claude["pricing"] = {"api": {"model": "claude-sonnet-5-5"}}
    return write_workspace(tmp_path / "ws", {"local": sim_runner("local", accuracy={"default": 0.8}, **local), "claude": claude}, suite_extra={"workload": WORKLOAD})


def _all_attempt_throughput(store: Store, run_id: str, runner: str, concurrency: int = 8) -> tuple[float, int, int]:
    """Little's law over every attempt of every task: in flight × tasks ÷ the summed time of all attempts, per hour."""
    tasks = store.query("SELECT COUNT(*) n FROM attempts WHERE run_id=? AND runner=? AND final=1", (run_id, runner))[0]["n"]
    rows = store.query("SELECT COUNT(*) n, SUM(latency_ms) s FROM attempts WHERE run_id=? AND runner=? AND purpose='run'", (run_id, runner))[0]
    return min(concurrency, tasks) * tasks * 3_600_000 / rows["s"], tasks, rows["n"]


def test_one_cost_per_completed_task_in_summary_json_md_and_html(tmp_path: Path) -> None:
    """The self-hosted runner's cost per completed task is the at-volume figure, the same in every output."""
    import json as _json

    from evals.report.text import fmt_usd

    ws = _local_and_claude(tmp_path)
    out = api.run(workspace=ws, suite="mini", runners=["local", "claude"], reference="claude", quiet=True)
    assert out.report is not None and out.report_path is not None
    store = Store(ws / "reports" / "evals.sqlite")
    tph, tasks, _ = _all_attempt_throughput(store, out.run_id, "local")
    local = next(r for r in out.report.runners if r.name == "local")
    # 20,000 a day = 20,000 × 730 / 24 = 608,333 a month; the busiest hour 2,000 requests.
    monthly_requests = 20_000 * 730 / 24
    replicas = max(1, -(-2_000 // tph))
    # replicas × (4 GPUs × $2.00/h) × 730 h ÷ monthly requests ÷ pass rate (completed ÷ sent)
    expected = replicas * 4 * 2.0 * 730 / monthly_requests / (local.completed / tasks)
    assert local.cost_per_completed_task_usd == pytest.approx(expected)
    proj = next(p for p in out.report.projections if p.runner == "local")
    assert proj.cost_per_completed_task_usd == pytest.approx(expected) and proj.replicas == replicas
    # cost at full load is another figure under another name: $8/h ÷ capacity ÷ pass rate
    assert local.cost_at_full_load_per_completed_task_usd == pytest.approx(8.0 / tph / (local.completed / tasks))

    summary = _json.loads((out.report_path.parent / "summary.json").read_text())
    md = (out.report_path.parent / "summary.md").read_text()
    html = out.report_path.read_text()
    shown = fmt_usd(expected)
    assert next(r for r in summary["runners"] if r["name"] == "local")["cost_per_completed_task_usd"] == pytest.approx(expected)
    assert next(p for p in summary["projections"] if p["runner"] == "local")["cost_per_completed_task_usd"] == pytest.approx(expected)
    run_row = next(line for line in md.splitlines() if line.startswith("| local (candidate)"))
    volume_row = next(line for line in md.splitlines() if line.startswith("| local | self-hosted"))
    assert f"| {shown} |" in run_row and f"| {shown} |" in volume_row
    assert f'<td class="num">{shown}</td>' in html.split('id="cost-h"')[1].split("</table>")[0]  # the run table
    assert f"{shown} per completed task at 608,333 requests/month" in html  # the verdict sentence
    assert "Cost per completed task is what serving your monthly volume costs" in html and "730-hour month" in md


def test_throughput_counts_errors_and_retries(tmp_path: Path) -> None:
    ws = _local_and_claude(tmp_path, rate_limit_rate=0.3, retry_after_s=0.01)
    out = api.run(workspace=ws, suite="mini", runners=["local", "claude"], reference="claude", quiet=True)
    assert out.report is not None
    store = Store(ws / "reports" / "evals.sqlite")
    tph, tasks, attempts = _all_attempt_throughput(store, out.run_id, "local")
    assert attempts > tasks  # some tasks took more than one attempt: those attempts' time counts too
    local = next(r for r in out.report.runners if r.name == "local")
    assert local.throughput_tasks_per_hour == pytest.approx(tph)


def test_report_refuses_a_capacity_above_the_physical_bound(tmp_path: Path) -> None:
    from evals.measure.model import Frontier, OperatingPoint, Slo, Step
    from evals.measure.persist import save

    ws = _local_and_claude(tmp_path)
    out = api.run(workspace=ws, suite="mini", runners=["local", "claude"], reference="claude", quiet=True)
    prof = find_runner(ws, "local")
    step = Step(mode="concurrency", level=8, requests=10, served=10, errors={}, window_s=10, requests_per_s=5, output_tokens_per_s=50_000,
                total_tokens_per_s=60_000, goodput_per_s=5, ttft_ms=None, itl_ms=None, e2e_ms=None, per_stream_output_tps=6_000, peak_in_flight=8,
                meets_slo=True, decode_bound_per_stream_tps=60, decode_bound_aggregate_tps=480)
    f = Frontier(runner="local", model="local", profile_hash=prof.profile_hash(), suite="mini", simulated=True, streaming=True,
                 created_at="2026-12-01T00:00:00+00:00", mode="concurrency", slo=Slo(ttft_ms=500), steps=[step],
                 operating_point=OperatingPoint(mode="concurrency", level=8, requests_per_s=5, tasks_per_hour=18_000, output_tokens_per_s=50_000,
                                                ttft_ms=None, e2e_ms=None, basis="measured"),
                 flags=["above the bound"], notes=[], bound=None)
    store = Store(ws / "reports" / "evals.sqlite")
    save(store, f)
    m = analyse(store, out.run_id, find_suite(ws, "mini"))
    assert "local" not in {p.runner for p in m.projections}
    assert "above the physical decode bound" in m.capacity_refused["local"] and "--allow-above-bound" in m.capacity_refused["local"]
    assert next(r for r in m.runners if r.name == "local").cost_per_completed_task_usd is None
    knowingly = analyse(store, out.run_id, find_suite(ws, "mini"), allow_above_bound=True)
    assert next(p for p in knowingly.projections if p.runner == "local").capacity_tasks_per_hour == 18_000
    html = api.build_report(workspace=ws, run_id=out.run_id, out=tmp_path / "refused").read_text()
    assert "<strong>Capacity refused:</strong> runner &#39;local&#39;" in html
    html = api.build_report(workspace=ws, run_id=out.run_id, out=tmp_path / "knowingly", allow_above_bound=True).read_text()
    assert "Capacity refused" not in html and "18,000" in html


def test_export_allocates_the_at_volume_cost_to_self_hosted_answers(tmp_path: Path) -> None:
    import json as _json

    ws = _local_and_claude(tmp_path)
    out = api.run(workspace=ws, suite="mini", runners=["local", "claude"], reference="claude", quiet=True)
    assert out.report is not None
    path = api.export(workspace=ws, run_id=out.run_id, path=tmp_path / "answers.jsonl")
    rows = [_json.loads(line) for line in path.read_text().splitlines()]
    per_request = next(p for p in out.report.projections if p.runner == "local").cost_per_task_usd
    local = [r for r in rows if r["runner"] == "local"]
    assert local and all(r["answer_cost_usd"] == pytest.approx(per_request) and r["answer_cost_usd"] > 0 for r in local)
    assert all(r["answer_cost_basis"].startswith("ALLOCATION, not a bill") for r in local)
    assert all(r["answer_cost_basis"].startswith("billed") for r in rows if r["runner"] == "claude")


def test_run_warns_about_a_retired_model(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from evals.cli import main

    ws = write_workspace(tmp_path / "ws", {"old": sim_runner("old", "anthropic", accuracy={"default": 1.0})}, n_samples=4)  # priced as claude-sonnet-4-5
    r = CliRunner().invoke(main, ["run", "-w", str(ws), "--suite", "mini", "--runner", "old", "--quiet"])
    assert "warning: runner old" in r.output and "RETIRED by its vendor on 2026-11-30" in r.output
