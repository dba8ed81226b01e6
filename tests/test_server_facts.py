"""Server facts: the Prometheus parser against real vLLM /metrics text, the
deltas a run records, the simulator's /metrics and /version, what a run
stores, and answers that come without usage (servers that send none in streams)."""

from __future__ import annotations

import asyncio
import math
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from evals.config import find_runner, find_suite
from evals.providers.base import GenerationParams, Timeouts
from evals.providers.launch import free_port
from evals.providers.openai_chat import OpenAIChatProvider
from evals.providers.server_facts import PrometheusParseError, describe_server, metric_deltas, parse_prometheus, scrape_metrics, server_root, snapshot
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import write_workspace

FIXTURE = Path(__file__).parent / "fixtures" / "vllm_metrics.txt"
SELF_HOSTED = {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}}


def _compatible(sim: Any, model: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "openai_compatible", "model": model, "base_url": sim.base_url + "/v1", "concurrency": 8, "pricing": SELF_HOSTED, **extra}


# ---------------------------------------------------------------- parsing


def test_real_vllm_metrics_parse() -> None:
    exp = parse_prometheus(FIXTURE.read_text())
    families = {f.name: f for f in exp.families}
    assert families["vllm:time_to_first_token_seconds"].type == "histogram"
    assert families["vllm:prefix_cache_queries"].type == "counter"  # a counter's family name drops _total
    assert families["vllm:kv_cache_usage_perc"].documentation == "KV-cache usage. 1 means 100 percent usage."
    assert exp.total("vllm:num_requests_running") == 8.0
    assert exp.total("vllm:generation_tokens_total") == 27453.0
    assert exp.total("vllm:request_success_total") == 132.0  # stop + length + abort
    assert [s.labels["finished_reason"] for s in exp.find("vllm:request_success_total")] == ["stop", "length", "abort"]
    assert exp.find("vllm:kv_cache_usage_perc")[0].labels == {"engine": "0", "model_name": "zai-org/GLM-4.5"}
    assert exp.total("vllm:kv_cache_usage_perc") == pytest.approx(9.75010481363281e-06)
    assert exp.total("vllm:gpu_prefix_cache_queries_created") == pytest.approx(1.7537953269352946e09)
    buckets = {float(s.labels["le"]): s.value for s in families["vllm:time_to_first_token_seconds"].samples if s.name.endswith("_bucket")}
    assert buckets[0.02] == 13.0 and buckets[0.1] == 140.0
    assert exp.total("vllm:time_to_first_token_seconds_count") == 140.0 and exp.total("vllm:time_to_first_token_seconds_sum") is None  # the source cut _sum
    assert "vllm:request_generation_tokens_bucket" in {s.name for s in families["vllm:request_generation_tokens"].samples}
    facts = snapshot(exp)
    assert facts["kv_cache_usage"] == pytest.approx(9.75010481363281e-06)
    assert facts["prefix_cache_queries"] == 32.0 and facts["requests_running"] == 8.0
    assert "prompt_tokens" not in facts  # absent from the page: left out, never 0


def test_parser_handles_escapes_timestamps_and_special_values() -> None:
    text = "\n".join(
        [
            "# a free comment",
            "# HELP x_total Line one\\nline two with a \\\\ backslash.",
            "# TYPE x_total counter",
            'x_total{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",} 3 1700000000000',
            "   ",
            'y{ a = "1" , b="2"} +Inf',
            "z NaN",
            "w -1.5e-3",
        ]
    )
    exp = parse_prometheus(text)
    x = exp.find("x_total")[0]
    assert x.labels == {"path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb"} and x.value == 3.0
    assert exp.families[0].name == "x" and exp.families[0].documentation == "Line one\nline two with a \\ backslash."
    assert exp.find("y")[0].labels == {"a": "1", "b": "2"} and math.isinf(exp.find("y")[0].value)
    assert math.isnan(exp.find("z")[0].value) and exp.total("w") == -0.0015
    assert "z" not in snapshot(exp)


@pytest.mark.parametrize(
    "bad",
    ['x{a="1} 2', "x{a=1} 2", "x", "x notanumber", "9x 1", 'x{a="1" b="2"} 1'],
)
def test_parser_rejects_malformed_lines_with_their_number(bad: str) -> None:
    with pytest.raises(PrometheusParseError, match="line 2"):
        parse_prometheus(f"ok 1\n{bad}\n")


