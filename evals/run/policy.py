"""Retry and back-off decisions: pure functions, so they can be tested with known answers."""

from __future__ import annotations

import random

from evals.config import RetryPolicy
from evals.providers.base import Completion, Status
from evals.providers.errors import RETRYABLE


def should_retry(c: Completion, attempt: int, policy: RetryPolicy) -> bool:
    """Retry transient failures only: never 400/401/403/404, an exhausted quota, a
    length truncation (deterministic) or a refusal."""
    if c.status is Status.ok or attempt >= policy.max_attempts:
        return False
    return c.error_kind in RETRYABLE


def backoff_delay(attempt: int, retry_after_s: float | None, policy: RetryPolicy, rng: random.Random) -> float:
    """The server's retry-after when it gave one (plus a little jitter so
    workers do not return in lock-step); else full-jitter exponential back-off."""
    if retry_after_s is not None:
        return min(retry_after_s, policy.max_delay_s) * (1.0 + 0.1 * rng.random())
    cap = min(policy.max_delay_s, policy.base_delay_s * (2 ** (attempt - 1)))
    return rng.uniform(cap / 2, cap)
