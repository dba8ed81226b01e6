"""The lean aiohttp client against the SDK client: the same cases through both,
against the simulated server and the hand-written wire servers, must give the
same Completion (status, text, finish reason, usage, tool calls, failure kind,
HTTP status, retry-after, served model). Timing differs by nature and is only
checked for presence."""

from __future__ import annotations

import asyncio
import hashlib
import json
import selectors
import socket
from typing import Any

import pytest

from evals.config import RunnerProfile
from evals.providers.base import Completion, GenerationParams, Status, Timeouts
from evals.providers.factory import make_providers
from evals.providers.openai_chat import OpenAIChatProvider
from evals.providers.openai_lean import LeanOpenAIProvider, SSELines
from tests.wire_servers import LoopServer, close_after_stream, empty_stream, openai_stream

TIMEOUTS = Timeouts(connect_s=2, idle_s=2, total_s=10)
KNOWN = [{"role": "system", "content": "Answer with the label only."}, {"role": "user", "content": "Ticket 0: my invoice #0 is wrong"}]
UNKNOWN = [{"role": "user", "content": "something the simulator does not know"}]
CLIENTS = {"sdk": OpenAIChatProvider, "lean": LeanOpenAIProvider}


def _fields(c: Completion) -> dict[str, Any]:
    """What must be identical across clients: everything but the clock and the error's wording."""
    return c.model_dump(include={"status", "text", "finish_reason", "usage", "tool_calls", "error_kind", "http_status", "retry_after_s", "served_model"})


def _both(base_url: str, messages: list[dict[str, Any]] = KNOWN, n: int = 1, timeouts: Timeouts = TIMEOUTS, stream: bool = True, key: str = "k", **params: Any) -> dict[str, list[Completion]]:
    """`n` sequential requests through each client (a fresh provider per client)."""

    async def go(cls: Any) -> list[Completion]:
        p = cls(name="t", model="m", base_url=base_url, api_key=key, timeouts=timeouts, stream=stream)
        try:
            return [await p.complete(messages, GenerationParams(**params)) for _ in range(n)]
        finally:
            await p.aclose()

    return {name: asyncio.run(go(cls)) for name, cls in CLIENTS.items()}


def _same(results: dict[str, list[Completion]]) -> list[Completion]:
    sdk, lean = results["sdk"], results["lean"]
    assert [_fields(c) for c in lean] == [_fields(c) for c in sdk], ([c.error for c in sdk], [c.error for c in lean])
    return lean


# ---------------------------------------------------------------- the simulated server


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_answer_with_usage_is_identical(sim_factory: Any, stream: bool) -> None:
    sim = sim_factory({"m": {"accuracy": {"default": 1.0}, "ttft_ms": 20, "tokens_per_second": 500}})
    [c] = _same(_both(sim.base_url + "/v1", stream=stream))
    assert (c.status, c.text, c.finish_reason, c.served_model) == (Status.ok, "billing", "stop", "m")
    assert c.usage.output_tokens == 1 and c.usage.input_tokens
    assert c.timing.latency_ms is not None and c.timing.latency_ms >= 20
    assert (c.timing.ttft_ms is not None) is stream


def test_length_limit_is_identical(sim_factory: Any) -> None:
    sim = sim_factory({"m": {"accuracy": {"default": 1.0}}})
    [c] = _same(_both(sim.base_url + "/v1", UNKNOWN, max_tokens=1))
    assert (c.status, c.finish_reason, c.usage.output_tokens) == (Status.truncated, "length", 1)


@pytest.mark.parametrize(
    ("behaviour", "key", "expected"),
    [
        ({"rate_limit_rate": 1.0, "retry_after_s": 1.5}, "k", ("rate_limit", 429, 1.5)),
        ({"error_rate": 1.0}, "k", ("server", 500, None)),
        ({}, "invalid-key", ("auth", 401, None)),
    ],
    ids=["429", "500", "401"],
)
def test_http_errors_are_identical(sim_factory: Any, behaviour: dict[str, Any], key: str, expected: tuple[Any, ...]) -> None:
    sim = sim_factory({"m": behaviour})
    [c] = _same(_both(sim.base_url + "/v1", key=key))
    assert (c.status, c.error_kind, c.http_status, c.retry_after_s) == (Status.error, *expected)
    assert key not in (c.error or "") or key == "k"


