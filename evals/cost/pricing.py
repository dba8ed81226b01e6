"""How one runner is priced, resolved once per run from its profile and the catalogues.

API runners pay per token; each attempt's cost is computed as it arrives,
which is what the budget counts. Self-hosted runners pay per hour whether
busy or not, so their cost per task is only known at a volume: the replicas
the busiest hour needs, paid 730 h a month, ÷ the month's tasks
(projection.project).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from evals.config import ApiPricing, ConfigError, RunnerProfile
from evals.cost.anomaly import billable_usage
from evals.cost.api import request_cost
from evals.cost.catalogue import ApiPrice, is_stale, load_api_prices
from evals.cost.selfhosted import cost_per_task
from evals.providers.base import Message, Usage
from evals.run.budget import worst_case_input_tokens


@dataclass(frozen=True)
class RunnerPricing:
    kind: str
    """api | self_hosted"""
    price: ApiPrice | None = None
    batch: bool = False
    catalogue_as_of: date | None = None
    """Date of the catalogue the price came from (None for prices given in the profile)."""
    hourly_usd: float | None = None
    utilisation: float | None = None
    """The profile's assumed utilisation, kept for stored runs; cost at volume computes its own."""
    hardware: str | None = None

    def to_json(self) -> str:
        """Stored with the run, so its report and regrading never depend on a price file still being there."""
        d = asdict(self)
        d["price"] = self.price.model_dump(mode="json") if self.price else None
        d["catalogue_as_of"] = self.catalogue_as_of.isoformat() if self.catalogue_as_of else None
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> RunnerPricing:
        d = json.loads(text)
        d["price"] = ApiPrice.model_validate(d["price"]) if d["price"] else None
        d["catalogue_as_of"] = date.fromisoformat(d["catalogue_as_of"]) if d["catalogue_as_of"] else None
        return cls(**d)

    def cost_of(self, usage: Usage) -> float:
        """Cost of one attempt; 0 for self-hosted (paid by the hour: see projection.project)."""
        if self.price is None:
            return 0.0
        return request_cost(billable_usage(usage), self.price, batch=self.batch)  # never a crash on odd counts

    def worst_case_usd(self, messages: list[Message], max_tokens: int) -> float:
        """The most one attempt can cost, reserved against the budget before sending."""
        if self.price is None:
            return 0.0
        worst = Usage(input_tokens=worst_case_input_tokens(messages), output_tokens=max_tokens)
        return request_cost(worst, self.price, batch=self.batch)

    def full_load_cost_per_task(self, tasks_per_hour: float) -> float:
        """Self-hosted cost per task if a replica were kept 100% busy: a floor, never the cost at a real volume."""
        assert self.hourly_usd is not None
        return cost_per_task(self.hourly_usd, tasks_per_hour, 1.0)

    def describe(self) -> str:
        if self.kind == "api":
            assert self.price is not None
            p = self.price
            batch = f", batch API ×{p.batch_discount:g}" if self.batch else ""
            return f"API tokens at ${p.input:g} in / ${p.output:g} out per million{batch} ({p.source}, as of {p.as_of})"
        return f"self-hosted {self.hardware}: ${self.hourly_usd:,.2f}/h per replica, paid 730 h a month busy or idle"

    def source_row(self, runner: str, today: date | None = None) -> dict[str, Any]:
        """Where this runner's prices come from, for the report's method section."""
        if self.kind == "api":
            assert self.price is not None
            today = today or date.today()
            stale = self.catalogue_as_of is not None and is_stale(self.catalogue_as_of, today)
            p = self.price
            return {
                "runner": runner, "basis": self.describe(), "source": p.source, "as_of": str(p.as_of), "stale": stale,
                "retires_on": str(p.retires_on) if p.retires_on else None, "retired": p.retired(today), "retirement_source": p.retirement_source,
            }
        return {"runner": runner, "basis": f"self-hosted {self.hardware} at ${self.hourly_usd:,.2f}/h", "source": "runner profile"}


def _api_price(api: ApiPricing, profile: RunnerProfile, overrides: Path | None) -> tuple[ApiPrice, date | None]:
    given = {k: getattr(api, f"{k}_per_mtok") for k in ("input", "cached_input", "cache_write", "output")}
    if api.model is None and (given["input"] is None or given["output"] is None):
        raise ConfigError(f"runner {profile.name!r}: pricing.api needs `model` (a catalogue id) or input_per_mtok and output_per_mtok")
    if api.model is not None:
        cat = load_api_prices(overrides)
        base = cat.get(api.model)
        update = {k: v for k, v in given.items() if v is not None}
        if update:
            base = base.model_copy(update={**update, "source": f"runner profile {profile.name} over {base.source}"})
        return base, cat.catalogue_as_of
    return (
        ApiPrice(provider=profile.provider, source=f"runner profile {profile.name}", as_of=date.today(), batch_discount=0.5, **{k: v for k, v in given.items() if v is not None}),
        None,
    )


def runner_pricing(profile: RunnerProfile, overrides: Path | None = None) -> RunnerPricing:
    p = profile.pricing
    if p.api is not None:
        price, as_of = _api_price(p.api, profile, overrides)
        # a batch-mode runner's answers come through the batch API: priced at the catalogue's batch rate
        return RunnerPricing(kind="api", price=price, batch=p.api.batch or profile.batch is not None, catalogue_as_of=as_of)
    sh = p.self_hosted
    assert sh is not None
    basis = "rented" if sh.cloud_price_per_gpu_hour is not None else "owned"
    return RunnerPricing(kind="self_hosted", hourly_usd=sh.hourly_cost_usd(), utilisation=sh.utilisation, hardware=f"{sh.gpus}×{sh.gpu} ({basis})")
