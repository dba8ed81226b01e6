"""Every OpenAI chat <-> Anthropic Messages mapping of a sample's request, one test each."""

from __future__ import annotations

import pytest

from evals.providers.base import GenerationParams
from evals.providers.translate import (
    RequestParams,
    Unsupported,
    anthropic_not_sent,
    block_to_part,
    mark_invalid,
    part_to_block,
    request_params,
    response_format_from_anthropic,
    text_tool_call,
    to_anthropic,
    to_anthropic_messages,
    to_anthropic_tool_choice,
    to_anthropic_tools,
    to_openai,
    tool_choice_from_anthropic,
    tools_from_anthropic,
)
from evals.suite.sample import Sample

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
PNG = "data:image/png;base64,iVBORw0KGgo="


HI = [{"role": "user", "content": "hi"}]


def _req(**kw: object) -> RequestParams:
    return RequestParams(max_tokens=100, temperature=None, **kw)  # type: ignore[arg-type]


def _sample(**kw: object) -> Sample:
    return Sample(id="s", input=HI, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- settings: sample wins, provenance kept


def test_sample_settings_win_and_provenance_is_recorded() -> None:
    params = GenerationParams(max_tokens=1024, temperature=0.0, stop=["END"])
    req = request_params(params, _sample(settings={"max_tokens": 50, "seed": 7, "parallel_tool_calls": False}, tools=[WEATHER], tool_choice="auto"))
    assert (req.max_tokens, req.temperature, req.stop, req.seed, req.parallel_tool_calls) == (50, 0.0, ["END"], 7, False)
    assert (req.tools, req.tool_choice) == ([WEATHER], "auto")
    assert req.origin == {"max_tokens": "sample", "temperature": "runner", "stop": "runner", "seed": "sample", "parallel_tool_calls": "sample"}


def test_runner_params_are_the_defaults() -> None:
    req = request_params(GenerationParams(max_tokens=300, top_p=0.9), _sample())
    assert (req.max_tokens, req.top_p, req.origin) == (300, 0.9, {"max_tokens": "runner", "temperature": "runner", "top_p": "runner"})


# ---------------------------------------------------------------- OpenAI side


def test_openai_kwargs_carry_tools_choice_format_and_settings() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}
    kw = to_openai(HI, _req(tools=[WEATHER], tool_choice="required", response_format=rf, stop=["x"], seed=3, parallel_tool_calls=True), model="m", max_tokens_field="max_completion_tokens")
    assert kw["tools"] == [WEATHER] and kw["tool_choice"] == "required" and kw["response_format"] == rf
    assert kw["max_completion_tokens"] == 100 and kw["stop"] == ["x"] and kw["seed"] == 3 and kw["parallel_tool_calls"] is True
    assert kw["stream_options"] == {"include_usage": True}


def test_openai_parallel_flag_only_with_tools() -> None:
    assert "parallel_tool_calls" not in to_openai(HI, _req(parallel_tool_calls=False), model="m")


def test_plain_runner_params_still_make_a_request() -> None:
    assert to_openai(HI, GenerationParams(max_tokens=5), model="m", stream=False) == {"model": "m", "messages": HI, "max_tokens": 5, "temperature": 0.0}
    assert to_anthropic(HI, GenerationParams(max_tokens=5), model="m", stream=False) == {"model": "m", "messages": HI, "max_tokens": 5}