def test_unknown_model_is_not_found_on_both(sim_factory: Any) -> None:
    sim = sim_factory({"other": {}})
    [c] = _same(_both(sim.base_url + "/v1"))
    assert (c.error_kind, c.http_status) == ("not_found", 404)


def test_dropped_stream_is_identical(sim_factory: Any) -> None:
    sim = sim_factory({"m": {"drop_rate": 1.0, "accuracy": {"default": 1.0}}})
    [c] = _same(_both(sim.base_url + "/v1", UNKNOWN))
    assert (c.status, c.error_kind) == (Status.truncated, "dropped_stream")


def test_stalled_stream_is_identical(sim_factory: Any) -> None:
    sim = sim_factory({"m": {"stall_rate": 1.0}})
    [c] = _same(_both(sim.base_url + "/v1", UNKNOWN, timeouts=Timeouts(connect_s=2, idle_s=0.4, total_s=5)))
    assert (c.status, c.error_kind) == (Status.timeout, "timeout_idle")


def test_stream_without_usage_chunk_is_identical(sim_factory: Any) -> None:
    sim = sim_factory({"m": {"accuracy": {"default": 1.0}, "quirks": ["no_stream_usage"]}})
    [c] = _same(_both(sim.base_url + "/v1"))
    assert c.status is Status.ok and c.usage.output_tokens is None


# ---------------------------------------------------------------- wire faults




def _sse(chunks: list[dict[str, Any] | str], sep: str = "\n") -> list[bytes]:
    return [f"data: {c if isinstance(c, str) else json.dumps(c)}{sep}{sep}".encode() for c in chunks]


BASE = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "served-name"}


def _tool_stream(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
    """Two tool calls, the second's arguments in three fragments, usage with cached and reasoning
    tokens, lines ending in CRLF."""
    chunks: list[dict[str, Any] | str] = [
        {**BASE, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]}, "finish_reason": None}]},
        {**BASE, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}]}, "finish_reason": None}]},
        {**BASE, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": '{"tz"'}}]}, "finish_reason": None}]},
        {**BASE, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ': "UTC"'}}]}, "finish_reason": None}]},
        {**BASE, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]}, "finish_reason": None}]},
        {**BASE, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {**BASE, "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42, "prompt_tokens_details": {"cached_tokens": 16}, "completion_tokens_details": {"reasoning_tokens": 4}}},
        "[DONE]",
    ]
    return 200, {"content-type": "text/event-stream"}, _sse(chunks, sep="\r\n"), False


def _status(code: int, headers: dict[str, str], body: dict[str, Any]) -> Any:
    def reply(path: str, req: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
        return code, {"content-type": "application/json", **headers}, [json.dumps(body).encode()], False

    return reply


def _error_event(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
    """vLLM's way of failing mid-stream: a 200 stream whose chunk is an error object."""
    chunks: list[dict[str, Any] | str] = [
        {**BASE, "choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": None}]},
        {"error": {"message": "engine died", "type": "InternalServerError", "code": 500}},
        "[DONE]",
    ]
    return 200, {"content-type": "text/event-stream"}, _sse(chunks), False


def test_tool_call_fragments_and_usage_details_are_identical(wire: Any) -> None:
    server = wire(_tool_stream)
    [c] = _same(_both(server.base_url + "/v1"))
    assert (c.status, c.finish_reason, c.text, c.served_model) == (Status.ok, "tool_calls", "", "served-name")
    assert c.tool_calls == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        # the fragments joined in order: '' + '{"tz"' + ': "UTC"' + '}'
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'}},
    ]
    assert (c.usage.input_tokens, c.usage.cached_input_tokens, c.usage.output_tokens, c.usage.reasoning_tokens) == (30, 16, 12, 4)


@pytest.mark.parametrize(
    ("code", "headers", "body", "expected"),
    [
        (400, {}, {"error": {"message": "max_tokens too large", "type": "BadRequestError"}}, ("bad_request", None)),
        (429, {"retry-after": "3"}, {"error": {"message": "slow down"}}, ("rate_limit", 3.0)),
        (429, {"retry-after-ms": "250"}, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, ("quota", 0.25)),
        (500, {}, {"error": {"message": "boom"}}, ("server", None)),
    ],
    ids=["400", "429-retry-after", "429-quota-ms", "500"],
)
def test_status_answers_are_identical(wire: Any, code: int, headers: dict[str, str], body: dict[str, Any], expected: tuple[Any, ...]) -> None:
    server = wire(_status(code, headers, body))
    [c] = _same(_both(server.base_url + "/v1"))
    assert (c.status, c.http_status, c.error_kind, c.retry_after_s) == (Status.error, code, *expected)


