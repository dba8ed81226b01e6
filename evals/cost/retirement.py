"""Models their vendor has retired: a price for them is a price for nothing.

A retired API model answers every request with an error, so a report that
prices it, a run that calls it or a nightly that gates on it misleads. The
catalogue carries each model's retirement date from the vendor's page; this
module turns it into warnings (cost, report, run) and a refusal the nightly
can call (`refuse_retired`), independent of the 90-day price staleness rule.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from evals.config import ConfigError, RunnerProfile
from evals.cost.catalogue import ApiPrice, load_api_prices


def _price(profile: RunnerProfile, overrides: Path | None) -> tuple[str, ApiPrice] | None:
    """The catalogue entry of an API runner's model: its pricing id, else its model id; None if unknown or self-hosted."""
    api = profile.pricing.api
    if api is None:
        return None
    cat = load_api_prices(overrides)
    for name in (api.model, profile.model):
        if name:
            try:
                return name, cat.get(name)
            except ConfigError:
                continue
    return None


def retirement_notes(profiles: list[RunnerProfile], overrides: Path | None = None, today: date | None = None, only_retired: bool = False) -> dict[str, str]:
    """Runner → a sentence about its model's retirement (retired, or a date announced)."""
    today = today or date.today()
    out = {}
    for p in profiles:
        found = _price(p, overrides)
        if found is None:
            continue
        model, price = found
        if only_retired and not price.retired(today):
            continue
        note = price.retirement_note(model, today)
        if note:
            out[p.name] = ("SIMULATED twin of a model that is gone: " if p.simulated and price.retired(today) else "") + note
    return out


def refuse_retired(profiles: list[RunnerProfile], overrides: Path | None = None, allow_retired: bool = False, today: date | None = None) -> list[str]:
    """For the nightly: raise ConfigError naming every runner whose model is retired,
    unless `allow_retired`; then (or when none is) return the warnings to print."""
    retired = retirement_notes(profiles, overrides, today, only_retired=True)
    if retired and not allow_retired:
        lines = "; ".join(f"runner {r!r}: {n}" for r, n in retired.items())
        raise ConfigError(f"{lines}. Move the runner to a current model, or allow it explicitly (allow_retired) to keep gating on it")
    return [f"runner {r!r}: {n}" for r, n in retired.items()]
