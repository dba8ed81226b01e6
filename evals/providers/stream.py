"""The one stream driver every HTTP provider shares.

A provider only translates its wire protocol into the events below; the
driver owns everything that must mean the same on every protocol: the clock
(time to first token, the gap before every content chunk, TPOT), the idle and
total timeouts, the status of a stream that ended (by its finish reason;
`truncated` when the closing event never came; an `error` naming the server's
fault when a 200 stream carried nothing at all), the mapping of failures to
data, and the one transparent retry of a stale pooled connection.

Definitions follow vLLM's benchmark_serving
(https://github.com/vllm-project/vllm/blob/main/benchmarks/benchmark_serving.py, read 2026-12-03):
TTFT is the time to the first content chunk; ITL is the gap between
consecutive content chunks (a chunk may hold several tokens); TPOT is
(latency - TTFT) / (output tokens - 1), a per-request mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from evals.providers.base import Completion, Status, Timeouts, Timing, Usage


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of tool call number `index`: the first fragment of a call
    usually carries its id and name, later ones only pieces of the JSON arguments."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Finish:
    """The server's closing word: its finish/stop reason. A provider yields it
    only once the protocol's closing event arrived (OpenAI: a finish_reason;
    Anthropic: message_stop)."""

    reason: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Token counts so far; the last report of a stream wins."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class ServedModel:
    model: str


Event = TextDelta | ToolCallDelta | Finish | UsageReport | ServedModel

OpenEvents = Callable[[], AsyncIterator[Event]]
"""Starts one request and yields its events; called again for the stale-connection retry."""
Classify = Callable[[BaseException, bool], Completion]
"""A failure as data; the flag says whether any content or finish had arrived."""


def tpot_ms(ttft_ms: float | None, latency_ms: float | None, output_tokens: int | None) -> float | None:
    """vLLM's time per output token after the first: (latency - TTFT) / (output tokens - 1)."""
    if ttft_ms is None or latency_ms is None or not output_tokens or output_tokens < 2:
        return None
    return (latency_ms - ttft_ms) / (output_tokens - 1)


def make_timing(started: float, first: float | None, end: float, output_tokens: int | None, gaps: list[float] | None) -> Timing:
    ttft = (first - started) * 1000 if first is not None else None
    latency = (end - started) * 1000
    tpot = tpot_ms(ttft, latency, output_tokens)
    return Timing(ttft_ms=ttft, latency_ms=latency, output_tps=1000.0 / tpot if tpot else None, tpot_ms=tpot, chunk_gaps_ms=gaps)


