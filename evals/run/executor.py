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
from evals.providers.base import Completion, Message, Provider, Status, Usage
from evals.run.budget import Budget
from evals.run.policy import backoff_delay, should_retry
from evals.secrets import scrub
from evals.store.db import Store


@dataclass(frozen=True)
class Job:
    sample_id: str
    messages: list[Message]
    key: str
    worst_case_usd: float = 0.0


@dataclass
class RunnerResult:
    runner: str
    sent: int = 0
    """Attempts sent over the wire by this invocation, retries included."""
    stopped_reason: str | None = None
    wall_s: float = 0.0


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

    def release(self, c: Completion) -> None:
        self.active -= 1
        if c.error_kind == "rate_limit":
            self.limit = max(1, self.limit // 2)
            self._successes = 0
            if c.retry_after_s:
                self.cooldown_until = max(self.cooldown_until, time.monotonic() + c.retry_after_s)
        elif c.status is Status.ok and self.limit < self.max:
            self._successes += 1
            if self._successes >= 10:
                self.limit += 1
                self._successes = 0
        self._freed.set()


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
    result = RunnerResult(runner=profile.name)
    gates = [AdaptiveGate(max(1, profile.concurrency // len(providers))) for _ in providers]
    rng = random.Random(0)  # back-off jitter only
    queue = iter(jobs)
    policy = profile.retry
    params = profile.params
    started = time.perf_counter()

    async def worker(w: int) -> None:
        for job in queue:
            attempt = 0
            while True:
                attempt += 1
                i = (w + attempt - 1) % len(providers)  # a retry goes to the next replica
                # Only paid requests draw on the budget: a self-hosted runner is never stopped by an API runner's spend.
                if job.worst_case_usd > 0 and not budget.try_reserve(job.worst_case_usd):
                    result.stopped_reason = "budget"
                    return
                gate = gates[i]
                await gate.acquire()
                try:
                    c = await providers[i].complete(job.messages, params)
                except Exception as exc:  # a provider bug must not take the run down with it
                    c = Completion(status=Status.error, error=scrub(f"internal error: {type(exc).__name__}: {exc}"), error_kind="internal")
                gate.release(c)
                result.sent += 1
                cost = cost_of(c.usage) if c.usage.input_tokens is not None or c.usage.output_tokens is not None else 0.0
                budget.settle(job.worst_case_usd, cost)
                retry = should_retry(c, attempt, policy)
                store.record_attempt(run_id, profile.name, job.sample_id, job.key, attempt, not retry, c, cost, providers[i].base_url)
                if not retry:
                    if on_done:
                        on_done()
                    break
                await asyncio.sleep(backoff_delay(attempt, c.retry_after_s, policy, rng))

    try:
        await asyncio.gather(*(worker(w) for w in range(min(profile.concurrency, max(1, len(jobs))))))
    finally:
        result.wall_s = time.perf_counter() - started
    return result
