"""Token counts a server reported that cannot all be true, and how such an answer is billed.

Servers are not always consistent: a llama.cpp or proxy build may report more
cached prompt tokens than prompt tokens, or a negative count. The answer is
still an answer: it is stored with its counts exactly as reported, the runner
is flagged (a `usage_anomaly` server fact), and its cost is computed from the
reading that costs the most, so the budget and the cost per task never
under-count because a server miscounted.
"""

from __future__ import annotations

from evals.providers.base import Usage

_COUNTS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def usage_anomaly(usage: Usage) -> str | None:
    """Why these counts cannot all be true, or None when they can."""
    negative = [f"{name}={getattr(usage, name)}" for name in _COUNTS if (getattr(usage, name) or 0) < 0]
    if negative:
        return "negative token counts: " + ", ".join(negative)
    parts = (usage.cached_input_tokens or 0) + (usage.cache_write_tokens or 0)
    if usage.input_tokens is not None and parts > usage.input_tokens:
        return f"{parts} cached and cache-written prompt tokens but only {usage.input_tokens} prompt tokens"
    if usage.reasoning_tokens is not None and usage.output_tokens is not None and usage.reasoning_tokens > usage.output_tokens:
        return f"{usage.reasoning_tokens} reasoning tokens but only {usage.output_tokens} output tokens"
    return None


def billable_usage(usage: Usage) -> Usage:
    """The counts to bill: negatives as 0, and a prompt at least as long as its cached and written parts."""
    fixed = {name: max(getattr(usage, name), 0) if getattr(usage, name) is not None else None for name in _COUNTS}
    parts = (fixed["cached_input_tokens"] or 0) + (fixed["cache_write_tokens"] or 0)
    if parts and (fixed["input_tokens"] or 0) < parts:
        fixed["input_tokens"] = parts
    return Usage(**fixed)
