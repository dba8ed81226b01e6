"""Monthly cost of each option at the team's volume, and the volume where self-hosting starts to pay.

An API bills per request, so its monthly cost grows in a straight line with
volume. A self-hosted deployment is sized for the busiest hour and runs all
month (rented or owned, it is paid for idle or not), so its cost is a
staircase: flat while the replicas keep up with the peak, one step up each
time another replica is needed.

Quality enters through the pass rate. A team pays for tasks done, and a
failed task is paid for and then done again some other way, so options are
compared per completed task: cost per task ÷ pass rate. A cheaper model that
fails more often can cost more per completed task.
"""

from __future__ import annotations

import math
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evals.cost.api import request_cost
from evals.cost.catalogue import ApiPrice
from evals.cost.selfhosted import HOURS_PER_MONTH
from evals.providers.base import Usage

DAYS_PER_MONTH = HOURS_PER_MONTH / 24

COST_DEFINITION = (
    "Cost per completed task is what serving your monthly volume costs, divided by the tasks that come back done right "
    "(errors and failed answers are paid for but not counted). An API is paid per request; a self-hosted model is paid "
    "for the servers your busiest hour needs, every hour of a 730-hour month, busy or idle."
)
"""The one definition, in two sentences a buyer understands: report, summary.md, README and `evals cost` say it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Workload(_Strict):
    """The team's traffic: volume, request size, and how peaky the day is."""

    requests_per_month: float | None = Field(default=None, gt=0)
    requests_per_day: float | None = Field(default=None, gt=0)
    avg_input_tokens: int = Field(default=0, ge=0)
    avg_output_tokens: int = Field(default=0, ge=0)
    peak_hour_share: float = Field(gt=0, le=1)
    """Share of a day's requests that arrive in its busiest hour (1/24 if flat)."""

    @model_validator(mode="after")
    def _one_volume(self) -> Workload:
        if (self.requests_per_month is None) == (self.requests_per_day is None):
            raise ValueError("give exactly one of requests_per_month or requests_per_day")
        if self.peak_hour_share < 1 / 24 - 1e-12:
            raise ValueError(f"peak_hour_share {self.peak_hour_share} is below 1/24: the busiest hour holds at least the average")
        return self

    @property
    def monthly_requests(self) -> float:
        if self.requests_per_month is not None:
            return self.requests_per_month
        assert self.requests_per_day is not None
        return self.requests_per_day * DAYS_PER_MONTH

    def at_volume(self, requests_per_month: float) -> Workload:
        """The same traffic shape at another monthly volume."""
        return self.model_copy(update={"requests_per_month": requests_per_month, "requests_per_day": None})


class ApiRunner(_Strict):
    name: str
    cost_per_task: float = Field(ge=0)
    pass_rate: float = Field(gt=0, le=1)

    @classmethod
    def from_prices(cls, name: str, prices: ApiPrice, workload: Workload, pass_rate: float, batch: bool = False) -> ApiRunner:
        """Priced at the workload's average request size."""
        usage = Usage(input_tokens=workload.avg_input_tokens, output_tokens=workload.avg_output_tokens)
        return cls(name=name, cost_per_task=request_cost(usage, prices, batch), pass_rate=pass_rate)


class SelfHostedRunner(_Strict):
    name: str
    hourly_cost_usd: float = Field(gt=0)
    """One replica, per wall-clock hour (see `selfhosted.hourly_cost`)."""
    tasks_per_hour: float = Field(gt=0)
    """One replica's capacity at the operating point that meets the latency target."""
    gpus_per_replica: int = Field(ge=1)
    pass_rate: float = Field(gt=0, le=1)
    min_replicas: int = Field(default=1, ge=1)
    """Always-on floor (two for redundancy, say)."""


class Projection(_Strict):
    runner: str
    kind: Literal["api", "self_hosted"]
    requests_per_month: float
    replicas: int | None
    gpus: int | None
    monthly_cost: float
    utilisation: float | None
    """Average load ÷ provisioned capacity: the share of paid capacity that does work."""
    cost_per_task: float
    cost_per_completed_task: float


def peak_requests_per_hour(workload: Workload) -> float:
    return workload.monthly_requests / DAYS_PER_MONTH * workload.peak_hour_share


def replicas_needed(workload: Workload, runner: SelfHostedRunner) -> int:
    """Enough replicas for the busiest hour, never fewer than the floor."""
    # Rounded before ceil so that 12.000000000000002 replicas' worth is 12.
    return max(runner.min_replicas, math.ceil(round(peak_requests_per_hour(workload) / runner.tasks_per_hour, 9)))


def project(workload: Workload, runner: ApiRunner | SelfHostedRunner) -> Projection:
    volume = workload.monthly_requests
    if isinstance(runner, ApiRunner):
        monthly = volume * runner.cost_per_task
        return Projection(
            runner=runner.name,
            kind="api",
            requests_per_month=volume,
            replicas=None,
            gpus=None,
            monthly_cost=monthly,
            utilisation=None,
            cost_per_task=runner.cost_per_task,
            cost_per_completed_task=runner.cost_per_task / runner.pass_rate,
        )
    replicas = replicas_needed(workload, runner)
    monthly = replicas * runner.hourly_cost_usd * HOURS_PER_MONTH
    per_task = monthly / volume
    return Projection(
        runner=runner.name,
        kind="self_hosted",
        requests_per_month=volume,
        replicas=replicas,
        gpus=replicas * runner.gpus_per_replica,
        monthly_cost=monthly,
        utilisation=(volume / HOURS_PER_MONTH) / (replicas * runner.tasks_per_hour),
        cost_per_task=per_task,
        cost_per_completed_task=per_task / runner.pass_rate,
    )


