"""`evals import` keeps the request: tools, tool_choice, response_format and the request's own settings, from both log formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.config import load_suite
from evals.suite.load import load_samples
from evals.traffic.errors import TrafficImportError
from evals.traffic.importer import import_traffic

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
SCHEMA = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}


def _import(tmp_path: Path, lines: list[dict], name: str = "s") -> dict:
    log = tmp_path / f"{name}.jsonl"
    log.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    import_traffic([log], name, tmp_path / "ws")
    return {s.metadata["source"]: s for s in load_samples(load_suite(tmp_path / "ws" / "tasks" / name))}


def test_openai_request_fields_become_sample_fields(tmp_path: Path) -> None:
    tool_line = {
        "request": {"model": "gpt", "messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [WEATHER], "tool_choice": "required", "max_completion_tokens": 50, "temperature": 0.3, "parallel_tool_calls": False},
        "response": {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}, "finish_reason": "tool_calls"}]},
    }
    schema_line = {
        "request": {"model": "gpt", "messages": [{"role": "user", "content": "Rate it"}], "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}, "stop": "END", "seed": 4},
        "response": {"choices": [{"message": {"role": "assistant", "content": '{"score": 3}'}, "finish_reason": "stop"}]},
    }
    s = _import(tmp_path, [tool_line, schema_line])
    tool, schema = s["s.jsonl:1"], s["s.jsonl:2"]
    assert tool.tools == [WEATHER] and tool.tool_choice == "required"
    assert tool.settings is not None and tool.settings.model_dump(exclude_none=True) == {"max_tokens": 50, "temperature": 0.3, "parallel_tool_calls": False}
    assert tool.reference == [{"name": "get_weather", "arguments": '{"city":"Oslo"}'}]  # JSON text in the file, data once loaded
    assert schema.response_format == {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}
    assert schema.settings is not None and schema.settings.model_dump(exclude_none=True) == {"stop": ["END"], "seed": 4}
    assert schema.tools is None and schema.tool_choice is None


def test_anthropic_request_fields_are_translated(tmp_path: Path) -> None:
    line = {
        "request": {
            "model": "claude",
            "max_tokens": 99,
            "stop_sequences": ["##"],
            "messages": [{"role": "user", "content": "Weather in Rome?"}],
            "tools": [{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
            "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
        },
        "response": {"content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "Rome"}}], "stop_reason": "tool_use"},
    }
    (sample,) = _import(tmp_path, [line]).values()
    assert sample.tools == [WEATHER]
    assert sample.tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    assert sample.response_format == {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    assert sample.settings is not None and sample.settings.model_dump(exclude_none=True) == {"max_tokens": 99, "stop": ["##"], "parallel_tool_calls": False}


def test_a_tool_choice_naming_an_absent_tool_is_a_skipped_line(tmp_path: Path) -> None:
    bad = {"request": {"model": "gpt", "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}}
    with pytest.raises(TrafficImportError, match=r"s.jsonl:1: tool_choice names 'nope'"):
        _import(tmp_path, [bad])


def test_image_parts_travel_and_linked_urls_are_redacted(tmp_path: Path) -> None:
    line = {
        "request": {"model": "gpt", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://cdn.example.com/u/jane.doe@example.com/photo.jpg", "detail": "low"}},
            {"type": "text", "text": "Is this under warranty?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
        ]}]},
        "response": {"choices": [{"message": {"role": "assistant", "content": "Yes."}, "finish_reason": "stop"}]},
    }
    (sample,) = _import(tmp_path, [line]).values()
    content = sample.input[0]["content"]
    assert [p["type"] for p in content] == ["image_url", "text", "image_url"]  # in place; the audio part is dropped and counted
    assert "jane.doe@example.com" not in content[0]["image_url"]["url"] and content[0]["image_url"]["detail"] == "low"
    assert content[2]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert sample.metadata["non_text_parts"] == 1


def test_the_same_conversation_with_other_tools_or_schema_is_not_a_duplicate(tmp_path: Path) -> None:
    """Dedupe keys on what the request offered as well as its messages: an agent turn offered other
    tools, or a request held to another schema, is another task (and is replayed as such)."""
    other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    messages = [{"role": "user", "content": "What should I pack for Oslo tomorrow?"}]

    def line(**request: object) -> dict:
        return {"request": {"model": "gpt", "messages": messages, **request}, "response": {"choices": [{"message": {"role": "assistant", "content": "A coat."}, "finish_reason": "stop"}]}}

    lines = [
        line(tools=[WEATHER]),
        line(tools=[WEATHER]),  # an exact repeat: dropped
        line(tools=[WEATHER, other]),
        line(tools=[WEATHER], tool_choice="required"),
        line(response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}),
        line(),
        line(),  # an exact repeat: dropped
    ]
    s = _import(tmp_path, lines)
    assert sorted(s) == ["s.jsonl:1", "s.jsonl:3", "s.jsonl:4", "s.jsonl:5", "s.jsonl:6"]
    assert s["s.jsonl:3"].tools == [WEATHER, other] and s["s.jsonl:4"].tool_choice == "required"
