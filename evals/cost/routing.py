"""Cheaper ways to serve the same traffic at nearly the same quality.

Two options, both priced from the per-category results of a run:

- Assignment: send each category to one runner. The open model may match the
  reference on extraction and fall short on reasoning; routing only the
  categories it handles keeps quality while cutting cost.
- Cascade: the cheap model answers everything first; a cheap check (a
  validator, a schema, a judge) escalates answers it doubts to the API.

Blended quality weights each category by its share of the traffic. Cost is
not blended per task: a self-hosted runner given any share of the traffic is
paid for whole replicas all month (`projection.fleet_monthly_cost`), so the
search prices every assignment as a whole through a `cost_of` function.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

EXHAUSTIVE_LIMIT = 100_000
"""Assignments tried one by one up to this many (runners ** categories); greedy above."""

CostOf = Callable[[dict[str, float]], float]
"""Runner → share of the traffic it serves ↦ cost per request of that whole fleet."""


class CategoryResult(NamedTuple):
    """One runner on one category. A plain (pass_rate, n) tuple works too."""

    pass_rate: float
    n: int
    """Samples behind the pass rate; a runner with none in a category is not sent it."""


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, str]
    """Category → runner."""
    shares: dict[str, float]
    """Runner → share of the traffic it serves under these routes."""
    pass_rate: float
    cost_per_task: float
    """Cost per request of the whole fleet, whole replicas included."""
    reference_pass_rate: float
    reference_cost_per_task: float
    method: Literal["exhaustive", "greedy"]


def runner_shares(routes: dict[str, str], shares: dict[str, float]) -> dict[str, float]:
    """Category routes → each runner's share of the traffic."""
    out: dict[str, float] = {}
    for c, r in routes.items():
        out[r] = out.get(r, 0.0) + shares[c]
    return out


def cheapest_assignment(
    per_category: dict[str, dict[str, CategoryResult | tuple[float, int]]],
    category_share: dict[str, float],
    reference: str,
    margin: float,
    cost_of: CostOf,
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
) -> Assignment:
    """The category → runner assignment with the lowest cost per request
    (`cost_of` the runners' shares) whose blended pass rate is at least the
    reference's minus `margin`.

    With at most `exhaustive_limit` possible assignments every one is tried,
    so the answer is optimal (ties go to the higher pass rate). Beyond that a
    greedy search runs: start from the reference everywhere (always within the
    margin), then repeatedly make the single re-route that saves the most cost
    per point of pass rate given up while staying within the margin (re-routes
    that save cost without losing quality first), until none is left. Greedy is
    fast and usually good, not guaranteed optimal: with whole replicas, moving
    one small category to a local model rarely pays while moving several can.

    Shares are normalised to sum to 1.
    """
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    results = {c: {r: CategoryResult(*v) for r, v in runners.items()} for c, runners in per_category.items()}
    shares = _normalised(category_share, results)
    missing = [c for c in results if results[c].get(reference, CategoryResult(0, 0)).n == 0]
    if missing:
        raise ValueError(f"reference {reference!r} has no results in categories: {', '.join(sorted(missing))}")
    categories = sorted(results)
    options = {c: sorted(r for r, res in results[c].items() if res.n > 0) for c in categories}

    def evaluate(routes: dict[str, str]) -> tuple[float, float]:
        return _pass_rate(routes, results, shares), cost_of(runner_shares(routes, shares))

    ref_routes = {c: reference for c in categories}
    ref_pass, ref_cost = evaluate(ref_routes)
    floor = ref_pass - margin - 1e-12

    if math.prod(len(options[c]) for c in categories) <= exhaustive_limit:
        best = ref_routes
        best_key = (ref_cost, -ref_pass)
        for combo in itertools.product(*(options[c] for c in categories)):
            routes = dict(zip(categories, combo))
            p, cost = evaluate(routes)
            if p >= floor and (cost, -p) < best_key:
                best, best_key = routes, (cost, -p)
        method: Literal["exhaustive", "greedy"] = "exhaustive"
    else:
        best = _greedy(ref_routes, options, evaluate, floor)
        method = "greedy"
    p, cost = evaluate(best)
    return Assignment(
        routes=best,
        shares=runner_shares(best, shares),
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

    The local runner answers every request, so a self-hosted `local` must come
    with its cost per request at the full volume (whole replicas for the whole
    busiest hour, `projection.project`); the remote is paid per escalation.
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


def _pass_rate(routes: dict[str, str], results: dict[str, dict[str, CategoryResult]], shares: dict[str, float]) -> float:
    return sum(shares[c] * results[c][r].pass_rate for c, r in routes.items())


def _greedy(
    start: dict[str, str],
    options: dict[str, list[str]],
    evaluate: Callable[[dict[str, str]], tuple[float, float]],
    floor: float,
) -> dict[str, str]:
    routes = dict(start)
    while True:
        p, cost = evaluate(routes)
        best: tuple[tuple[bool, float], str, str] | None = None
        for c in sorted(routes):
            for r in options[c]:
                if r == routes[c]:
                    continue
                new_p, new_cost = evaluate({**routes, c: r})
                saved, lost = cost - new_cost, p - new_p
                if saved <= 1e-15 or new_p < floor:
                    continue
                # Free savings (no quality lost) first, the largest of them; then savings per point lost.
                score = (True, saved) if lost <= 0 else (False, saved / lost)
                if best is None or score > best[0]:
                    best = (score, c, r)
        if best is None:
            return routes
        routes[best[1]] = best[2]
