"""Retry, back-off and give-up decisions: pure, so they can be tested with known answers."""

from __future__ import annotations

import random

from evals.config import RetryPolicy
from evals.providers.base import Completion, Status
from evals.providers.errors import RETRYABLE

UNREACHABLE_AFTER = 4
"""An endpoint whose first this many attempts all failed to connect is dead: at
concurrency 1 the back-off before the 4th attempt adds up to at most 3.5 s with
the default policy, so a dead endpoint is given up in seconds, not minutes."""
SERVER_ERRORS_AFTER = 8
"""An endpoint whose first this many attempts were all 5xx is broken, not busy.
Larger than UNREACHABLE_AFTER: a loaded server may answer a few 503s at the start
(at a 30% transient error rate, 8 in a row is 7 in 100,000)."""

_UNREACHABLE = frozenset({"connection", "timeout_connect"})


def max_wait_s(policy: RetryPolicy, total_timeout_s: float) -> float:
    """The longest a retry may wait: the policy's max_delay_s, and never more than the
    request's own total timeout (a wait longer than a whole attempt may take is a stop)."""
    return min(policy.max_delay_s, total_timeout_s)


def retry_after_too_long(c: Completion, max_wait: float) -> bool:
    """A retry-after beyond what the policy will wait (3600 s, `inf`): the attempt fails as rate-limited."""
    return c.retry_after_s is not None and c.retry_after_s > max_wait


def should_retry(c: Completion, attempt: int, policy: RetryPolicy, max_wait: float | None = None) -> bool:
    """Retry transient failures only: never 400/401/403/404, an exhausted quota, a
    length truncation (deterministic), a refusal, or a retry-after longer than `max_wait`."""
    if c.status is Status.ok or attempt >= policy.max_attempts:
        return False
    if retry_after_too_long(c, policy.max_delay_s if max_wait is None else max_wait):
        return False
    return c.error_kind in RETRYABLE


def backoff_delay(attempt: int, retry_after_s: float | None, policy: RetryPolicy, rng: random.Random, max_wait: float | None = None) -> float:
    """The server's retry-after when it gave one (plus a little jitter so
    workers do not return in lock-step); else full-jitter exponential back-off.
    Never more than `max_wait` (default the policy's max_delay_s)."""
    limit = policy.max_delay_s if max_wait is None else max_wait
    if retry_after_s is not None:
        return min(retry_after_s * (1.0 + 0.1 * rng.random()), limit)
    cap = min(limit, policy.base_delay_s * (2 ** (attempt - 1)))
    return rng.uniform(cap / 2, cap)


class Breaker:
    """One endpoint's fail-fast switch. It trips when the endpoint's first attempts
    all failed the same dead way (UNREACHABLE_AFTER connection failures, or
    SERVER_ERRORS_AFTER 5xx) before it ever answered otherwise: retrying every
    sample against it would only take minutes to learn the same thing. Once the
    endpoint has answered anything else, it never trips."""

    def __init__(self, unreachable_after: int = UNREACHABLE_AFTER, server_errors_after: int = SERVER_ERRORS_AFTER) -> None:
        self.unreachable_after = unreachable_after
        self.server_errors_after = server_errors_after
        self.alive = False
        self.unreachable = 0
        self.server_errors = 0

    def record(self, c: Completion) -> str | None:
        """None, or the one-line reason the endpoint is given up."""
        if self.alive:
            return None
        if c.error_kind in _UNREACHABLE:
            self.unreachable += 1
            if self.unreachable >= self.unreachable_after:
                return f"{c.error or c.error_kind} (the first {self.unreachable} attempts all failed to connect)"
        elif c.error_kind == "server":
            self.server_errors += 1
            if self.server_errors >= self.server_errors_after:
                return f"the server answered only errors: {c.error or 'HTTP 5xx'} (the first {self.server_errors} attempts were all 5xx)"
        else:
            self.alive = True
        return None