def fleet_monthly_cost(workload: Workload, shares: dict[str, float], runners: Mapping[str, ApiRunner | SelfHostedRunner]) -> float:
    """Monthly cost (730 h) when runner `name` serves `shares[name]` of every hour's requests.

    A self-hosted runner given any share is paid for the replicas that its share
    of the busiest hour needs (at least its floor), for the whole month however
    little traffic they carry; an API is paid per request it serves. This is
    what routing and cascades must be priced with: sending 80% of the traffic
    to a local model does not buy 80% of a server.
    """
    total = 0.0
    for name, share in shares.items():
        if share < 0:
            raise ValueError(f"share of {name!r} must not be negative, got {share}")
        if share > 0:
            total += project(workload.at_volume(workload.monthly_requests * share), runners[name]).monthly_cost
    return total


class BreakEvenPoint(_Strict):
    requests_per_month: int
    api_monthly: float
    self_hosted_monthly: float
    replicas: int
    api_per_completed_task: float
    self_hosted_per_completed_task: float


class BreakEven(_Strict):
    requests_per_month: int | None
    """Smallest monthly volume (up to the searched maximum) at which self-hosting
    costs less per completed task; None if it never does."""
    curve: list[BreakEvenPoint]


def search_ceiling(monthly_requests: float) -> int:
    """How far up the break-even search looks: ten times today's volume, at least a million a month."""
    return int(max(10 * monthly_requests, 1_000_000))


def break_even(
    workload: Workload,
    api: ApiRunner,
    self_hosted: SelfHostedRunner,
    max_requests_per_month: int,
    points: int = 50,
) -> BreakEven:
    """Where the self-hosted staircase drops below the API's line, per completed task.

    Self-hosting is cheaper at volume V when

        self_hosted_monthly(V) / (V × p_self) < api_cost_per_task / p_api

    Within one step (k replicas, cost C_k) the left side falls as V grows, so
    the step's first cheaper volume is the smallest integer above
    C_k × p_api / (p_self × api_cost_per_task), if the step reaches it. Steps
    are walked in order; the first hit is the answer. Right after a step up,
    the API can be cheaper again: the curve shows where.
    """
    if max_requests_per_month < 1 or points < 1:
        raise ValueError("max_requests_per_month and points must be at least 1")

    def cheaper(v: int) -> bool:
        return _self_hosted_per_completed(workload.at_volume(v), self_hosted) < api.cost_per_task / api.pass_rate

    found: int | None = None
    lo = 1
    while lo <= max_requests_per_month and api.cost_per_task > 0:
        k = replicas_needed(workload.at_volume(lo), self_hosted)
        hi = min(_last_volume_with(workload, self_hosted, k), max_requests_per_month)
        monthly = k * self_hosted.hourly_cost_usd * HOURS_PER_MONTH
        v = max(lo, math.floor(monthly * api.pass_rate / (self_hosted.pass_rate * api.cost_per_task)) + 1)
        while v > lo and cheaper(v - 1):  # float rounding at the threshold
            v -= 1
        while v <= hi and not cheaper(v):
            v += 1
        if v <= hi:
            found = v
            break
        lo = hi + 1

    volumes = {max(1, round(max_requests_per_month * i / points)) for i in range(1, points + 1)}
    if found is not None:
        volumes |= {found - 1, found} - {0}
    curve = [_point(workload.at_volume(v), api, self_hosted) for v in sorted(volumes)]
    return BreakEven(requests_per_month=found, curve=curve)


def _self_hosted_per_completed(workload: Workload, runner: SelfHostedRunner) -> float:
    return project(workload, runner).cost_per_completed_task


def _last_volume_with(workload: Workload, runner: SelfHostedRunner, replicas: int) -> int:
    """Largest monthly volume that `replicas` replicas serve at the peak."""
    v = math.floor(replicas * runner.tasks_per_hour * DAYS_PER_MONTH / workload.peak_hour_share)
    while replicas_needed(workload.at_volume(v + 1), runner) <= replicas:
        v += 1
    while v > 1 and replicas_needed(workload.at_volume(v), runner) > replicas:
        v -= 1
    return v


def _point(workload: Workload, api: ApiRunner, self_hosted: SelfHostedRunner) -> BreakEvenPoint:
    a, s = project(workload, api), project(workload, self_hosted)
    assert s.replicas is not None
    return BreakEvenPoint(
        requests_per_month=round(workload.monthly_requests),
        api_monthly=a.monthly_cost,
        self_hosted_monthly=s.monthly_cost,
        replicas=s.replicas,
        api_per_completed_task=a.cost_per_completed_task,
        self_hosted_per_completed_task=s.cost_per_completed_task,
    )
