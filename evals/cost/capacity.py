"""Whether a measured capacity may size a deployment.

`evals measure` flags an operating point whose decode rate beats the
hardware's physical bound (memory bandwidth ÷ bytes of weights per step): such
a figure is a broken measurement (a cache answered, usage miscounted, another
model served), not a fast server. Sizing replicas and a break-even from it
would make self-hosting look cheaper than physics allows, so it is refused
unless the caller overrides knowingly.
"""

from __future__ import annotations

from evals.measure.model import Frontier

OVERRIDE_HINT = (
    "re-measure (`evals measure`), give a capacity you trust (`evals cost --capacity RUNNER=TASKS_PER_HOUR`), "
    "or use it knowingly with --allow-above-bound (evals cost, evals report)"
)


def above_bound(frontier: Frontier) -> list[str]:
    """Why the frontier's operating point is physically impossible; empty when it is not (or was not checked)."""
    op = frontier.operating_point
    if op is None:
        return []
    step = next((s for s in frontier.steps if s.mode == op.mode and s.level == op.level), None)
    if step is None:
        return []
    out = []
    if step.decode_bound_per_stream_tps is not None and step.per_stream_output_tps is not None and step.per_stream_output_tps > step.decode_bound_per_stream_tps:
        out.append(f"median per-stream output {step.per_stream_output_tps:,.0f} tokens/s > bound {step.decode_bound_per_stream_tps:,.0f} tokens/s")
    if step.decode_bound_aggregate_tps is not None and step.output_tokens_per_s is not None and step.output_tokens_per_s > step.decode_bound_aggregate_tps:
        out.append(f"aggregate output {step.output_tokens_per_s:,.0f} tokens/s > bound {step.decode_bound_aggregate_tps:,.0f} tokens/s")
    return out


def refusal(frontier: Frontier) -> str | None:
    """The message that refuses the frontier's capacity, or None when it may be used."""
    why = above_bound(frontier)
    if not why:
        return None
    return (
        f"runner {frontier.runner!r}: the capacity measured by `evals measure` on {frontier.created_at} "
        f"({frontier.tasks_per_hour or 0:,.0f} tasks/h) is above the physical decode bound ({'; '.join(why)}), "
        f"so it is not used to size replicas or break-even; {OVERRIDE_HINT}"
    )
