"""Cheaper ways to serve the same traffic at nearly the same quality.

Two options, both priced from the per-category results of a run:

- Assignment: send each category to one runner. The open model may match the
  reference on extraction and fall short on reasoning; routing only the
  categories it handles keeps quality while cutting cost.
- Cascade: the cheap model answers everything first; a cheap check (a
  validator, a schema, a judge) escalates answers it doubts to the API.

Blended figures weight each category by its share of the traffic.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

EXHAUSTIVE_LIMIT = 100_000
"""Assignments tried one by one up to this many (runners ** categories); greedy above."""


class CategoryResult(NamedTuple):
    """One runner on one category. A plain (pass_rate, cost_per_task, n) tuple works too."""

    pass_rate: float
    cost_per_task: float
    n: int
    """Samples behind the figures; a runner with none in a category is not sent it."""


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, str]
    """Category → runner."""
    pass_rate: float
    cost_per_task: float
    reference_pass_rate: float
    reference_cost_per_task: float
    method: Literal["exhaustive", "greedy"]


def cheapest_assignment(
    per_category: dict[str, dict[str, CategoryResult | tuple[float, float, int]]],
    category_share: dict[str, float],
    reference: str,
    margin: float,
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
) -> Assignment:
    """The category → runner assignment with the lowest blended cost per task
    whose blended pass rate is at least the reference's minus `margin`.

    With at most `exhaustive_limit` possible assignments every one is tried,
    so the answer is optimal (ties go to the higher pass rate). Beyond that a
    greedy search runs: start from the reference everywhere (always within the
    margin), then repeatedly make the single re-route that saves the most cost
    per point of pass rate given up while staying within the margin (re-routes
    that save cost without losing quality first), until none is left. Greedy is
    fast and usually good, not guaranteed optimal.

    Shares are normalised to sum to 1.
    """
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    results = {c: {r: CategoryResult(*v) for r, v in runners.items()} for c, runners in per_category.items()}
    shares = _normalised(category_share, results)
    missing = [c for c in results if results[c].get(reference, CategoryResult(0, 0, 0)).n == 0]
    if missing:
        raise ValueError(f"reference {reference!r} has no results in categories: {', '.join(sorted(missing))}")
    categories = sorted(results)
    options = {c: sorted(r for r, res in results[c].items() if res.n > 0) for c in categories}
    ref_routes = {c: reference for c in categories}
    ref_pass, ref_cost = _blend(ref_routes, results, shares)
    floor = ref_pass - margin - 1e-12

    if math.prod(len(options[c]) for c in categories) <= exhaustive_limit:
        best = ref_routes
        best_key = (ref_cost, -ref_pass)
        for combo in itertools.product(*(options[c] for c in categories)):
            routes = dict(zip(categories, combo))
            p, cost = _blend(routes, results, shares)
            if p >= floor and (cost, -p) < best_key:
                best, best_key = routes, (cost, -p)
        method: Literal["exhaustive", "greedy"] = "exhaustive"
    else:
        best = _greedy(ref_routes, options, results, shares, floor)
        method = "greedy"
    p, cost = _blend(best, results, shares)
    return Assignment(
        routes=best,
        pass_rate=p,
        cost_per_task=cost,
        reference_pass_rate=ref_pass,
        reference_cost_per_task=ref_cost,
        method=method,
    )


class RunnerStats(NamedTuple):
    pass_rate: float
    cost_per_task: float


class CascadeResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pass_rate: float
    cost_per_task: float
    escalation_rate: float
    """Share of tasks sent on to the second runner."""
    cost_per_completed_task: float


def cascade(
    local: RunnerStats | tuple[float, float],
    escalate_to: RunnerStats | tuple[float, float],
    check_recall: float,
    check_false_alarm_rate: float = 0.0,
    check_cost_per_task: float = 0.0,
    escalated_pass_rate_on_local_failures: float | None = None,
) -> CascadeResult:
    """Blended quality and cost when `local` answers first and a check escalates
    the answers it doubts to `escalate_to`.

    The check catches `check_recall` of the local model's failures and wrongly
    escalates `check_false_alarm_rate` of its passes. Every task pays for the
    local answer and the check; escalated tasks also pay for the second
    answer, which replaces the first. The second runner passes escalated
    tasks at its own pass rate, except that tasks the local model failed tend
    to be the hard ones: give `escalated_pass_rate_on_local_failures` (the
    paired run measures it) to say so.

        escalated = (1 − p) × recall + p × false_alarm
        pass      = p × (1 − false_alarm) + p × false_alarm × q + (1 − p) × recall × q_hard
        cost      = local + check + escalated × remote
    """
    local, remote = RunnerStats(*local), RunnerStats(*escalate_to)
    for name, v in (("check_recall", check_recall), ("check_false_alarm_rate", check_false_alarm_rate)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {v}")
    p, q = local.pass_rate, remote.pass_rate
    q_hard = q if escalated_pass_rate_on_local_failures is None else escalated_pass_rate_on_local_failures
    escalated = (1 - p) * check_recall + p * check_false_alarm_rate
    passed = p * (1 - check_false_alarm_rate) + p * check_false_alarm_rate * q + (1 - p) * check_recall * q_hard
    cost = local.cost_per_task + check_cost_per_task + escalated * remote.cost_per_task
    return CascadeResult(
        pass_rate=passed,
        cost_per_task=cost,
        escalation_rate=escalated,
        cost_per_completed_task=cost / passed if passed > 0 else math.inf,
    )


def _normalised(category_share: dict[str, float], results: dict[str, dict[str, CategoryResult]]) -> dict[str, float]:
    if set(category_share) != set(results):
        raise ValueError(
            "category_share and per_category must name the same categories; "
            f"only in shares: {sorted(set(category_share) - set(results))}, "
            f"only in results: {sorted(set(results) - set(category_share))}"
        )
    if any(s < 0 for s in category_share.values()) or sum(category_share.values()) <= 0:
        raise ValueError("category shares must be non-negative and not all zero")
    total = sum(category_share.values())
    return {c: s / total for c, s in category_share.items()}


def _blend(
    routes: dict[str, str], results: dict[str, dict[str, CategoryResult]], shares: dict[str, float]
) -> tuple[float, float]:
    p = sum(shares[c] * results[c][r].pass_rate for c, r in routes.items())
    cost = sum(shares[c] * results[c][r].cost_per_task for c, r in routes.items())
    return p, cost


def _greedy(
    start: dict[str, str],
    options: dict[str, list[str]],
    results: dict[str, dict[str, CategoryResult]],
    shares: dict[str, float],
    floor: float,
) -> dict[str, str]:
    routes = dict(start)
    while True:
        p = _blend(routes, results, shares)[0]
        best: tuple[tuple[bool, float], str, str] | None = None
        for c in sorted(routes):
            cur = results[c][routes[c]]
            for r in options[c]:
                new = results[c][r]
                saved = shares[c] * (cur.cost_per_task - new.cost_per_task)
                lost = shares[c] * (cur.pass_rate - new.pass_rate)
                if saved <= 0 or p - lost < floor:
                    continue
                # Free savings (no quality lost) first, the largest of them; then savings per point lost.
                score = (True, saved) if lost <= 0 else (False, saved / lost)
                if best is None or score > best[0]:
                    best = (score, c, r)
        if best is None:
            return routes
        routes[best[1]] = best[2]