def test_error_event_inside_a_stream_is_identical(wire: Any) -> None:
    server = wire(_error_event)
    [c] = _same(_both(server.base_url + "/v1"))
    assert (c.status, c.error_kind, c.text) == (Status.truncated, "dropped_stream", "par")


def test_empty_200_stream_is_identical(wire: Any) -> None:
    server = wire(empty_stream)
    [c] = _same(_both(server.base_url + "/v1"))
    assert (c.status, c.error_kind) == (Status.error, "empty_stream")
    assert server.requests == 2  # one per client: an empty stream is not retried as stale


def test_server_closing_after_each_stream_costs_no_extra_request(wire: Any) -> None:
    server = wire(close_after_stream)
    n = 5
    lean = _same(_both(server.base_url + "/v1", n=n))
    assert [(c.status, c.text) for c in lean] == [(Status.ok, "billing")] * n
    assert server.requests == 2 * n  # n per client, the stale connection's retry never reached the server


def test_refused_connection_is_identical() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [c] = _same(_both(f"http://127.0.0.1:{port}/v1"))
    assert (c.status, c.error_kind) == (Status.error, "connection")


def test_extra_body_goes_to_the_top_level_as_with_the_sdk(wire: Any) -> None:
    seen: list[dict[str, Any]] = []

    def reply(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
        seen.append(body)
        return 200, {"content-type": "text/event-stream"}, openai_stream(), False

    server = wire(reply)
    _same(_both(server.base_url + "/v1", extra_body={"top_k": 5}, seed=3))
    sdk, lean = seen
    assert lean == sdk and lean["top_k"] == 5 and lean["stream_options"] == {"include_usage": True}


# ---------------------------------------------------------------- SSE parsing and choice


def test_sse_events_survive_any_split_of_the_bytes() -> None:
    raw = b'data: {"a": 1}\r\n\r\n: comment\nevent: x\ndata: {"b":\ndata: 2}\r\rdata:[DONE]\n\n'
    # by hand: event 1 (CRLF lines) is {"a": 1}; the comment and `event:` carry nothing; event 2's
    # two data lines joined by a newline, ended by CR CR; event 3 has no space after the colon.
    expected = [b'{"a": 1}', b'{"b":\n2}', b"[DONE]"]
    for cut in range(len(raw) + 1):
        for cut2 in range(cut, len(raw) + 1, 7):
            p = SSELines()
            got = p.feed(raw[:cut]) + p.feed(raw[cut:cut2]) + p.feed(raw[cut2:])
            assert got == expected, (cut, cut2)


def _profile(**kw: Any) -> RunnerProfile:
    return RunnerProfile.model_validate({"name": "v", "model": "x", "pricing": {"self_hosted": {"gpu": "H100-SXM", "gpus": 1, "cloud_price_per_gpu_hour": 3}}, **kw})


def test_profile_chooses_the_client_and_the_choice_is_recorded() -> None:
    sdk = _profile(provider="openai_compatible", base_url="http://127.0.0.1:1/v1")
    lean = _profile(provider="openai_compatible", base_url="http://127.0.0.1:1/v1", client="lean")
    [p_sdk], [p_lean] = make_providers(sdk), make_providers(lean)
    assert type(p_sdk) is OpenAIChatProvider and type(p_lean) is LeanOpenAIProvider
    asyncio.run(p_sdk.aclose())
    # the choice is part of the stored profile, so the hash differs; the default hashes as before the field
    assert lean.profile_hash() != sdk.profile_hash()
    assert sdk.profile_hash() == hashlib.sha256(sdk.model_dump_json(exclude={"client", "batch", "epochs"}).encode()).hexdigest()[:16]
    sim = _profile(provider="simulated", client="lean", simulate={"protocol": "openai"})
    assert sim.client == "lean"


@pytest.mark.parametrize(
    "kw",
    [
        {"provider": "simulated", "simulate": {"protocol": "anthropic"}},
        {"provider": "openai", "pricing": {"api": {"model": "gpt-4o"}}},
    ],
    ids=["anthropic-sim", "hosted-openai"],
)
def test_lean_client_is_refused_where_the_sdk_must_stay(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="client: lean"):
        _profile(client="lean", **kw)


# ---------------------------------------------------------------- the client's own lag in `evals measure`


def _measured(at: float, e2e_ms: float) -> Any:
    from evals.measure.load import Sent
    from evals.providers.base import Timing, Usage

    c = Completion(status=Status.ok, finish_reason="stop", usage=Usage(input_tokens=10, output_tokens=5), timing=Timing(ttft_ms=100, latency_ms=e2e_ms))
    return Sent("measured", None, at, at + e2e_ms / 1000, c)


def _probe_while(block: Any) -> list[float]:
    """The lag samples of `watch_loop` around one call of `block` inside the loop."""
    from evals.measure.load import LAG_PERIOD_S, watch_loop

    samples: list[tuple[float, float]] = []

    async def go() -> None:
        probe = asyncio.create_task(watch_loop(samples))
        await asyncio.sleep(3 * LAG_PERIOD_S)
        block()
        await asyncio.sleep(3 * LAG_PERIOD_S)
        probe.cancel()

    asyncio.run(go())
    return [lag for _, lag in samples]


def test_a_busy_event_loop_shows_as_client_lag_and_a_descheduled_one_does_not() -> None:
    import time

    from evals.measure.load import LAG_PERIOD_S

    def busy() -> None:  # 50 ms of the loop thread's own CPU, as a client busy parsing streams
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass

    # the timer due during the work ran after it: late by at least 50 ms of work - one period,
    # and the thread ran all that time, so all of it is the client's own lag
    assert max(_probe_while(busy)) >= 50 - LAG_PERIOD_S * 1000
    # 50 ms without running (as when the OS runs other work) is late, but not the client's own doing:
    # at most the thread's few microseconds of CPU around the sleep count
    idle = _probe_while(lambda: time.sleep(0.05))
    assert all(0 <= lag < 10 for lag in idle)


def test_lag_inside_the_window_flags_the_step_and_keeps_it_from_capacity() -> None:
    from evals.measure.frontier import _client_flags, client_bound, operating_point
    from evals.measure.load import StepRun
    from evals.measure.metrics import summarise
    from evals.measure.model import Slo

    slo = Slo(ttft_ms=500, percentile=50)
    records = [_measured(0.0, 200), _measured(0.1, 200)]  # window: 0 to 0.3 s
    # 100 ticks in the window, 2 of them 30 ms late; one 500 ms late tick outside the window is not counted
    ticks = [(0.003 * i, 30.0 if i < 2 else 1.0) for i in range(100)] + [(0.5, 500.0)]
    step = summarise(StepRun(records=records, peak_in_flight=2, loop_lag=ticks), "concurrency", 2, slo)
    assert step.client_lag_ms is not None and step.client_lag_ms.n == 100 and step.client_lag_ms.max == 30.0
    # numpy's p99 of 98 × 1 and 2 × 30 (sorted): position 0.99 × 99 = 98.01 -> 30 (both neighbours are 30)
    assert step.client_lag_ms.p99 == pytest.approx(30.0) and client_bound(step)
    assert step.meets_slo
    [flag] = _client_flags(step, connections=16, replicas=1)
    assert "client lagged" in flag and "p99 30.0 ms" in flag
    steady = summarise(StepRun(records=records, peak_in_flight=2, loop_lag=[(0.003 * i, 1.0) for i in range(100)]), "concurrency", 1, slo)
    assert not client_bound(steady) and _client_flags(steady, connections=16, replicas=1) == []
    # the lagging step served more per second, but only the steady one may be the operating point
    lagging = step.model_copy(update={"client_bound": True, "requests_per_s": 100.0})
    point = operating_point([steady, lagging], slo, simulated=False)
    assert point is not None and point.level == 1
    assert operating_point([lagging], slo, simulated=False) is None


@pytest.mark.parametrize(("protocol", "client"), [("openai", "lean"), ("anthropic", "sdk")])
def test_measure_drives_openai_protocol_runners_with_the_lean_client(sim_factory: Any, protocol: str, client: str) -> None:
    from evals.config import SimBehaviour
    from evals.measure.frontier import measure

    # 30 ms answers, 8 measured at C=2: a window of about 4 × 30 ms holds ~24 ticks of the 5 ms lag probe
    sim = sim_factory({"m": {"accuracy": {"default": 1.0}, "ttft_ms": 30, "tokens_per_second": 2000}})
    prof = _profile(provider="simulated", model="m", simulate=SimBehaviour(protocol=protocol).model_dump())
    f = measure(prof, [KNOWN], concurrencies=[2], requests_per_step=8, warmup=2, base_url=sim.base_url)
    assert f.client == client
    [step] = f.steps
    assert step.served == 8 and step.client_lag_ms is not None and step.client_lag_ms.n > 0
    assert f.profile_hash == prof.profile_hash()  # the profile as written, whichever client measured it


# ---------------------------------------------------------------- a whole run through each client


def test_a_run_stores_the_same_answers_through_either_client_and_records_the_choice(tmp_path: Any) -> None:
    from evals.config import find_runner, find_suite
    from evals.run.orchestrate import execute_run
    from evals.store.db import Store
    from tests.conftest import sim_runner, write_workspace

    same = {"accuracy": {"default": 0.6}}
    ws = write_workspace(tmp_path, {"s": sim_runner("model-a", **same), "l": {**sim_runner("model-a", **same), "client": "lean"}}, n_samples=20)
    store = Store(ws / "reports" / "evals.sqlite")
    try:
        summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, r) for r in ("s", "l")], store=store, quiet=True)
        cols = "sample_id, status, text, finish_reason, error_kind, input_tokens, output_tokens, http_status"
        rows = {r: store.query(f"SELECT {cols} FROM attempts WHERE run_id=? AND runner=? ORDER BY sample_id", (summary.run_id, r)) for r in ("s", "l")}
        assert len(rows["l"]) == 20 and rows["l"] == rows["s"]
        assert {x["status"] for x in rows["l"]} == {"ok"}
        profiles = {x["runner"]: json.loads(x["profile_json"])["client"] for x in store.query("SELECT runner, profile_json FROM run_runners WHERE run_id=?", (summary.run_id,))}
        assert profiles == {"s": "sdk", "l": "lean"}
    finally:
        store.close()