# ---------------------------------------------------------------- deltas


def test_deltas_over_a_run() -> None:
    before = {"prompt_tokens": 1000.0, "generation_tokens": 50.0, "preemptions": 1.0, "prefix_cache_queries": 1000.0, "prefix_cache_hits": 100.0, "requests_finished": 10.0, "queue_time_sum_s": 2.0, "queue_time_count": 10.0, "kv_cache_usage": 0.0}
    after = {"prompt_tokens": 3000.0, "generation_tokens": 450.0, "preemptions": 3.0, "prefix_cache_queries": 3000.0, "prefix_cache_hits": 1600.0, "requests_finished": 30.0, "queue_time_sum_s": 6.0, "queue_time_count": 30.0, "ttft_sum_s": 2.0, "ttft_count": 20.0, "kv_cache_usage": 0.25, "requests_running": 2.0, "requests_waiting": 0.0}
    d = metric_deltas(before, after)
    assert d["prompt_tokens"] == 2000 and d["generation_tokens"] == 400 and d["preemptions"] == 2 and d["requests_finished"] == 20
    assert d["prefix_cache_hit_rate"] == pytest.approx(0.75)
    assert d["queue_time_mean_s"] == pytest.approx(0.2)
    assert d["ttft_mean_s"] == pytest.approx(0.1)  # a series created during the run counts from 0
    assert d["kv_cache_usage_after"] == 0.25 and d["requests_running_after"] == 2 and d["requests_waiting_after"] == 0


def test_a_restarted_server_gives_no_delta_rather_than_a_negative_one() -> None:
    d = metric_deltas({"prompt_tokens": 5000.0, "generation_tokens": 10.0}, {"prompt_tokens": 40.0, "generation_tokens": 12.0})
    assert "prompt_tokens" not in d and d["generation_tokens"] == 2


# ---------------------------------------------------------------- the simulator's endpoints


def test_sim_exposes_vllm_metrics_and_version(sim_factory: Any) -> None:
    sim = sim_factory({"m": {}, 'odd"name': {}})
    url = sim.base_url + "/v1"
    before, why = scrape_metrics(url, "k")
    assert why is None and before is not None and before["prompt_tokens"] == 0  # every series exists from the start
    provider = OpenAIChatProvider(name="r", model="m", base_url=url, api_key="k", timeouts=Timeouts())
    system = {"role": "system", "content": "You triage support tickets. Answer with one label."}

    async def ask() -> list[Any]:
        try:
            return [await provider.complete([system, {"role": "user", "content": f"ticket {i}"}], GenerationParams(max_tokens=50)) for i in range(3)]
        finally:
            await provider.aclose()

    answers = asyncio.run(ask())
    after, _ = scrape_metrics(url, "k")
    assert after is not None
    d = metric_deltas(before, after)
    assert d["prompt_tokens"] == sum(c.usage.input_tokens for c in answers)
    assert d["generation_tokens"] == sum(c.usage.output_tokens for c in answers)
    assert d["requests_finished"] == 3 and d["preemptions"] == 0 and d["queue_time_mean_s"] == 0
    assert 0 < d["prefix_cache_hit_rate"] < 1  # the shared system prompt hits from the second request on
    assert d["kv_cache_usage_after"] == 0 and d["requests_running_after"] == 0
    text = urllib.request.urlopen(sim.base_url + "/metrics").read().decode()
    assert text.startswith("# SIMULATED")
    assert parse_prometheus(text).find("vllm:prompt_tokens_total")[1].labels["model_name"] == 'odd"name'
    facts = describe_server(url, "k")
    assert facts["version"] == "sim-0.1.0"
    assert {"id": "m", "max_model_len": 32768} in facts["models"]


def test_a_server_without_those_endpoints_gives_fewer_facts_and_no_error() -> None:
    url = f"http://127.0.0.1:{free_port('127.0.0.1')}/v1"  # nothing listens there
    facts = describe_server(url, None)
    assert facts["version"] is None and facts["models"] == [] and set(facts["unavailable"]) == {"version", "models"}
    snap, why = scrape_metrics(url, None)
    assert snap is None and why and why.startswith("GET /metrics")
    assert server_root("http://h:8000/v1/") == "http://h:8000" and server_root("http://h:11434") == "http://h:11434"


