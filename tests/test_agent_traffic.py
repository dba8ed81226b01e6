"""Agent traffic end to end: import -> run -> score through the real SDKs, both protocols, streamed and not.

Tool samples (parallel calls, a tool-result turn) and structured-output samples are imported from an
OpenAI and an Anthropic log, run against the simulated server, and graded by tool_call and
response_schema; the requests the server received are checked against the samples.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.config import SimBehaviour, find_runner, find_suite
from evals.providers.anthropic_messages import AnthropicProvider
from evals.providers.base import Completion, GenerationParams, Status, Timeouts
from evals.providers.translate import request_params
from evals.run.orchestrate import execute_run
from evals.scoring.stage import score_run
from evals.sim import SimServer
from evals.store.db import Store
from evals.suite.load import load_samples
from evals.suite.sample import Sample
from evals.traffic.importer import import_traffic

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}}, "required": ["city"]}}}
REFUND = {"type": "function", "function": {"name": "refund", "parameters": {"type": "object", "properties": {"order": {"type": "string"}, "amount": {"type": "number"}}, "required": ["order", "amount"]}}}
RATING = {"type": "object", "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative"]}, "score": {"type": "integer"}}, "required": ["sentiment", "score"], "additionalProperties": False}


def _call(i: str, name: str, **args: Any) -> dict[str, Any]:
    return {"id": i, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def _openai_log() -> list[dict[str, Any]]:
    tools = [WEATHER, REFUND]
    parallel = {
        "request": {"model": "gpt-x", "metadata": {"category": "tools"}, "messages": [{"role": "user", "content": "Weather in Oslo and in Rome, in C?"}], "tools": tools, "tool_choice": "auto", "max_tokens": 200},
        "response": {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [_call("a", "get_weather", city="Oslo", unit="C"), _call("b", "get_weather", city="Rome", unit="C")]}, "finish_reason": "tool_calls"}]},
    }
    forced = {
        "request": {"model": "gpt-x", "metadata": {"category": "tools"}, "messages": [{"role": "system", "content": "You are a support agent."}, {"role": "user", "content": "Refund 12.50 on order A-77 please"}], "tools": tools, "tool_choice": {"type": "function", "function": {"name": "refund"}}, "max_tokens": 120, "stop": ["###"]},
        "response": {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [_call("c", "refund", order="A-77", amount=12.5)]}, "finish_reason": "tool_calls"}]},
    }
    result_turn = {
        "request": {
            "model": "gpt-x",
            "metadata": {"category": "followup"},
            "tools": tools,
            "messages": [
                {"role": "user", "content": "Is it raining in Bergen?"},
                {"role": "assistant", "content": None, "tool_calls": [_call("d", "get_weather", city="Bergen")]},
                {"role": "tool", "tool_call_id": "d", "content": "rain, 7C"},
                {"role": "user", "content": "So should I bring an umbrella to Bergen?"},
            ],
        },
        "response": {"choices": [{"message": {"role": "assistant", "content": "Yes, it is raining in Bergen."}, "finish_reason": "stop"}]},
    }
    schema = {
        "request": {"model": "gpt-x", "metadata": {"category": "structured"}, "messages": [{"role": "user", "content": "Rate: the delivery was late and broken."}], "response_format": {"type": "json_schema", "json_schema": {"name": "rating", "schema": RATING, "strict": True}}, "max_tokens": 60},
        "response": {"choices": [{"message": {"role": "assistant", "content": '{"sentiment": "negative", "score": 1}'}, "finish_reason": "stop"}]},
    }
    return [parallel, forced, result_turn, schema]


def _anthropic_log() -> list[dict[str, Any]]:
    tool = {
        "request": {
            "model": "claude-x",
            "max_tokens": 150,
            "metadata": {"category": "tools"},
            "messages": [{"role": "user", "content": "What's the weather in Lima?"}],
            "tools": [{"name": "get_weather", "description": "Weather now", "input_schema": WEATHER["function"]["parameters"]}],
            "tool_choice": {"type": "any"},
        },
        "response": {"content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Lima"}}], "stop_reason": "tool_use"},
    }
    schema = {
        "request": {"model": "claude-x", "max_tokens": 80, "metadata": {"category": "structured"}, "messages": [{"role": "user", "content": "Rate: great service, fast."}], "output_config": {"format": {"type": "json_schema", "schema": RATING}}},
        "response": {"content": [{"type": "text", "text": '{"sentiment": "positive", "score": 5}'}], "stop_reason": "end_turn"},
    }
    return [tool, schema]


def _runner(name: str, model: str, protocol: str, stream: bool, url: str, **behaviour: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "simulated",
        "model": model,
        "base_url": url,
        "stream": stream,
        "concurrency": 4,
        "params": {"max_tokens": 512, "temperature": 0.0},
        "simulate": {"protocol": protocol, "ttft_ms": 0, "tokens_per_second": 1e9, **behaviour},
        "retry": {"max_attempts": 1},
        "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}},
    }


RUNNERS = [("oa-stream", "openai", True), ("oa-whole", "openai", False), ("an-stream", "anthropic", True), ("an-whole", "anthropic", False)]
MODELS = {"right": {"accuracy": {"default": 1.0}}, "wrong": {"accuracy": {"default": 0.0}}, "textcalls": {"accuracy": {"default": 1.0}, "quirks": ["tool_calls_as_text"]}}


@pytest.fixture
def agent_ws(tmp_path: Path) -> tuple[Path, list[Sample]]:
    for name, lines in (("openai.jsonl", _openai_log()), ("anthropic.jsonl", _anthropic_log())):
        (tmp_path / name).write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    ws = tmp_path / "ws"
    import_traffic([tmp_path / "openai.jsonl", tmp_path / "anthropic.jsonl"], "agent", ws)
    suite_file = ws / "tasks" / "agent" / "suite.yaml"
    suite = yaml.safe_load(suite_file.read_text())
    suite["categories"] = {"tools": {"scorers": [{"name": "tool_call"}]}, "structured": {"scorers": [{"name": "response_schema"}]}, "followup": {"scorers": [{"name": "contains", "args": {"any": ["raining"]}}]}}
    suite_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    return ws, load_samples(find_suite(ws, "agent"))


def _run(ws: Path, samples: list[Sample], runners: list[dict[str, Any]], server: SimServer) -> tuple[Store, str]:
    (ws / "runners").mkdir(exist_ok=True)
    for r in runners:
        (ws / "runners" / f"{r['name']}.yaml").write_text(yaml.safe_dump(r, sort_keys=False))
    store = Store(ws / "reports" / "evals.sqlite")
    suite = find_suite(ws, "agent")
    summary = execute_run(workspace=ws, suite=suite, runners=[find_runner(ws, r["name"]) for r in runners], store=store, quiet=True)
    score_run(store, summary.run_id, suite)
    return store, summary.run_id


def test_import_run_score_round_trip_both_protocols_streamed_and_not(agent_ws: tuple[Path, list[Sample]]) -> None:
    ws, samples = agent_ws
    assert sorted(s.category for s in samples) == ["followup", "structured", "structured", "tools", "tools", "tools"]
    behaviours = {m: SimBehaviour.model_validate({"ttft_ms": 0, "tokens_per_second": 1e9, **b}) for m, b in MODELS.items()}
    with SimServer(behaviours, samples) as server:
        runners = [_runner(name, "right", protocol, stream, server.base_url) for name, protocol, stream in RUNNERS]
        store, run_id = _run(ws, samples, runners, server)
        received = server.received()

    outcomes = store.query("SELECT runner, sample_id, passed FROM outcomes WHERE run_id=?", (run_id,))
    assert len(outcomes) == 4 * 6 and all(o["passed"] == 1 for o in outcomes), [o for o in outcomes if not o["passed"]]
    # every tool answer kept its calls, streamed or not: the parallel sample made two
    parallel = next(s for s in samples if s.input[-1]["content"].startswith("Weather in Oslo"))
    for name, _, _ in RUNNERS:
        (row,) = store.query("SELECT tool_calls_json, finish_reason FROM attempts WHERE run_id=? AND runner=? AND sample_id=?", (run_id, name, parallel.id))
        calls = json.loads(row["tool_calls_json"])
        assert [json.loads(c["function"]["arguments"])["city"] for c in calls] == ["Oslo", "Rome"]
        assert row["finish_reason"] in ("tool_calls", "tool_use")

    # the request the server received carries the sample's tools, tool_choice, response_format and max_tokens
    forced = next(s for s in samples if s.tool_choice == {"type": "function", "function": {"name": "refund"}})
    # OpenAI bodies keep the system message in `messages`; Anthropic ones move it to `system`
    sent = [b for b in received if "system" not in b and b["messages"][-1].get("content") == "Refund 12.50 on order A-77 please"]
    assert len(sent) == 2  # streamed and whole OpenAI runners
    for b in sent:
        assert b["tools"] == forced.tools and b["tool_choice"] == forced.tool_choice and b["max_tokens"] == 120 and b["stop"] == ["###"]
    anth = [b for b in received if b.get("system") == "You are a support agent."]
    assert len(anth) == 2
    for b in anth:
        assert b["tool_choice"] == {"type": "tool", "name": "refund"} and b["max_tokens"] == 120 and b["stop_sequences"] == ["###"]
        assert [t["name"] for t in b["tools"]] == ["get_weather", "refund"] and b["tools"][1]["input_schema"] == REFUND["function"]["parameters"]
    rating = [b for b in received if b["messages"][-1].get("content") == "Rate: the delivery was late and broken."]
    assert len(rating) == 4
    for b in rating:
        assert b.get("response_format", {}).get("json_schema", {}).get("schema") == RATING or b.get("output_config") == {"format": {"type": "json_schema", "schema": RATING}}
        assert b["max_tokens"] == 60  # the sample's own limit won over the runner's 512
    # the tool-result turn reached Anthropic as tool_use / tool_result blocks
    followup = [b for b in received if "system" not in b and "output_config" not in b and any(isinstance(m.get("content"), list) and any(x.get("type") == "tool_result" for x in m["content"]) for m in b["messages"])]
    assert len(followup) == 2

    # the export carries each answer's tool calls and the request it answered
    from evals.store.export import export_run

    rows = [json.loads(x) for x in export_run(store, run_id, ws / "out.jsonl").read_text().splitlines()]
    exported = next(r for r in rows if r["runner"] == "an-whole" and r["sample_id"] == parallel.id)
    assert [c["function"]["name"] for c in exported["tool_calls"]] == ["get_weather", "get_weather"] and exported["request"]["tool_choice"] == "auto"

    # which setting won is recorded with the request each attempt points at
    (req,) = store.query("SELECT r.request_json FROM attempts a JOIN requests r USING (request_key) WHERE a.run_id=? AND a.runner='oa-stream' AND a.sample_id=?", (run_id, forced.id))
    assert json.loads(req["request_json"])["origin"] == {"max_tokens": "sample", "stop": "sample", "temperature": "runner"}
    (req,) = store.query("SELECT r.request_json FROM attempts a JOIN requests r USING (request_key) WHERE a.run_id=? AND a.runner='an-stream' AND a.sample_id=?", (run_id, forced.id))
    assert json.loads(req["request_json"])["origin"]["temperature"] == "runner (not sent: the Messages API takes no temperature)"


def test_wrong_calls_fail_with_the_difference_named(agent_ws: tuple[Path, list[Sample]]) -> None:
    ws, samples = agent_ws
    behaviours = {m: SimBehaviour.model_validate({"ttft_ms": 0, "tokens_per_second": 1e9, **b}) for m, b in MODELS.items()}
    with SimServer(behaviours, samples) as server:
        store, run_id = _run(ws, samples, [_runner("wrong", "wrong", "openai", True, server.base_url), _runner("text", "textcalls", "openai", True, server.base_url)], server)
    tool_ids = {s.id for s in samples if s.category == "tools"}
    wrong = [r for r in store.query("SELECT sample_id, passed, explanation, details_json FROM scores WHERE run_id=? AND runner='wrong' AND scorer='tool_call'", (run_id,))]
    assert {r["sample_id"] for r in wrong} == tool_ids and not any(r["passed"] for r in wrong)
    # each explanation names the tool or the argument that differs
    assert all(("called '" in r["explanation"]) or (": expected" in r["explanation"]) for r in wrong), [r["explanation"] for r in wrong]
    assert all(json.loads(r["details_json"])["expected"] for r in wrong)
    text = store.query("SELECT passed, explanation FROM scores WHERE run_id=? AND runner='text' AND scorer='tool_call'", (run_id,))
    assert text and all(not r["passed"] and "check --tool-call-parser" in r["explanation"] for r in text)
    # and the run itself reports the server: each tool-call sample was answered with markup as text (the follow-up, answered in prose, is not)
    (fact,) = [f for f in store.server_facts(run_id, "text") if f["kind"] == "tool_calls_as_text"]
    offered = sum(1 for s in samples if s.tools and s.category in ("tools",))
    assert fact["data"]["answers"] == offered and "check --tool-call-parser" in fact["data"]["note"]
    assert not [f for f in store.server_facts(run_id, "wrong") if f["kind"] == "tool_calls_as_text"]

    # the report: reference and candidate calls side by side, and each tool's pass rate
    from evals.report.analyse import analyse

    model = analyse(store, run_id, find_suite(ws, "agent"))
    rows = [f for f in model.failures if f.runner == "wrong" and f.sample_id in tool_ids]
    assert len(rows) == len(tool_ids)
    for f in rows:
        assert f.expected is not None and f.expected.split("(")[0] in {"get_weather", "refund"}
        assert "(" in f.output and f.output.split("(")[0] in {"get_weather", "refund"}, f.output
    (row,) = [x for x in model.servers if x.runner == "text"]
    assert "check --tool-call-parser" in row.unavailable["parsed tool calls"]
    cm = model.confusion["wrong"]  # one scorer produces labels here: keyed by runner alone
    # every tool call of the always-wrong model fails, whichever tool was expected
    expected_tools = {k: v for k, v in cm["per_label"].items() if v["support"]}
    assert expected_tools and all(v["pass_rate"] == 0.0 for v in expected_tools.values())
    assert all(v["pass_rate"] is None for k, v in cm["per_label"].items() if k not in expected_tools)  # only ever predicted


def test_runner_params_are_defaults_and_the_key_covers_the_request(agent_ws: tuple[Path, list[Sample]]) -> None:
    from evals.run.keys import request_identity, request_key

    ws, samples = agent_ws
    forced = next(s for s in samples if s.tool_choice is not None and s.tool_choice != "auto" and s.tool_choice != "required")
    profile = find_runner_from(ws, _runner("r", "right", "openai", True, "http://127.0.0.1:1"))
    p = request_params(profile.params, forced)
    assert (p.max_tokens, p.stop, p.temperature) == (120, ["###"], 0.0)
    ident = request_identity(profile)
    base = request_key(ident, forced.input, forced.request_fields())
    for change in ({"tool_choice": "auto"}, {"tools": [REFUND, WEATHER]}, {"settings": {"max_tokens": 121, "stop": ["###"]}}, {"response_format": {"type": "json_object"}, "tool_choice": None}):
        other = Sample.model_validate({**forced.model_dump(), **change})
        assert request_key(ident, other.input, other.request_fields()) != base, change
    plain = Sample(id="p", input=[{"role": "user", "content": "hi"}])
    assert request_key(ident, plain.input, plain.request_fields()) == request_key(ident, plain.input)  # old keys stay valid


def find_runner_from(ws: Path, body: dict[str, Any]) -> Any:
    (ws / "runners").mkdir(exist_ok=True)
    (ws / "runners" / f"{body['name']}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    return find_runner(ws, body["name"])


def test_a_request_anthropic_cannot_honour_is_a_per_sample_error() -> None:
    sample = Sample(id="j", input=[{"role": "user", "content": "json please"}], response_format={"type": "json_object"})

    async def ask() -> Completion:
        # port 9 (discard) answers nothing: a request that were sent would be a connection error, not bad_request
        provider = AnthropicProvider(name="a", model="m", base_url="http://127.0.0.1:9", api_key="k", timeouts=Timeouts())
        try:
            return await provider.complete(sample.input, request_params(GenerationParams(), sample))
        finally:
            await provider.aclose()

    c = asyncio.run(ask())
    assert c.status is Status.error and c.error_kind == "bad_request" and "json_object" in (c.error or "")
