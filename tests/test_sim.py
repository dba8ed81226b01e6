"""Protocol tests: the real `openai` and `anthropic` SDKs against the simulated
server on 127.0.0.1, port 0. If these pass, the providers built on the SDKs see
the simulator exactly as they would see the real services (status codes, error
classes, `retry-after`, SSE event sequences, broken streams)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from evals.config import SimBehaviour
from evals.sim import SimServer
from evals.sim import behaviour as bh
from evals.suite.sample import Sample

INSTANT = {"ttft_ms": 0.0, "tokens_per_second": 1e9}
SYSTEM = "Answer in one sentence."
QUESTION = "What is the capital of France?"
CAPITAL = "The capital of France is Paris, a city on the Seine."
LOVED = "Sentiment of: I loved it"
EXTRACT = "Extract the person as JSON: Ada Lovelace, born 1815."


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


SAMPLES = [
    Sample(id="pos", input=_user(LOVED), reference="positive", category="label"),
    Sample(id="neg", input=_user("Sentiment of: I hated it"), reference="negative", category="label"),
    Sample(id="neu", input=_user("Sentiment of: It was fine"), reference="neutral", category="label"),
    Sample(
        id="capital",
        input=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        reference=CAPITAL,
        category="qa",
    ),
    Sample(
        id="person",
        input=[{"role": "user", "content": [{"type": "text", "text": EXTRACT}]}],
        reference={"name": "Ada Lovelace", "born": 1815},
        category="extract",
    ),
    Sample(
        id="add",
        input=_user("Write add(a, b)."),
        reference={"solution": "def add(a, b):\n    return a + b\n", "tests": "assert add(1, 2) == 3"},
        category="code",
    ),
]

MODELS = {
    "right": SimBehaviour(accuracy={"default": 1.0}, **INSTANT),
    "wrong": SimBehaviour(accuracy={"default": 0.0}, **INSTANT),
    "limited": SimBehaviour(rate_limit_rate=1.0, retry_after_s=1.5, **INSTANT),
    "broken": SimBehaviour(error_rate=1.0, **INSTANT),
    "dropping": SimBehaviour(accuracy={"default": 1.0}, drop_rate=1.0, **INSTANT),
    "stalling": SimBehaviour(accuracy={"default": 1.0}, stall_rate=1.0, **INSTANT),
    "paced": SimBehaviour(accuracy={"default": 1.0}, ttft_ms=100.0, tokens_per_second=100.0, protocol="anthropic"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with SimServer(MODELS, SAMPLES) as s:
        yield s


def _oai(server: SimServer, key: str = "sim-key", **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0, **kw)


def _ant(server: SimServer, key: str = "sim-key", **kw: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key=key, max_retries=0, **kw)


def _http(
    server: SimServer, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Plain HTTP, for what the SDKs cannot send (no key, broken JSON) or hide (ping events)."""
    method = "POST" if body is not None else "GET"
    req = urllib.request.Request(server.base_url + path, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def _openai_stream(client: openai.AsyncOpenAI, model: str, prompt: str, **kw: Any) -> tuple[str, list[Any]]:
    stream = await client.chat.completions.create(
        model=model, messages=_user(prompt), stream=True, stream_options={"include_usage": True}, **kw
    )
    chunks = [c async for c in stream]
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks


async def _anthropic_stream(
    client: anthropic.AsyncAnthropic, model: str, prompt: str, **kw: Any
) -> tuple[str, list[Any]]:
    stream = await client.messages.create(model=model, max_tokens=256, messages=_user(prompt), stream=True, **kw)
    events = [e async for e in stream]
    return "".join(e.delta.text for e in events if e.type == "content_block_delta"), events


# ---------------------------------------------------------------- OpenAI protocol


def test_openai_non_stream_answers_reference_or_not(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            messages = [{"role": "system", "content": SYSTEM}, *_user(QUESTION)]
            r = await c.chat.completions.create(model="right", messages=messages)
            assert r.choices[0].message.content == CAPITAL
            assert r.choices[0].finish_reason == "stop"
            assert r.model == "right"
            assert r.usage is not None
            assert r.usage.prompt_tokens == bh.count_tokens(SYSTEM) + bh.count_tokens(QUESTION)
            assert r.usage.completion_tokens == len(bh.tokenise(CAPITAL))
            assert r.usage.prompt_tokens_details is not None and r.usage.prompt_tokens_details.cached_tokens == 0

            w = await c.chat.completions.create(model="wrong", messages=messages)
            assert w.choices[0].message.content not in ("", CAPITAL)

    asyncio.run(go())


def test_openai_stream_text_usage_and_chunking(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            text, chunks = await _openai_stream(c, "right", QUESTION)
            assert text == CAPITAL
            finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
            assert finish == ["stop"]
            # include_usage: a last chunk with no choices carries the usage.
            assert chunks[-1].choices == [] and chunks[-1].usage is not None
            assert chunks[-1].usage.completion_tokens == len(bh.tokenise(CAPITAL))
            assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 0
            content_chunks = [ch for ch in chunks if ch.choices and ch.choices[0].delta.content]
            assert 1 < len(content_chunks) <= bh.MAX_CHUNKS

            wrong, _ = await _openai_stream(c, "wrong", LOVED)
            assert wrong in ("negative", "neutral")

    asyncio.run(go())


def test_openai_max_tokens_truncates_with_finish_reason_length(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            r = await c.chat.completions.create(model="right", messages=_user(QUESTION), max_tokens=3)
            assert r.choices[0].finish_reason == "length"
            assert r.choices[0].message.content == "The capital of"
            assert r.usage is not None and r.usage.completion_tokens == 3

            text, chunks = await _openai_stream(c, "right", QUESTION, max_completion_tokens=4)
            assert text == "The capital of France"
            finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
            assert finish == ["length"]

    asyncio.run(go())


# ---------------------------------------------------------------- Anthropic protocol


def test_anthropic_non_stream_and_stream(server: SimServer) -> None:
    async def go() -> None:
        async with _ant(server) as c:
            m = await c.messages.create(
                model="right",
                max_tokens=256,
                system=[{"type": "text", "text": "Answer in one sentence."}],
                messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
            )
            assert m.content[0].type == "text" and m.content[0].text == CAPITAL
            assert m.stop_reason == "end_turn"
            assert m.usage.input_tokens == bh.count_tokens(SYSTEM) + bh.count_tokens(QUESTION)
            assert m.usage.output_tokens == len(bh.tokenise(CAPITAL))
            assert m.usage.cache_read_input_tokens == 0 and m.usage.cache_creation_input_tokens == 0

            text, events = await _anthropic_stream(c, "right", QUESTION, system="Be brief.")
            assert text == CAPITAL
            types = [e.type for e in events]
            assert types[:2] == ["message_start", "content_block_start"]
            assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
            assert set(types[2:-3]) == {"content_block_delta"}
            delta = events[-2]
            assert delta.delta.stop_reason == "end_turn" and delta.usage.output_tokens == len(bh.tokenise(CAPITAL))

            wrong, _ = await _anthropic_stream(c, "wrong", QUESTION)
            assert wrong not in ("", CAPITAL)

    asyncio.run(go())


def test_anthropic_wire_sequence_includes_ping(server: SimServer) -> None:
    """The SDK hides `ping`; the raw SSE shows the whole documented sequence."""
    body = json.dumps({"model": "right", "max_tokens": 50, "stream": True, "messages": _user(LOVED)}).encode()
    status, raw = _http(server, "/v1/messages", body, {"x-api-key": "sim-key", "content-type": "application/json"})
    assert status == 200
    events = [line.split(": ", 1)[1] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_anthropic_max_tokens_stop_reason(server: SimServer) -> None:
    async def go() -> None:
        async with _ant(server) as c:
            m = await c.messages.create(model="right", max_tokens=3, messages=_user(QUESTION))
            assert m.stop_reason == "max_tokens" and m.content[0].text == "The capital of"
            assert m.usage.output_tokens == 3
            async with c.messages.stream(model="right", max_tokens=2, messages=_user(QUESTION)) as s:
                final = await s.get_final_message()
            assert final.stop_reason == "max_tokens" and final.content[0].text == "The capital"

    asyncio.run(go())


def test_structured_and_code_references_render(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            prompt = EXTRACT
            right = await c.chat.completions.create(model="right", messages=_user(prompt))
            assert json.loads(right.choices[0].message.content or "") == {"name": "Ada Lovelace", "born": 1815}
            wrong = await c.chat.completions.create(model="wrong", messages=_user(prompt))
            changed = json.loads(wrong.choices[0].message.content or "")
            assert changed.keys() == {"name", "born"} and changed != {"name": "Ada Lovelace", "born": 1815}

            code = await c.chat.completions.create(model="right", messages=_user("Write add(a, b)."))
            assert code.choices[0].message.content == "```python\ndef add(a, b):\n    return a + b\n```"
            bad = await c.chat.completions.create(model="wrong", messages=_user("Write add(a, b)."))
            assert bad.choices[0].message.content == "```python\ndef add(a, b):\n    return None\n```"

            unknown = await c.chat.completions.create(model="right", messages=_user("Something never seen"))
            assert unknown.choices[0].message.content == bh.UNKNOWN_ANSWER

    asyncio.run(go())


def test_pacing_waits_ttft_then_decodes_at_speed(server: SimServer) -> None:
    """Lower bounds only: the simulator must wait at least this long (never an upper bound on speed)."""

    async def go() -> None:
        loop = asyncio.get_running_loop()
        async with _ant(server) as c:
            start = loop.time()
            stream = await c.messages.create(model="paced", max_tokens=256, messages=_user(QUESTION), stream=True)
            first = None
            async for e in stream:
                if e.type == "content_block_delta" and first is None:
                    first = loop.time() - start
            total = loop.time() - start
        n = len(bh.tokenise(CAPITAL))
        assert first is not None and first >= 0.095
        assert total >= 0.1 + (n - 1) / 100.0 - 0.005

    asyncio.run(go())


# ---------------------------------------------------------------- faults


def test_rate_limit_carries_retry_after(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            with pytest.raises(openai.RateLimitError) as oe:
                await c.chat.completions.create(model="limited", messages=_user(LOVED))
        assert oe.value.response.headers["retry-after"] == "1.5"
        assert oe.value.response.headers["retry-after-ms"] == "1500"
        assert oe.value.code == "rate_limit_exceeded"
        async with _ant(server) as a:
            with pytest.raises(anthropic.RateLimitError) as ae:
                await a.messages.create(model="limited", max_tokens=10, messages=_user(LOVED), stream=True)
        assert ae.value.response.headers["retry-after"] == "1.5"
        assert ae.value.type == "rate_limit_error"

    asyncio.run(go())


def test_server_error_is_internal_server_error(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            with pytest.raises(openai.InternalServerError):
                await c.chat.completions.create(model="broken", messages=_user("x"), stream=True)
        async with _ant(server) as a:
            with pytest.raises(anthropic.InternalServerError) as ae:
                await a.messages.create(model="broken", max_tokens=10, messages=_user("x"))
        assert ae.value.status_code == 500 and ae.value.type == "api_error"

    asyncio.run(go())


def test_auth_unknown_model_and_malformed_body(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server, key="invalid-key") as c:
            with pytest.raises(openai.AuthenticationError):
                await c.chat.completions.create(model="right", messages=_user("x"))
        async with _ant(server, key="invalid-key") as a:
            with pytest.raises(anthropic.AuthenticationError):
                await a.messages.create(model="right", max_tokens=10, messages=_user("x"))
        async with _oai(server) as c:
            with pytest.raises(openai.NotFoundError):
                await c.chat.completions.create(model="no-such-model", messages=_user("x"))
        async with _ant(server) as a:
            with pytest.raises(anthropic.NotFoundError):
                await a.messages.create(model="no-such-model", max_tokens=10, messages=_user("x"))

    asyncio.run(go())
    body = json.dumps({"model": "right", "messages": _user("x")}).encode()
    status, raw = _http(server, "/v1/chat/completions", body, {"content-type": "application/json"})
    assert status == 401 and json.loads(raw)["error"]["code"] == "invalid_api_key"
    status, raw = _http(server, "/v1/chat/completions", b"{not json", {"Authorization": "Bearer sim-key"})
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"
    status, raw = _http(server, "/v1/messages", b"[1, 2]", {"x-api-key": "sim-key"})
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("transport", ["httpx2", "aiohttp"])
def test_dropped_streams_raise_after_partial_content(server: SimServer, transport: str) -> None:
    """A dropped stream never ends quietly: both SDKs raise mid-iteration, after the
    first content arrived and before any finish_reason / message_stop.

    openai wraps the transport error: APIConnectionError. anthropic does NOT wrap
    errors raised while iterating a stream: it raises the transport's own
    httpx2.RemoteProtocolError (httpx2 transport) or httpx2.ReadError (aiohttp
    transport), both httpx2.TransportError. A non-streamed dropped request raises
    before any response: APIConnectionError, except openai over aiohttp, which
    reports it as APITimeoutError (a subclass of APIConnectionError).
    """
    extra: dict[str, Any] = {}

    async def go() -> None:
        if transport == "aiohttp":
            extra["http_client"] = openai.DefaultAioHttpClient()
        async with _oai(server, **extra) as c:
            seen: list[Any] = []
            with pytest.raises(openai.APIConnectionError):
                stream = await c.chat.completions.create(model="dropping", messages=_user(QUESTION), stream=True)
                async for chunk in stream:
                    seen.append(chunk)
            assert "".join(ch.choices[0].delta.content or "" for ch in seen) == "The"
            assert all(ch.choices[0].finish_reason is None for ch in seen)
            with pytest.raises(openai.APIConnectionError):
                await c.chat.completions.create(model="dropping", messages=_user("x"))

        if transport == "aiohttp":
            extra["http_client"] = anthropic.DefaultAioHttpClient()
        async with _ant(server, **extra) as a:
            events: list[Any] = []
            expected = httpx2.RemoteProtocolError if transport == "httpx2" else httpx2.ReadError
            with pytest.raises(expected):
                stream = await a.messages.create(model="dropping", max_tokens=50, messages=_user(QUESTION), stream=True)
                async for event in stream:
                    events.append(event)
            assert [e.type for e in events] == ["message_start", "content_block_start", "content_block_delta"]
            with pytest.raises(anthropic.APIConnectionError):
                await a.messages.create(model="dropping", max_tokens=50, messages=_user("x"))

    asyncio.run(go())


@pytest.mark.parametrize("transport", ["httpx2", "aiohttp"])
def test_stalled_streams_time_out(server: SimServer, transport: str) -> None:
    """A stalled stream sends its first chunk, then nothing: only the client's read
    timeout ends it. openai raises APITimeoutError; anthropic raises the bare
    httpx2.ReadTimeout while iterating (not wrapped, as with drops)."""
    extra: dict[str, Any] = {"timeout": 0.3}

    async def go() -> None:
        if transport == "aiohttp":
            extra["http_client"] = openai.DefaultAioHttpClient()
        async with _oai(server, **extra) as c:
            seen: list[Any] = []
            with pytest.raises(openai.APITimeoutError):
                stream = await c.chat.completions.create(model="stalling", messages=_user(LOVED), stream=True)
                async for chunk in stream:
                    seen.append(chunk)
            assert "".join(ch.choices[0].delta.content or "" for ch in seen) == "positive"

        if transport == "aiohttp":
            extra["http_client"] = anthropic.DefaultAioHttpClient()
        async with _ant(server, **extra) as a:
            events: list[Any] = []
            with pytest.raises(httpx2.ReadTimeout):
                stream = await a.messages.create(model="stalling", max_tokens=50, messages=_user("x"), stream=True)
                async for event in stream:
                    events.append(event)
            assert events[-1].type == "content_block_delta"

    asyncio.run(go())


# ---------------------------------------------------------------- stats, determinism, discovery


def test_stats_count_outcomes_per_model_and_endpoint() -> None:
    models = {"ok": SimBehaviour(**INSTANT), "limited": SimBehaviour(rate_limit_rate=1.0, **INSTANT)}
    with SimServer(models, SAMPLES) as s:

        async def go() -> None:
            async with _oai(s) as c:
                await c.chat.completions.create(model="ok", messages=_user("x"))
                await c.chat.completions.create(model="ok", messages=_user("x"), stream=True)
                with pytest.raises(openai.RateLimitError):
                    await c.chat.completions.create(model="limited", messages=_user("x"))
                with pytest.raises(openai.NotFoundError):
                    await c.chat.completions.create(model="ghost", messages=_user("x"))
            async with _ant(s, key="invalid-key") as a:
                with pytest.raises(anthropic.AuthenticationError):
                    await a.messages.create(model="ok", max_tokens=5, messages=_user("x"))

        asyncio.run(go())
        status, raw = _http(s, "/stats")
        assert status == 200
        stats = json.loads(raw)
        assert stats == s.stats()
        assert stats["requests"] == 5
        assert stats["by_endpoint"]["/v1/chat/completions"] == {
            "ok": {"ok": 2},
            "limited": {"rate_limited": 1},
            "ghost": {"unknown_model": 1},
        }
        assert stats["by_endpoint"]["/v1/messages"] == {"ok": {"unauthorized": 1}}
        assert stats["by_model"]["ok"] == {"ok": 2, "unauthorized": 1}

        status, raw = _http(s, "/stats/reset", b"")
        assert status == 200 and json.loads(raw)["requests"] == 0
        assert s.stats() == {"requests": 0, "by_model": {}, "by_endpoint": {}}


def test_same_seed_same_answers_and_faults() -> None:
    labels = [
        Sample(id=f"s{i}", input=_user(f"Label item {i}"), reference="abc"[i % 3], category="label") for i in range(40)
    ]
    behaviour = SimBehaviour(accuracy={"default": 0.5}, error_rate=0.3, seed=7, **INSTANT)

    def run_once() -> list[str]:
        with SimServer({"m": behaviour}, labels) as s:

            async def go() -> list[str]:
                out = []
                async with _oai(s) as c:
                    for sample in labels:
                        try:
                            r = await c.chat.completions.create(model="m", messages=sample.input)
                            out.append(r.choices[0].message.content or "")
                        except openai.InternalServerError:
                            out.append("<500>")
                return out

            return asyncio.run(go())

    first, second = run_once(), run_once()
    assert first == second
    assert "<500>" in first and any(a != "<500>" for a in first)
    answered = [(a, s.reference) for a, s in zip(first, labels) if a != "<500>"]
    assert any(a == ref for a, ref in answered) and any(a != ref for a, ref in answered)


def test_models_list_and_health(server: SimServer) -> None:
    async def go() -> None:
        async with _oai(server) as c:
            page = await c.models.list()
            ids = [m.id for m in page.data]
            assert ids == list(MODELS)
            assert all((m.model_extra or {}).get("max_model_len", 0) > 0 for m in page.data)

    asyncio.run(go())
    assert _http(server, "/health") == (200, b"")


# ---------------------------------------------------------------- pure behaviour


def test_tokenise_round_trips_and_chunk_bounds_cover_all_tokens() -> None:
    for text in ["", "  lead and trail  ", "a,b;c\n\nd", "déjà vu — 42.5%", CAPITAL]:
        assert "".join(bh.tokenise(text)) == text
    assert bh.count_tokens("Hello, world!") == 4
    for n in [0, 1, 2, 15, 16, 17, 1000]:
        bounds = bh.chunk_bounds(n)
        assert len(bounds) <= bh.MAX_CHUNKS
        assert [i for a, b in bounds for i in range(a, b)] == list(range(n))
        if n:
            assert bounds[0] == (0, 1)


def test_wrong_answers_are_plausible_and_differ() -> None:
    samples = [
        *SAMPLES,
        Sample(id="solo", input=_user("Only one in its category"), reference="a lonely long answer", category="solo"),
        Sample(id="word", input=_user("One word"), reference="yes", category="word"),
        Sample(
            id="w",
            input=_user("Code with a known bug"),
            reference={"solution": "x = 1", "wrong_solution": "x = 2", "tests": ""},
        ),
    ]
    index = bh.index_samples(samples)
    for text, (_, answers) in index.by_prompt.items():
        assert answers.wrong != answers.right, text
    assert index.by_prompt["Only one in its category"][1].wrong == "a lonely"
    assert index.by_prompt["One word"][1].wrong == bh.UNKNOWN_ANSWER
    assert index.by_prompt["Code with a known bug"][1].wrong == "```python\nx = 2\n```"


# ---------------------------------------------------------------- tool calls

WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
TOOL_PROMPT = "Weather in Oslo and Rome?"
TOOL_SAMPLE = Sample(
    id="tools",
    input=_user(TOOL_PROMPT),
    tools=[WEATHER_TOOL, TIME_TOOL],
    reference=[{"name": "get_weather", "arguments": '{"city": "Oslo"}'}, {"name": "get_weather", "arguments": '{"city": "Rome"}'}],
    category="agent",
)


@pytest.fixture(scope="module")
def tool_server() -> Iterator[SimServer]:
    models = {"right": MODELS["right"], "wrong": MODELS["wrong"], "text": SimBehaviour(accuracy={"default": 1.0}, quirks=["tool_calls_as_text"], **INSTANT)}
    with SimServer(models, [TOOL_SAMPLE]) as s:
        yield s


def test_openai_streams_tool_calls_as_incremental_argument_deltas(tool_server: SimServer) -> None:
    async def go() -> None:
        async with _oai(tool_server) as c:
            stream = await c.chat.completions.create(model="right", messages=_user(TOOL_PROMPT), tools=[WEATHER_TOOL, TIME_TOOL], stream=True)
            chunks = [x async for x in stream]
            deltas = [tc for chunk in chunks for ch in chunk.choices for tc in (ch.delta.tool_calls or ())]
            finish = [ch.finish_reason for chunk in chunks for ch in chunk.choices if ch.finish_reason]
            # each call opens with its id and name, then its arguments come in several fragments
            opening = [d for d in deltas if d.id]
            assert [(d.index, d.function.name) for d in opening] == [(0, "get_weather"), (1, "get_weather")]
            for i, city in ((0, "Oslo"), (1, "Rome")):
                parts = [d.function.arguments for d in deltas if d.index == i and not d.id]
                assert len(parts) >= 2 and "".join(parts) == f'{{"city": "{city}"}}'
            assert finish == ["tool_calls"]
            whole = await c.chat.completions.create(model="right", messages=_user(TOOL_PROMPT), tools=[WEATHER_TOOL])
            msg = whole.choices[0].message
            assert whole.choices[0].finish_reason == "tool_calls" and msg.content is None
            assert [json.loads(t.function.arguments)["city"] for t in msg.tool_calls or ()] == ["Oslo", "Rome"]
            # without tools in the request the same sample is answered as text
            plain = await c.chat.completions.create(model="right", messages=_user(TOOL_PROMPT))
            assert plain.choices[0].message.tool_calls is None and plain.choices[0].finish_reason == "stop"

    asyncio.run(go())


def test_anthropic_streams_tool_use_with_input_json_deltas(tool_server: SimServer) -> None:
    tools = [{"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}, {"name": "get_time", "input_schema": TIME_TOOL["function"]["parameters"]}]

    async def go() -> None:
        async with _ant(tool_server) as c:
            stream = await c.messages.create(model="right", max_tokens=256, messages=_user(TOOL_PROMPT), tools=tools, stream=True)
            events = [e async for e in stream]
            starts = [e for e in events if e.type == "content_block_start"]
            assert [(e.index, e.content_block.type, e.content_block.name) for e in starts] == [(0, "tool_use", "get_weather"), (1, "tool_use", "get_weather")]
            for i, city in ((0, "Oslo"), (1, "Rome")):
                parts = [e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == i]
                assert all(e.delta.type == "input_json_delta" for e in events if e.type == "content_block_delta")
                assert len(parts) >= 2 and json.loads("".join(parts)) == {"city": city}
            assert [e.delta.stop_reason for e in events if e.type == "message_delta"] == ["tool_use"]
            whole = await c.messages.create(model="right", max_tokens=256, messages=_user(TOOL_PROMPT), tools=tools)
            assert whole.stop_reason == "tool_use" and [b.input for b in whole.content if b.type == "tool_use"] == [{"city": "Oslo"}, {"city": "Rome"}]

    asyncio.run(go())


def test_wrong_tool_calls_are_plausible_and_text_quirk_speaks_markup(tool_server: SimServer) -> None:
    async def go() -> None:
        async with _oai(tool_server) as c:
            w = await c.chat.completions.create(model="wrong", messages=_user(TOOL_PROMPT), tools=[WEATHER_TOOL, TIME_TOOL])
            calls = [(t.function.name, t.function.arguments) for t in w.choices[0].message.tool_calls or ()]
            # two calls still, the first slipped: another tool, or its argument changed
            assert len(calls) == 2 and calls[1] == ("get_weather", '{"city": "Rome"}')
            assert calls[0] != ("get_weather", '{"city": "Oslo"}') and (calls[0][0] == "get_time" or json.loads(calls[0][1]) != {"city": "Oslo"})
            t = await c.chat.completions.create(model="text", messages=_user(TOOL_PROMPT), tools=[WEATHER_TOOL])
            assert t.choices[0].message.tool_calls is None and t.choices[0].message.content.startswith("<tool_call>")

    asyncio.run(go())


def test_a_tool_result_turn_does_not_hide_the_question() -> None:
    """Anthropic carries tool results in a user turn; the sample is still found by the question before it."""
    anthropic_turns = [
        {"role": "user", "content": TOOL_PROMPT},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "4C"}]},
    ]
    assert bh.last_user_text(anthropic_turns) == TOOL_PROMPT
    followed = [*anthropic_turns[:2], {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "4C"}, {"type": "text", "text": "And Rome?"}]}]
    assert bh.last_user_text(followed) == "And Rome?"
