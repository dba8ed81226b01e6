"""How one sample's grading is assembled: per-sample scorer settings merged
over the suite's, and the scorers' results combined by the pass rule.

Kept apart from the scorers so `evals score` can re-apply a changed pass rule
to stored scores without grading again.
"""

from __future__ import annotations

from typing import Any

from evals.config import PassRule, ScorerSpec
from evals.scoring.base import Score


def merge_args(
    suite_spec_args: dict[str, Any], sample_scorers: list[dict[str, Any]] | None, name: str
) -> dict[str, Any]:
    """The arguments scorer `name` runs with on one sample.

    `sample_scorers` is the sample's own list of `{"name": ..., **args}`;
    every entry for `name` overrides the suite's arguments key by key (a later
    entry wins), so a sample can change one setting, e.g. its own regex,
    without repeating the rest. Entries for other scorers are ignored here.
    """
    merged = dict(suite_spec_args)
    for i, entry in enumerate(sample_scorers or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"sample scorer setting #{i + 1} needs a `name` naming the scorer, got {entry!r}")
        if entry["name"] == name:
            merged.update({k: v for k, v in entry.items() if k != "name"})
    return merged


def combine(results: list[tuple[ScorerSpec, Score]], rule: PassRule) -> tuple[float, bool]:
    """A sample's combined value and pass/fail under `rule`.

    A Score with `error` counts as value 0 and failed: an ungraded answer is
    never a pass. The value follows the rule's logic: `all` takes the lowest
    value (a sample is as good as its weakest check), `any` the highest, and
    `weighted` the weighted mean, which passes when it reaches `rule.threshold`.
    """
    if not results:
        raise ValueError("no scorer results to combine: the suite names no scorers for this sample")
    graded = [(spec.weight, 0.0 if s.error else s.value, s.passed and not s.error) for spec, s in results]
    values = [v for _, v, _ in graded]
    if rule.mode == "all":
        return min(values), all(p for _, _, p in graded)
    if rule.mode == "any":
        return max(values), any(p for _, _, p in graded)
    total = sum(w for w, _, _ in graded)
    if total <= 0:
        raise ValueError("weighted pass rule: the scorers' weights sum to 0; give at least one a positive weight")
    mean = sum(w * v for w, v, _ in graded) / total
    # A tolerance so that, e.g., weights 0.1/0.2/0.7 summing a hair under 1 still reach a threshold of 1.
    return mean, mean >= rule.threshold - 1e-9
