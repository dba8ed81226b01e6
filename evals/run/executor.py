"""Send a runner's requests: a fixed pool of workers, retries, back-off on 429,
a budget, and every attempt written to the store as it arrives.

A pool of `concurrency` workers pulling from a list is cheaper than one task
per request behind a semaphore, which matters when the harness must not be
the bottleneck it measures (see benchmarks/bench_harness.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Callable

from evals.config import RunnerProfile
from evals.providers.base import Completion, GenerationParams, Message, Provider, Status, Usage
from evals.run.budget import Budget
from evals.run.policy import Breaker, backoff_delay, max_wait_s, retry_after_too_long, should_retry
from evals.secrets import scrub
from evals.store.db import Store


@dataclass(frozen=True)
class Job:
    sample_id: str
    messages: list[Message]
    key: str
    worst_case_usd: float = 0.0
    purpose: str = "run"
    """`run` for a runner's answer to a sample; `judge:<scorer>` for a judge's verdict on one."""
    params: GenerationParams | None = None
    """Settings for this request alone; None sends the runner's params."""
    epoch: int = 1
    """Which of a sampling runner's repeats of the sample this request is."""


@dataclass(frozen=True)
class Answer:
    """A request's final completion, with what every attempt at it cost together."""

    completion: Completion
    attempts: int
    usage: Usage
    cost_usd: float


def sum_usage(a: Usage, b: Usage) -> Usage:
    """Field by field; a count neither side reported stays None."""
    both = {}
    for name in Usage.model_fields:
        x, y = getattr(a, name), getattr(b, name)
        both[name] = None if x is None and y is None else (x or 0) + (y or 0)
    return Usage(**both)


@dataclass
class RunnerResult:
    runner: str
    sent: int = 0
    """Attempts sent over the wire by this invocation, retries included."""
    stopped_reason: str | None = None
    """Why the runner stopped before its last sample: `budget`, `breaker: ...` (a dead
    endpoint), `quota: ...` (an exhausted key). None when it sent everything."""
    wall_s: float = 0.0
    answered_ok: int = 0
    """Requests of this invocation whose final answer was `ok`."""


