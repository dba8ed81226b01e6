"""A Frontier to the results store and back. The store holds JSON, so it needs
to know nothing of this package."""

from __future__ import annotations

from evals.measure.model import Frontier
from evals.config import RunnerProfile
from evals.store.db import Store

_INFO = ("model", "streaming", "mode", "notes", "bound")
"""Frontier fields without a column of their own, kept in info_json."""


def save(store: Store, frontier: Frontier) -> int:
    data = frontier.model_dump(mode="json")
    return store.save_measurement(
        runner=frontier.runner,
        profile_hash=frontier.profile_hash,
        suite=frontier.suite,
        created_at=frontier.created_at,
        slo=data["slo"],
        operating_point=data["operating_point"],
        flags=frontier.flags,
        simulated=frontier.simulated,
        info={k: data[k] for k in _INFO},
        steps=[(s["mode"], s["level"], s) for s in data["steps"]],
    )


def latest(store: Store, runner: str) -> Frontier | None:
    """The runner's newest measurement, for the cost projection's capacity."""
    row = store.latest_measurement(runner)
    if row is None:
        return None
    info = row.pop("info")
    row.pop("id")
    return Frontier.model_validate({**row, **info})


def latest_for(store: Store, profile: RunnerProfile) -> Frontier | None:
    """The runner's latest `evals measure`, if it measured this very profile: another concurrency,
    GPU or model would have another frontier."""
    f = latest(store, profile.name)
    return f if f is not None and f.profile_hash == profile.profile_hash() else None