class _ToolCalls:
    """Tool-call fragments joined by index, in OpenAI's shape."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, d: ToolCallDelta) -> None:
        call = self.calls.setdefault(d.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        if d.id:
            call["id"] = d.id
        if d.name:
            call["function"]["name"] += d.name
        call["function"]["arguments"] += d.arguments

    def result(self) -> list[dict[str, Any]]:
        return [self.calls[i] for i in sorted(self.calls)]


async def drive(
    open_events: OpenEvents,
    *,
    timeouts: Timeouts,
    statuses: dict[str, Status],
    classify: Classify,
    streamed: bool,
    missing: str,
    is_stale: Callable[[BaseException], bool] = lambda exc: False,
    on_stale: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.perf_counter,
) -> Completion:
    """Consume one request's events into a Completion.

    `streamed` is False for a whole (non-streamed) response: its events all
    arrive at once, so no time to first token or chunk gaps are claimed.
    `missing` names the closing event for the `truncated` message. A failure
    before any event that `is_stale` recognises (a pooled connection the
    server had already closed: the request never reached it) is retried once
    at once, after `on_stale` (the provider stops reusing connections), and
    is neither an attempt nor a failure.
    """
    try:
        return await _drive_once(open_events, timeouts, statuses, classify, streamed, missing, is_stale, clock)
    except _Stale:
        on_stale()
    return await _drive_once(open_events, timeouts, statuses, classify, streamed, missing, lambda exc: False, clock)


class _Stale(Exception):
    """A stale pooled connection, caught by `drive` and retried once."""


async def _drive_once(
    open_events: OpenEvents,
    timeouts: Timeouts,
    statuses: dict[str, Status],
    classify: Classify,
    streamed: bool,
    missing: str,
    is_stale: Callable[[BaseException], bool],
    clock: Callable[[], float],
) -> Completion:
    loop = asyncio.get_running_loop()
    # the loop's clock; asyncio's own reads time.monotonic, called directly to spare a frame per event
    mono = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
    started = clock()
    # The idle and total timeouts: one watchdog timer per request rather than a timer
    # rescheduled on every event (which cost the lean client ~8% of its CPU). Each event
    # only records its loop time in `last`; the watchdog, when it fires, re-arms itself
    # for last + idle if anything arrived meanwhile, and expires the request only when
    # nothing did for idle_s (or at the total deadline, whichever comes first).
    last = mono()
    deadline = last + timeouts.total_s
    idle_s = timeouts.idle_s
    expired: str | None = None  # "idle" or "total", once the watchdog expired the request
    cm = asyncio.timeout(None)
    handle: asyncio.TimerHandle

    def watchdog() -> None:
        nonlocal handle, expired
        due = min(deadline, last + idle_s)
        if due > mono():
            handle = loop.call_at(due, watchdog)
        else:
            # An idle window that would have run past the deadline ends at it: the total timeout.
            expired = "total" if due == deadline else "idle"
            cm.reschedule(mono())

    handle = loop.call_at(min(deadline, last + idle_s), watchdog)
    first: float | None = None
    prev: float | None = None
    gaps: list[float] = []
    parts: list[str] = []
    calls = _ToolCalls()
    finish: str | None = None
    usage: Usage | None = None
    served: str | None = None
    seen = False  # any event at all
    try:
        async with cm:
            events = open_events()
            async with contextlib.aclosing(events):  # type: ignore[type-var]
                async for ev in events:
                    last = mono()
                    seen = True
                    if isinstance(ev, (TextDelta, ToolCallDelta)):
                        now = clock()
                        if first is None:
                            first = now
                        elif streamed and prev is not None:
                            gaps.append((now - prev) * 1000)
                        prev = now
                        if isinstance(ev, TextDelta):
                            parts.append(ev.text)
                        else:
                            calls.add(ev)
                    elif isinstance(ev, Finish):
                        finish = ev.reason
                    elif isinstance(ev, UsageReport):
                        usage = ev.usage
                    elif isinstance(ev, ServedModel):
                        served = served or ev.model
    except TimeoutError:
        got = first is not None or finish is not None
        t = make_timing(started, first if streamed else None, clock(), None, None)
        if expired == "total":
            return Completion(status=Status.timeout, text="".join(parts), error=f"no complete answer within the total timeout of {timeouts.total_s:g}s", error_kind="timeout_total", timing=t)
        what = "the stream stalled" if got else "no response"
        return Completion(
            status=Status.timeout, text="".join(parts), error=f"{what}: nothing arrived for the idle timeout of {timeouts.idle_s:g}s", error_kind="timeout_idle" if got else "timeout_connect", timing=t
        )
    except Exception as exc:  # the SDK's and transport's failures become data
        if not seen and is_stale(exc):
            raise _Stale() from exc
        c = classify(exc, first is not None or finish is not None)
        c.text = "".join(parts)
        c.timing = make_timing(started, first if streamed else None, clock(), None, None)
        return c
    finally:
        handle.cancel()
    end = clock()
    if usage is None:
        usage = Usage()
    text = "".join(parts)
    tool_calls = calls.result()
    if not streamed:
        first, gaps_out = None, None
    else:
        gaps_out = gaps
    t = make_timing(started, first, end, usage.output_tokens, gaps_out)
    if finish is None:
        if first is None:
            # A 200 that carried no content and no closing event is the server's fault, not a cut answer.
            return Completion(
                status=Status.error,
                usage=usage,
                error=f"server fault: it answered 200 but the {'stream' if streamed else 'response'} held no content and ended without {missing}",
                error_kind="empty_stream",
                timing=t,
                served_model=served,
            )
        return Completion(status=Status.truncated, text=text, tool_calls=tool_calls, usage=usage, error=f"stream ended without {missing}", error_kind="dropped_stream", timing=t, served_model=served)
    return Completion(status=statuses.get(finish, Status.ok), text=text, tool_calls=tool_calls, finish_reason=finish, usage=usage, timing=t, served_model=served)
