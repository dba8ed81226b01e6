"""The shared stream driver: timing, status and failure mapping on scripted events,
and the wire faults (stale keep-alive connections, empty 200 streams, refused
connections) through the real SDKs against small loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from evals.providers.anthropic_messages import AnthropicProvider
from evals.providers.base import Completion, GenerationParams, Status, Timeouts, Usage
from evals.providers.openai_chat import OpenAIChatProvider
from evals.providers.stream import Event, Finish, TextDelta, ToolCallDelta, UsageReport, drive
from tests.wire_servers import close_after_stream, empty_stream

TIMEOUTS = Timeouts(connect_s=2, idle_s=2, total_s=10)
STATUSES = {"stop": Status.ok, "length": Status.truncated}
PROMPT = [{"role": "user", "content": "hello"}]


class Clock:
    """A clock the scripted stream advances: event i happens at times[i] seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _scripted(clock: Clock, script: list[tuple[float, Event]]) -> Any:
    async def gen() -> AsyncIterator[Event]:
        for at, ev in script:
            clock.now = at
            yield ev

    return gen


def _classify(exc: BaseException, got: bool) -> Completion:
    return Completion(status=Status.error, error=str(exc), error_kind="connection")


def _drive(script: list[tuple[float, Event]], end: float, streamed: bool = True) -> Completion:
    clock = Clock()
    gen = _scripted(clock, script)

    async def go() -> Completion:
        async def events() -> AsyncIterator[Event]:
            async for ev in gen():
                yield ev
            clock.now = end

        return await drive(events, timeouts=TIMEOUTS, statuses=STATUSES, classify=_classify, streamed=streamed, missing="a finish_reason", clock=clock)

    return asyncio.run(go())


def test_timing_follows_vllm_definitions() -> None:
    # chunks at 0.1, 0.15, 0.3 s; usage says 5 output tokens; the stream ends at 0.5 s
    c = _drive(
        [(0.1, TextDelta("a")), (0.15, TextDelta("b")), (0.3, TextDelta("c")), (0.3, Finish("stop")), (0.3, UsageReport(Usage(input_tokens=3, output_tokens=5)))],
        end=0.5,
    )
    assert c.status is Status.ok and c.text == "abc" and c.finish_reason == "stop"
    assert c.timing.ttft_ms == pytest.approx(100.0)
    assert c.timing.latency_ms == pytest.approx(500.0)
    # ITL: one gap per chunk after the first: 150-100, 300-150
    assert c.timing.chunk_gaps_ms == pytest.approx([50.0, 150.0])
    # TPOT = (latency - ttft) / (output_tokens - 1) = (500 - 100) / 4
    assert c.timing.tpot_ms == pytest.approx(100.0)
    assert c.timing.output_tps == pytest.approx(1000.0 / 100.0)


def test_whole_response_claims_no_first_token() -> None:
    c = _drive([(0.2, TextDelta("abc")), (0.2, Finish("stop")), (0.2, UsageReport(Usage(output_tokens=3)))], end=0.2, streamed=False)
    assert c.status is Status.ok
    assert c.timing.ttft_ms is None and c.timing.chunk_gaps_ms is None and c.timing.tpot_ms is None
    assert c.timing.latency_ms == pytest.approx(200.0)


def test_stream_without_finish_is_truncated_and_empty_stream_is_server_fault() -> None:
    cut = _drive([(0.1, TextDelta("a"))], end=0.2)
    assert (cut.status, cut.error_kind, cut.text) == (Status.truncated, "dropped_stream", "a")
    empty = _drive([], end=0.2)
    assert (empty.status, empty.error_kind) == (Status.error, "empty_stream")
    assert "server fault" in (empty.error or "")
    length = _drive([(0.1, TextDelta("a")), (0.1, Finish("length"))], end=0.1)
    assert length.status is Status.truncated and length.error_kind is None


def test_tool_call_fragments_are_joined_by_index() -> None:
    c = _drive(
        [
            (0.1, ToolCallDelta(0, "call_1", "get_weather", '{"ci')),
            (0.2, ToolCallDelta(1, "call_2", "get_time", "{}")),
            (0.3, ToolCallDelta(0, arguments='ty": "Paris"}')),
            (0.3, Finish("stop")),
        ],
        end=0.3,
    )
    assert c.tool_calls == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert c.timing.ttft_ms == pytest.approx(100.0)


def test_stall_is_an_idle_timeout_and_total_timeout_is_its_own() -> None:
    async def stalls() -> AsyncIterator[Event]:
        yield TextDelta("a")
        await asyncio.sleep(30)
        yield Finish("stop")

    async def go(t: Timeouts) -> Completion:
        return await drive(stalls, timeouts=t, statuses=STATUSES, classify=_classify, streamed=True, missing="a finish_reason")

    idle = asyncio.run(go(Timeouts(connect_s=1, idle_s=0.05, total_s=10)))
    assert (idle.status, idle.error_kind, idle.text) == (Status.timeout, "timeout_idle", "a")
    total = asyncio.run(go(Timeouts(connect_s=1, idle_s=10, total_s=0.05)))
    assert (total.status, total.error_kind) == (Status.timeout, "timeout_total")




def _openai(url: str) -> OpenAIChatProvider:
    return OpenAIChatProvider(name="t", model="m", base_url=url + "/v1", api_key="k", timeouts=TIMEOUTS)


def _anthropic(url: str) -> AnthropicProvider:
    return AnthropicProvider(name="t", model="m", base_url=url, api_key="k", timeouts=TIMEOUTS)


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_server_that_closes_after_each_stream_costs_no_extra_request(wire: Any, make: Any) -> None:
    server = wire(close_after_stream)
    p = make(server.base_url)
    n = 6

    async def go() -> list[Completion]:
        out = []
        try:
            for _ in range(n):
                out.append(await p.complete(PROMPT, GenerationParams()))
        finally:
            await p.aclose()
        return out

    results = asyncio.run(go())
    assert [c.status for c in results] == [Status.ok] * n, [c.error for c in results]
    assert all(c.text == "billing" for c in results)
    # the stale pooled connection was detected, so the provider stopped reusing connections
    assert p.reuses_connections is False
    assert server.requests == n


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_empty_200_stream_is_a_server_error(wire: Any, make: Any) -> None:
    server = wire(empty_stream)
    p = make(server.base_url)

    async def go() -> Completion:
        try:
            return await p.complete(PROMPT, GenerationParams())
        finally:
            await p.aclose()

    c = asyncio.run(go())
    assert (c.status, c.error_kind) == (Status.error, "empty_stream")
    assert server.requests == 1


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_refused_connection_is_connection_on_both_protocols(make: Any) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = make(f"http://127.0.0.1:{port}")

    async def go() -> Completion:
        try:
            return await p.complete(PROMPT, GenerationParams())
        finally:
            await p.aclose()

    c = asyncio.run(go())
    assert (c.status, c.error_kind) == (Status.error, "connection")
    assert c.error == f"nothing listens on {p.base_url}: connection refused"
