"""Drive an endpoint at one load level and record every request's timing.

Closed loop: C workers, each sending its next request as soon as the last one
ends, so exactly C are in flight. Open loop: arrivals at Poisson times (or,
with a burstiness other than 1, gamma-distributed gaps as vLLM's
benchmark_serving draws them) from a seeded generator, sent at those times whatever the server is doing, as
real traffic arrives; each request's scheduling lag (actual − scheduled send
time) is recorded so that a client that fell behind shows in the figures.

Both keep the load on after the last measured request was sent, until it has
ended, and only then cancel what is still in flight: the measurement window
must see the server at the full load level from start to end. Requests are
never retried; a failure is one data point.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from evals.providers.base import Completion, GenerationParams, Message, Provider, Status

Phase = Literal["warmup", "measured", "extra"]


@dataclass(slots=True)
class Sent:
    """One finished request. Times are `time.perf_counter()` seconds."""

    phase: Phase
    scheduled: float | None
    sent: float
    end: float
    completion: Completion


@dataclass
class StepRun:
    records: list[Sent] = field(default_factory=list)
    peak_in_flight: int = 0
    loop_lag: list[tuple[float, float]] = field(default_factory=list)
    """(perf_counter time, ms late) of every tick of `watch_loop` during the step."""


LAG_PERIOD_S = 0.005


async def watch_loop(samples: list[tuple[float, float]], period_s: float = LAG_PERIOD_S) -> None:
    """The client's own lag: how late the event loop runs a timer due every
    `period_s` because it was busy with its own work.

    Every socket read, SSE event and timestamp of the step waits in the same
    loop, so when the loop is late by L ms, an event that arrived on the socket
    is processed (and timed) up to L ms late: TTFT and ITL then measure the
    client, not the server. Only the part of the lateness the loop's thread
    spent running counts (min(late, its CPU time over the interval)): a
    process descheduled by other work on a shared machine, or waiting for the
    GIL held by an in-process simulated server, is late without being busy,
    and that is not the client falling behind its streams. Cheap enough (200
    wake-ups a second) to run in every step."""
    while True:
        cpu0 = time.thread_time()
        due = time.perf_counter() + period_s
        await asyncio.sleep(period_s)
        now = time.perf_counter()
        late = max(0.0, now - due)
        samples.append((now, min(late, time.thread_time() - cpu0) * 1000.0))


class Load:
    """The request bookkeeping that closed and open loop share: which phase a
    request belongs to, and when the step is over."""

    def __init__(
        self,
        providers: list[Provider],
        prompts: list[list[Message]],
        params: GenerationParams,
        *,
        warmup: int,
        requests: int | None,
        duration_s: float | None,
        on_measured: Callable[[], None] = lambda: None,
    ) -> None:
        if requests is None and duration_s is None:
            raise ValueError("a step needs a request count or a duration")
        self.providers = providers
        self.prompts = prompts
        self.params = params
        self.warmup = warmup
        self.requests = requests
        self.duration_s = duration_s
        self.on_measured = on_measured
        self.run = StepRun()
        self.done = asyncio.Event()
        self._in_flight = 0
        self._warm_pending = warmup
        self._measured_sent = 0
        self._measured_pending = 0
        self._first_measured: float | None = None
        self._closed = False

    def phase(self, index: int, at: float) -> Phase:
        """Warm-up first; then measured until the request count or the duration
        is reached; after that, extra load that is cancelled at the end."""
        if index < self.warmup:
            return "warmup"
        if self._closed:
            return "extra"
        if self._first_measured is None:
            self._first_measured = at
        if self.duration_s is not None and at - self._first_measured >= self.duration_s:
            self._close()
            return "extra"
        self._measured_sent += 1
        self._measured_pending += 1
        if self.requests is not None and self._measured_sent >= self.requests:
            self._close()
        return "measured"

    def _close(self) -> None:
        self._closed = True
        self._check_done()

    def _check_done(self) -> None:
        if self._closed and self._warm_pending == 0 and self._measured_pending == 0:
            self.done.set()

    async def send(self, index: int, phase: Phase, scheduled: float | None) -> None:
        provider = self.providers[index % len(self.providers)]
        messages = self.prompts[index % len(self.prompts)]
        self._in_flight += 1
        self.run.peak_in_flight = max(self.run.peak_in_flight, self._in_flight)
        sent = time.perf_counter()
        try:
            c = await provider.complete(messages, self.params)
        except Exception as exc:  # a provider bug is one failed request, not a failed step
            c = Completion(status=Status.error, error=f"internal error: {type(exc).__name__}: {exc}", error_kind="internal")
        finally:
            self._in_flight -= 1
        self.run.records.append(Sent(phase, scheduled, sent, time.perf_counter(), c))
        if phase == "warmup":
            self._warm_pending -= 1
        elif phase == "measured":
            self._measured_pending -= 1
            self.on_measured()
        self._check_done()


async def _finish(load: Load, tasks: set[asyncio.Task[None]]) -> StepRun:
    await load.done.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return load.run


async def closed_loop(load: Load, concurrency: int) -> StepRun:
    counter = itertools.count()

    async def worker() -> None:
        while True:
            i = next(counter)
            await load.send(i, load.phase(i, time.perf_counter()), None)

    probe = asyncio.create_task(watch_loop(load.run.loop_lag))
    return await _finish(load, {probe, *(asyncio.create_task(worker()) for _ in range(concurrency))})


def arrival_gap(rate: float, burstiness: float, rng: random.Random) -> float:
    """One gap between arrivals, of mean 1/rate. Burstiness is the gamma shape:
    1 is Poisson (exponential gaps), below 1 burstier, above 1 steadier; the
    scale 1/(rate × burstiness) keeps the mean rate (vLLM's benchmark_serving,
    https://github.com/vllm-project/vllm/blob/main/benchmarks/benchmark_serving.py, read 2026-12-03)."""
    if burstiness == 1.0:
        return rng.expovariate(rate)
    return rng.gammavariate(burstiness, 1.0 / (rate * burstiness))


async def open_loop(load: Load, rate: float, rng: random.Random, burstiness: float = 1.0) -> StepRun:
    """Arrival i is due at the sum of i gaps (`arrival_gap`) after the start.
    The schedule depends only on the seed, never on a response.

    The dispatcher is a timer callback, not a task sleeping once per arrival: each wake-up
    starts every arrival already due (all of them at once when it fell behind) and sets the
    timer for the next one, which spares a sleeping task's future and wake-up per request
    (a tenth of the client's CPU at a thousand requests a second)."""
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    to_loop = loop.time() - start  # perf_counter seconds -> the loop's clock, for the timer
    i = 0
    due = start + arrival_gap(rate, burstiness, rng)
    timer: asyncio.TimerHandle

    def dispatch() -> None:
        nonlocal i, due, timer
        now = time.perf_counter()
        while due <= now:
            t = loop.create_task(load.send(i, load.phase(i, due), due))
            in_flight.add(t)
            t.add_done_callback(in_flight.discard)
            i += 1
            due += arrival_gap(rate, burstiness, rng)
        timer = loop.call_at(due + to_loop, dispatch)

    timer = loop.call_at(due + to_loop, dispatch)
    probe = asyncio.create_task(watch_loop(load.run.loop_lag))
    try:
        await load.done.wait()
    finally:
        timer.cancel()
    return await _finish(load, {probe, *in_flight})
