"""A Frontier to the results store and back, and which stored sweep sizes a runner.

Every `evals measure` is kept. A quick check (one or two load levels) must not
silently replace a full sweep's capacity, which would flip the next report's
break-even; so the report and `evals cost` take the most complete recent sweep
of the runner's profile (most load levels; among equals the newest), say which
one, and `--measurement ID` picks another. The store holds JSON, so it needs to
know nothing of this package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evals.config import ConfigError, RunnerProfile
from evals.measure.model import Frontier
from evals.store.db import Store

_INFO = ("model", "streaming", "mode", "notes", "bound", "client")
"""Frontier fields without a column of their own, kept in info_json."""

RECENT_DAYS = 30
"""Sweeps older than this before the profile's newest one are not candidates: the server or its software may have changed."""


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


@dataclass(frozen=True)
class Chosen:
    """The sweep that sizes a runner, and why it was the one."""

    id: int
    frontier: Frontier
    why: str

    def describe(self) -> str:
        """e.g. "measured: sweep 7 of 2026-12-03 (6 steps), the most complete of 3 recent sweeps"."""
        return f"measured: sweep {self.id} of {self.frontier.created_at[:10]} ({len(self.frontier.steps)} steps), {self.why}"


def sweeps(store: Store, runner: str | None = None) -> list[dict[str, Any]]:
    """Stored sweeps, newest first: id, runner, profile_hash, suite, created_at, steps, tasks_per_hour, simulated."""
    out = []
    for m in store.measurements(runner):
        op = json.loads(m.operating_point_json) if m.operating_point_json else None
        out.append({
            "id": m.id, "runner": m.runner, "profile_hash": m.profile_hash, "suite": m.suite, "created_at": m.created_at,
            "simulated": bool(m.simulated), "steps": m.steps, "tasks_per_hour": op["tasks_per_hour"] if op else None,
        })
    return out


def load(store: Store, measurement_id: int) -> Frontier:
    """One stored sweep by id; a ConfigError naming the ids there are when it does not exist."""
    r = store.measurement(measurement_id)
    if r is None:
        known = ", ".join(str(m.id) for m in store.measurements()[:20]) or "none"
        raise ConfigError(f"no measurement {measurement_id} in {store.path}; stored ones (newest first): {known}. `evals measure --runner R` adds one")
    return Frontier.model_validate({
        "runner": r.runner, "profile_hash": r.profile_hash, "suite": r.suite, "created_at": r.created_at,
        "slo": json.loads(r.slo_json),
        "operating_point": json.loads(r.operating_point_json) if r.operating_point_json else None,
        "flags": json.loads(r.flags_json), "simulated": bool(r.simulated),
        "steps": [json.loads(s) for s in store.measurement_steps(measurement_id)],
        **json.loads(r.info_json),
        "id": measurement_id,
    })


def _when(created_at: str) -> datetime:
    t = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=datetime.now().astimezone().tzinfo)


def choose(store: Store, profile: RunnerProfile, chosen_ids: Iterable[int] = ()) -> Chosen | None:
    """The sweep that sizes `profile`: one of `chosen_ids` measuring this runner if given, else the
    most complete (most load levels, then newest) of this profile's sweeps within RECENT_DAYS of its
    newest. None when the profile was never measured. Another profile hash (other GPUs, model or
    concurrency) has another frontier, so its sweeps never count, and choosing one is an error."""
    for mid in chosen_ids:
        f = load(store, mid)
        if f.runner != profile.name:
            continue
        if f.profile_hash != profile.profile_hash():
            raise ConfigError(
                f"--measurement {mid}: it measured an earlier version of runner {profile.name!r} (its profile has changed since); "
                f"run `evals measure --runner {profile.name}` again or choose another measurement"
            )
        return Chosen(mid, f, "as chosen with --measurement")
    mine = [s for s in store.measurements(profile.name) if s.profile_hash == profile.profile_hash()]
    if not mine:
        return None
    newest = max(_when(s.created_at) for s in mine)
    recent = [s for s in mine if _when(s.created_at) >= newest - timedelta(days=RECENT_DAYS)]
    best = max(recent, key=lambda s: (s.steps, s.id))
    why = "the only sweep of this profile" if len(mine) == 1 else (
        f"the most complete of {len(recent)} sweeps of this profile in the {RECENT_DAYS} days to the newest"
        + ("" if best.id == mine[0].id else f" (newer: sweep {mine[0].id}, {mine[0].steps} steps; choose it with --measurement {mine[0].id})")
    )
    return Chosen(int(best.id), load(store, int(best.id)), why)


def unused_choices(store: Store, profiles: Iterable[RunnerProfile], chosen_ids: Iterable[int]) -> None:
    """A --measurement of none of the runners asked about is a mistake the user should hear of."""
    names = {p.name for p in profiles}
    for mid in chosen_ids:
        f = load(store, mid)
        if f.runner not in names:
            raise ConfigError(f"--measurement {mid} measured runner {f.runner!r}, which is not among the runners here ({', '.join(sorted(names))})")