class AdaptiveGate:
    """Concurrency for one endpoint: halves on a 429 and pauses everyone for the
    server's retry-after, then grows back by one per 10 successes."""

    def __init__(self, limit: int) -> None:
        self.max = limit
        self.limit = limit
        self.active = 0
        self.cooldown_until = 0.0
        self._successes = 0
        self._freed = asyncio.Event()

    async def acquire(self) -> None:
        while self.active >= self.limit:
            self._freed.clear()
            await self._freed.wait()
        self.active += 1
        wait = self.cooldown_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def release(self, c: Completion, max_wait: float = float("inf")) -> None:
        """A retry-after beyond `max_wait` pauses no one: that attempt is given up instead."""
        self.active -= 1
        if c.error_kind == "rate_limit":
            self.limit = max(1, self.limit // 2)
            self._successes = 0
            if c.retry_after_s and c.retry_after_s <= max_wait:
                self.cooldown_until = max(self.cooldown_until, time.monotonic() + c.retry_after_s)
        elif c.status is Status.ok and self.limit < self.max:
            self._successes += 1
            if self._successes >= 10:
                self.limit += 1
                self._successes = 0
        self._freed.set()


class Caller:
    """The one way any model call is made: a runner's replicas, each behind an
    adaptive gate, the retry policy, the budget, and every attempt written to
    the store. The run's workers and the LLM judge both call through it, so a
    judge's spend is budgeted, retried and stored like a runner's."""

    def __init__(
        self,
        profile: RunnerProfile,
        providers: list[Provider],
        *,
        store: Store,
        run_id: str,
        cost_of: Callable[[Usage], float],
        budget: Budget,
        result: RunnerResult | None = None,
    ) -> None:
        self.profile = profile
        self.providers = providers
        self.store = store
        self.run_id = run_id
        self.cost_of = cost_of
        self.budget = budget
        self.result = result or RunnerResult(runner=profile.name)
        self.gates = [AdaptiveGate(max(1, profile.concurrency // len(providers))) for _ in providers]
        self.breakers = [Breaker() for _ in providers]
        self._rng = random.Random(0)  # back-off jitter only
        self._max_wait = max_wait_s(profile.retry, profile.timeouts.total_s)

    def _stop(self, reason: str) -> None:
        """Stop this runner: the workers finish what is in flight and send nothing new."""
        if self.result.stopped_reason is None:
            self.result.stopped_reason = reason

    def _give_up(self, c: Completion, i: int) -> bool:
        """Whether this attempt stops the whole runner: an exhausted quota (every
        further request would fail the same way) or a tripped breaker (a dead endpoint)."""
        if c.error_kind == "quota":
            self._stop(f"quota: the API key's quota is exhausted ({c.error or 'HTTP 429 insufficient_quota'})")
            return True
        reason = self.breakers[i].record(c)
        if reason is not None:
            self._stop(f"breaker: {reason}")
            return True
        return False

    async def call(self, job: Job, worker: int = 0) -> Answer | None:
        """The final completion of `job` after retries; None when it was not answered
        because the runner stopped (`result.stopped_reason`: budget, breaker, quota)."""
        policy = self.profile.retry
        attempt = 0
        usage, spent = Usage(), 0.0
        while True:
            if self.result.stopped_reason is not None:
                return None
            attempt += 1
            i = (worker + attempt - 1) % len(self.providers)  # a retry goes to the next replica
            # Only paid requests draw on the budget: a self-hosted runner is never stopped by an API runner's spend.
            if job.worst_case_usd > 0 and not self.budget.try_reserve(job.worst_case_usd):
                self._stop("budget")
                return None
            gate = self.gates[i]
            await gate.acquire()
            try:
                c = await self.providers[i].complete(job.messages, job.params or self.profile.params)
            except Exception as exc:  # a provider bug must not take the run down with it
                c = Completion(status=Status.error, error=scrub(f"internal error: {type(exc).__name__}: {exc}"), error_kind="internal")
            gate.release(c, self._max_wait)
            self.result.sent += 1
            cost = self.cost_of(c.usage) if c.usage.input_tokens is not None or c.usage.output_tokens is not None else 0.0
            self.budget.settle(job.worst_case_usd, cost)
            usage, spent = sum_usage(usage, c.usage), spent + cost
            if retry_after_too_long(c, self._max_wait):
                c.error = f"{c.error}; the server asked to retry after {c.retry_after_s:g}s, beyond the {self._max_wait:g}s this runner waits (retry.max_delay_s, total timeout): not retried"
            stop = self._give_up(c, i)
            retry = not stop and should_retry(c, attempt, policy, self._max_wait)
            if not retry and c.status is Status.ok and job.purpose == "run":
                self.result.answered_ok += 1
            self.store.record_attempt(self.run_id, self.profile.name, job.sample_id, job.key, attempt, not retry, c, cost, self.providers[i].base_url, purpose=job.purpose, epoch=job.epoch)
            if stop:
                return None
            if not retry:
                return Answer(c, attempt, usage, spent)
            await asyncio.sleep(backoff_delay(attempt, c.retry_after_s, policy, self._rng, self._max_wait))


async def run_jobs(
    profile: RunnerProfile,
    providers: list[Provider],
    jobs: list[Job],
    *,
    store: Store,
    run_id: str,
    cost_of: Callable[[Usage], float],
    budget: Budget,
    on_done: Callable[[], None] | None = None,
) -> RunnerResult:
    caller = Caller(profile, providers, store=store, run_id=run_id, cost_of=cost_of, budget=budget)
    queue = iter(jobs)
    started = time.perf_counter()

    async def worker(w: int) -> None:
        for job in queue:
            if await caller.call(job, w) is None:
                return
            if on_done:
                on_done()

    try:
        await asyncio.gather(*(worker(w) for w in range(min(profile.concurrency, max(1, len(jobs))))))
    finally:
        caller.result.wall_s = time.perf_counter() - started
    return caller.result