def test_invalid_arguments_are_kept_raw_and_marked() -> None:
    good = {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    bad = {"id": "b", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}
    assert mark_invalid([good, bad]) == [good, {**bad, "invalid_json": True}]


# ---------------------------------------------------------------- tools and tool_choice


def test_tools_to_anthropic_and_back() -> None:
    anth = to_anthropic_tools([WEATHER])
    assert anth == [{"name": "get_weather", "description": "Current weather in a city", "input_schema": WEATHER["function"]["parameters"]}]
    assert tools_from_anthropic(anth) == [WEATHER]


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    (tool,) = to_anthropic_tools([{"type": "function", "function": {"name": "ping"}}])
    assert tool["input_schema"] == {"type": "object", "properties": {}}


def test_server_tools_cannot_be_imported() -> None:
    with pytest.raises(ValueError, match="server tools"):
        tools_from_anthropic([{"type": "web_search_20250305", "name": "web_search"}])


@pytest.mark.parametrize(
    ("openai", "parallel", "anthropic"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_both_directions(openai: object, parallel: bool | None, anthropic: dict) -> None:
    assert to_anthropic_tool_choice(openai, parallel) == anthropic  # type: ignore[arg-type]
    expected_back = "auto" if openai is None else openai
    assert tool_choice_from_anthropic(anthropic) == (expected_back, parallel)


def test_no_tool_choice_sends_none() -> None:
    assert to_anthropic_tool_choice(None, None) is None
    assert "tool_choice" not in to_anthropic(HI, _req(tools=[WEATHER]), model="m")


# ---------------------------------------------------------------- tool_use / tool_result turns, parallel calls

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Oslo and Rome?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "4C rain"},
    {"role": "tool", "tool_call_id": "c2", "content": "19C sun"},
    {"role": "user", "content": "Which is warmer?"},
]


def test_tool_turns_become_tool_use_and_tool_result_blocks() -> None:
    system, msgs = to_anthropic_messages(CONVERSATION)
    assert system == "Be brief."
    assert msgs == [
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "c2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "4C rain"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "19C sun"},
                {"type": "text", "text": "Which is warmer?"},
            ],
        },
    ]


def test_tool_turns_round_trip_through_the_anthropic_importer() -> None:
    from evals.traffic.anthropic_log import canonical_messages

    system, msgs = to_anthropic_messages(CONVERSATION)
    back, dropped = canonical_messages(system, msgs)
    assert dropped == 0
    assert back == CONVERSATION


def test_non_object_arguments_cannot_become_tool_use() -> None:
    bad = [{"role": "assistant", "content": "", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}]
    with pytest.raises(Unsupported, match=r"input\[0\].tool_calls\[0\].*object"):
        to_anthropic_messages(bad)


# ---------------------------------------------------------------- structured output, stop sequences, settings


def test_json_schema_becomes_output_config_and_back() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    kw = to_anthropic(HI, _req(response_format=rf), model="m", stream=False)
    assert kw["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert response_format_from_anthropic(kw["output_config"]) == rf


def test_json_mode_without_schema_is_refused_for_anthropic() -> None:
    with pytest.raises(Unsupported, match="json_object"):
        to_anthropic(HI, _req(response_format={"type": "json_object"}), model="m")


def test_stop_becomes_stop_sequences_and_sampling_settings_are_recorded_as_not_sent() -> None:
    req = request_params(GenerationParams(temperature=None), _sample(settings={"stop": ["##"], "temperature": 0.2, "max_tokens": 9}))
    kw = to_anthropic(HI, req, model="m")
    assert kw["stop_sequences"] == ["##"] and kw["max_tokens"] == 9 and "temperature" not in kw
    assert anthropic_not_sent(req)["temperature"] == "sample (not sent: the Messages API takes no temperature)"


# ---------------------------------------------------------------- images


def test_images_both_directions() -> None:
    b64 = part_to_block({"type": "image_url", "image_url": {"url": PNG}}, "p")
    assert b64 == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    url = part_to_block({"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}, "p")
    assert url == {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}}
    assert block_to_part(b64) == {"type": "image_url", "image_url": {"url": PNG}}
    assert block_to_part(url) == {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}


def test_image_message_to_anthropic() -> None:
    _, msgs = to_anthropic_messages([{"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert msgs[0]["content"][1]["type"] == "image"


@pytest.mark.parametrize(
    ("part", "why"),
    [
        ({"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}, "input_audio"),
        ({"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA=="}}, "image/bmp"),
        ({"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}, "data: URL or http"),
    ],
)
def test_parts_anthropic_cannot_take_are_refused(part: dict, why: str) -> None:
    with pytest.raises(Unsupported, match=why):
        to_anthropic_messages([{"role": "user", "content": [part]}])


# ---------------------------------------------------------------- tool calls spoken as text


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>', True),
        ('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}', True),
        ('{"name": "get_weather", "parameters": {"city": "Oslo"}}', True),
        ('{"name": "Ann", "arguments": "none"}', False),
        ("It is 4C and raining in Oslo.", False),
    ],
)
def test_text_tool_calls_are_detected(text: str, found: bool) -> None:
    assert (text_tool_call(text, [WEATHER]) is not None) is found


def test_no_tools_no_detection() -> None:
    assert text_tool_call('<tool_call>{"name": "x"}</tool_call>', None) is None