# ---------------------------------------------------------------- stored by a run


def test_a_run_stores_its_server_facts(tmp_path: Path, sim_factory: Any) -> None:
    sim = sim_factory({"model-a": {"accuracy": {"default": 1.0}}})
    ws = write_workspace(tmp_path, {"a": _compatible(sim, "model-a")}, n_samples=12)
    store = Store(ws / "reports" / "evals.sqlite")
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "a")], store=store, quiet=True)
    facts = {f["kind"]: f for f in store.server_facts(summary.run_id, "a")}
    assert set(facts) == {"server", "metrics"}
    assert facts["server"]["base_url"] == sim.base_url + "/v1" and facts["server"]["data"]["version"] == "sim-0.1.0"
    deltas = facts["metrics"]["data"]["deltas"]
    sent = store.query("SELECT SUM(input_tokens) inp, SUM(output_tokens) outp, COUNT(*) n FROM attempts WHERE run_id=?", (summary.run_id,))[0]
    assert deltas["prompt_tokens"] == sent["inp"] and deltas["generation_tokens"] == sent["outp"] and deltas["requests_finished"] == sent["n"] == 12
    assert "002_server_facts" in store.applied_migrations()
    store.close()


# ---------------------------------------------------------------- no usage in streams


def test_a_stream_without_usage_is_ok_with_unknown_tokens(sim_factory: Any) -> None:
    sim = sim_factory({"m": {"quirks": ["no_stream_usage"]}})
    provider = OpenAIChatProvider(name="r", model="m", base_url=sim.base_url + "/v1", api_key="k", timeouts=Timeouts())

    async def ask() -> Any:
        try:
            return await provider.complete([{"role": "user", "content": "hello"}], GenerationParams(max_tokens=50))
        finally:
            await provider.aclose()

    c = asyncio.run(ask())
    assert c.status.value == "ok" and c.text and c.finish_reason == "stop"
    assert c.usage.input_tokens is None and c.usage.output_tokens is None  # unknown, not 0
    assert c.timing.ttft_ms is not None and c.timing.output_tps is None


def test_a_run_notes_missing_usage_and_its_cost_does_not_depend_on_it(tmp_path: Path, sim_factory: Any) -> None:
    sim = sim_factory({"quirky": {"quirks": ["no_stream_usage"]}, "plain": {}})
    ws = write_workspace(tmp_path, {"q": _compatible(sim, "quirky"), "p": _compatible(sim, "plain")}, n_samples=8)
    store = Store(ws / "reports" / "evals.sqlite")
    runners = [find_runner(ws, "q"), find_runner(ws, "p")]
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=runners, store=store, quiet=True)
    rows = store.query("SELECT runner, status, input_tokens, output_tokens, cost_usd FROM attempts WHERE run_id=?", (summary.run_id,))
    quirky = [r for r in rows if r["runner"] == "q"]
    assert len(quirky) == 8 and all(r["status"] == "ok" and r["input_tokens"] is None and r["output_tokens"] is None for r in quirky)
    assert all(r["input_tokens"] is not None for r in rows if r["runner"] == "p")
    notes = [f for f in store.server_facts(summary.run_id) if f["kind"] == "usage_missing"]
    assert [(n["runner"], n["data"]["answers"]) for n in notes] == [("q", 8)]
    assert "usage_missing" in notes[0]["data"]["note"]
    # self-hosted: paid by the hour, so the missing counts change nothing
    assert all(r["cost_usd"] == 0 for r in quirky)
    # self-hosted cost comes from hours, throughput and completed tasks (so the run is scored first), never
    # from tokens: the runner without token counts still has one
    from evals.report.analyse import analyse
    from evals.scoring.base import ScoringContext
    from evals.scoring.stage import score_run

    score_run(store, summary.run_id, find_suite(ws, "mini"), ScoringContext())
    costs = {r.name: r.cost_total_usd for r in analyse(store, summary.run_id).runners}
    assert costs["q"] is not None and costs["q"] > 0 and costs["p"] is not None
    store.close()