# ---------------------------------------------------------------- idle and total timeouts (the driver's watchdog)
# The driver keeps one watchdog timer per request and each event only notes its time; these pin the
# semantics the per-event timer had: the idle window counts from the latest event, the total from the start.

IDLE_S = 0.3
GAP_S = 0.05


def _paced(gaps: list[float], stall_s: float = 0.0) -> Any:
    """Events: a text delta after each of `gaps`; then, after `stall_s`, the finish."""
    from evals.providers.stream import Finish, TextDelta

    async def events() -> Any:
        for i, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            yield TextDelta(str(i))
        await asyncio.sleep(stall_s)
        yield Finish("stop")

    return events


class _VirtualSelector(selectors.DefaultSelector):
    """Waits in virtual time: where the loop would block for `timeout`, the clock jumps by it."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 5000.0  # as a monotonic clock reads: seconds since boot, not 0

    def select(self, timeout: float | None = None) -> Any:
        ready = super().select(0)
        if not ready and timeout:
            assert timeout != float("inf")
            self.now += timeout
        return ready


def _drive_timed(events: Any, timeouts: Timeouts) -> tuple[Completion, float]:
    """The events through the driver on an event loop whose clock is virtual (only sleeps and
    timers move it), so the timeouts are checked to the microsecond, not within a loaded machine's
    jitter. Returns the Completion and the virtual seconds it took."""
    from evals.providers.stream import drive

    selector = _VirtualSelector()

    class Loop(asyncio.SelectorEventLoop):
        def time(self) -> float:
            return selector.now

    def classify(exc: BaseException, got: bool) -> Completion:
        return Completion(status=Status.error, error=str(exc), error_kind="connection")

    async def go() -> tuple[Completion, float]:
        t0 = selector.now
        c = await drive(events, timeouts=timeouts, statuses={"stop": Status.ok}, classify=classify, streamed=True, missing="a finish_reason")
        return c, selector.now - t0

    with asyncio.Runner(loop_factory=lambda: Loop(selector)) as runner:
        return runner.run(go())


def test_a_steady_stream_slower_than_nothing_but_faster_than_the_idle_limit_completes() -> None:
    # 12 gaps of 50 ms: 0.6 s in all, twice the idle limit, every gap far below it
    c, took = _drive_timed(_paced([GAP_S] * 12), Timeouts(connect_s=1, idle_s=IDLE_S, total_s=10))
    assert (c.status, c.text, c.error_kind) == (Status.ok, "01234567891011", None)
    assert took == pytest.approx(12 * GAP_S)


def test_a_stream_that_stalls_after_events_times_out_idle_from_its_last_event() -> None:
    c, took = _drive_timed(_paced([GAP_S] * 6, stall_s=30), Timeouts(connect_s=1, idle_s=IDLE_S, total_s=10))
    assert (c.status, c.error_kind, c.text) == (Status.timeout, "timeout_idle", "012345")
    assert "stream stalled" in (c.error or "")
    # the idle limit after the last event: counted from it, not from the start or an earlier event
    assert took == pytest.approx(6 * GAP_S + IDLE_S)


def test_no_event_at_all_is_a_connect_timeout_after_the_idle_limit() -> None:
    # (the per-event timer this replaced was first set at an absolute time passed as a delay,
    # so a server that never answered was waited for far beyond both limits)
    c, took = _drive_timed(_paced([30]), Timeouts(connect_s=1, idle_s=IDLE_S, total_s=10))
    assert (c.status, c.error_kind, c.text) == (Status.timeout, "timeout_connect", "")
    assert took == pytest.approx(IDLE_S)


@pytest.mark.parametrize(("idle_s", "stall_s"), [(IDLE_S, 0.0), (30.0, 30.0)], ids=["steady", "idle-window-past-deadline"])
def test_the_total_timeout_holds_whatever_the_events(idle_s: float, stall_s: float) -> None:
    # steady: events keep coming (every 50 ms, for 1.5 s) but the total limit of 0.4 s ends it;
    # idle-window-past-deadline: a stall whose idle window would end after the deadline ends at the deadline, as total
    c, took = _drive_timed(_paced([GAP_S] * (30 if stall_s == 0 else 2), stall_s=stall_s), Timeouts(connect_s=1, idle_s=idle_s, total_s=0.4))
    assert (c.status, c.error_kind) == (Status.timeout, "timeout_total")
    assert "total timeout of 0.4s" in (c.error or "")
    assert took == pytest.approx(0.4)


class _PacedServer(LoopServer):
    """A loopback OpenAI-compatible server that sends its stream's chunks `gap_s` apart and, with
    `stall_after`, sends nothing more after that many chunks (the connection stays open)."""

    def __init__(self, chunks: int, gap_s: float, stall_after: int | None = None, tail_delay_s: float = 0.0) -> None:
        super().__init__()
        self.chunks, self.gap_s, self.stall_after, self.tail_delay_s = chunks, gap_s, stall_after, tail_delay_s

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(x.split(b":", 1)[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                words = [f"w{i}" for i in range(self.chunks)]
                pieces = openai_stream(" ".join(words))
                # pieces: the role chunk, one per word, the finish, the usage, [DONE]
                for i, p in enumerate(pieces):
                    if self.stall_after is not None and i == self.stall_after:
                        await asyncio.sleep(3600)
                    if 1 <= i <= self.chunks:
                        await asyncio.sleep(self.gap_s)
                    writer.write(f"{len(p):x}\r\n".encode() + p + b"\r\n")
                    await writer.drain()
                await asyncio.sleep(self.tail_delay_s)  # the body's end after [DONE]: at once, or late
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):  # cancelled: the server stops
            writer.close()


def test_slow_steady_stalled_and_silent_streams_end_alike_on_both_clients() -> None:
    # on the wire the idle limit leaves room for a loaded machine's stalls (the exact timing is the
    # virtual-clock tests' above): 0.6 s, with chunks 50 ms apart for 0.8 s
    t = Timeouts(connect_s=2, idle_s=0.6, total_s=10)
    with _PacedServer(chunks=16, gap_s=GAP_S) as srv:
        [c] = _same(_both(f"http://127.0.0.1:{srv.port}/v1", timeouts=t))
    assert (c.status, c.finish_reason, c.usage.output_tokens) == (Status.ok, "stop", 16)
    assert c.text == " ".join(f"w{i}" for i in range(16))
    assert c.timing.latency_ms is not None and c.timing.latency_ms >= 16 * GAP_S * 1000
    with _PacedServer(chunks=16, gap_s=GAP_S, stall_after=4) as srv:  # the role chunk and 3 words, then nothing
        [c] = _same(_both(f"http://127.0.0.1:{srv.port}/v1", timeouts=t))
    assert (c.status, c.error_kind, c.text) == (Status.timeout, "timeout_idle", "w0 w1 w2")
    with _PacedServer(chunks=16, gap_s=GAP_S, stall_after=0) as srv:  # the response's head, then nothing
        [c] = _same(_both(f"http://127.0.0.1:{srv.port}/v1", timeouts=t))
    assert (c.status, c.error_kind, c.text) == (Status.timeout, "timeout_connect", "")


# ---------------------------------------------------------------- the lean client's own HTTP/1.1


def test_a_connection_whose_end_comes_after_done_is_reused_and_its_drain_timer_spares_the_next_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body's terminating chunk may come after [DONE] (a server that writes it separately):
    the answer is complete at [DONE] (its latency does not wait for the end), and the connection
    goes back to the pool when the end arrives. A connection whose end never comes is closed
    after KEEPALIVE_S; that timer must not close the connection once it carries a later request."""
    import evals.providers.openai_lean as lean_mod

    monkeypatch.setattr(lean_mod, "KEEPALIVE_S", 0.5)
    t = Timeouts(connect_s=2, idle_s=5, total_s=10)

    async def go(port: int) -> list[Completion]:
        p = LeanOpenAIProvider(name="t", model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", timeouts=t)
        out = []
        try:
            for _ in range(3):
                out.append(await p.complete(KNOWN, GenerationParams()))
                await asyncio.sleep(0.35)  # the end (0.3 s after [DONE]) has come: the connection is idle again
        finally:
            await p.aclose()
        return out

    # each answer: 6 chunks 0.1 s apart (0.6 s, longer than KEEPALIVE_S), its end 0.3 s after [DONE]
    with _PacedServer(chunks=6, gap_s=0.1, tail_delay_s=0.3) as srv:
        results = asyncio.run(go(srv.port))
        connections = srv.connections
    assert [(c.status, c.text) for c in results] == [(Status.ok, "w0 w1 w2 w3 w4 w5")] * 3, [c.error for c in results]
    # complete at [DONE]: had the answer waited for the body's end, every one would take 0.6 + 0.3 s
    assert min(c.timing.latency_ms or 1e9 for c in results) < 600 + 300
    assert connections == 1


def _response(raw: bytes, cut: int) -> tuple[bytes, bool, int, bool]:
    """Feed one response to a connection's parser in two pieces: (body, ended, status, keep-alive)."""
    from evals.providers.openai_lean import _Conn

    loop = asyncio.new_event_loop()
    try:
        c = _Conn(loop)
        c.data_received(raw[:cut])
        c.data_received(raw[cut:])
        if not c.done and not c.closed:
            c.connection_lost(None)  # the server closes: the end of a body framed by the connection
        assert c._exc is None, c._exc
        return b"".join(c._pieces), c.done, c.status, c.keep_alive
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # chunked, with a chunk extension and a trailer, after an interim 100 Continue
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            (b"hello, world", True, 200, True),
        ),
        (b"HTTP/1.1 429 Too Many\r\nContent-Length: 4\r\nRetry-After: 2\r\n\r\nslow", (b"slow", True, 429, True)),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", (b"until the end", True, 200, False)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", (b"ok", True, 200, False)),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (b"", True, 204, True)),
        # bytes after a complete response: the answer stands, the connection is not reused
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokgarbage", (b"ok", True, 200, False)),
    ],
    ids=["chunked", "length", "until-close", "http1.0", "204", "trailing-bytes"],
)
def test_the_response_parser_frames_every_body_at_any_split(raw: bytes, expected: tuple[bytes, bool, int, bool]) -> None:
    for cut in range(len(raw) + 1):
        assert _response(raw, cut) == expected, cut


def test_a_compressed_body_is_inflated() -> None:
    import gzip

    body = gzip.compress(b'{"choices": []}')
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    assert _response(raw, len(raw) // 2)[0] == b'{"choices": []}'


def test_a_url_the_lean_client_cannot_speak_to_is_refused_when_the_runner_is_made() -> None:
    for url in ("ftp://127.0.0.1/v1", "unix:///tmp/sock", "http:///v1"):
        with pytest.raises(ValueError, match="http:// and https:// only"):
            LeanOpenAIProvider(name="t", model="m", base_url=url, api_key="k", timeouts=TIMEOUTS)
    with pytest.raises(ValueError, match="line break"):
        LeanOpenAIProvider(name="t", model="m", base_url="http://127.0.0.1:1/v1", api_key="k\r\nX-Injected: 1", timeouts=TIMEOUTS)
