"""`evals cost` scenarios priced without a run: routing shares, a cascade, owned vs rented.

Every scenario is priced as a fleet at the team's volume (`fleet_monthly_cost`):
a self-hosted runner that serves any share of the traffic pays for whole
replicas all month (730 h), which is what makes "send 80% to the local model"
dearer than it looks at full load.
"""

from __future__ import annotations

from typing import Any

from evals.config import ConfigError, RunnerProfile
from evals.cost.catalogue import load_gpus
from evals.cost.projection import ApiRunner, SelfHostedRunner, Workload, fleet_monthly_cost, project
from evals.cost.selfhosted import HOURS_PER_MONTH, owned_vs_rented_breakeven_utilisation

Models = dict[str, ApiRunner | SelfHostedRunner]


def _compare(wl: Workload, models: Models, per_request: float) -> list[dict[str, Any]]:
    """The scenario against each runner serving everything alone."""
    out = []
    for name, m in models.items():
        alone = project(wl, m).cost_per_task
        out.append({"runner": name, "alone_cost_per_request": alone, "scenario_vs_alone": per_request / alone - 1 if alone else None})
    return out


def route(wl: Workload, models: Models, shares: dict[str, float]) -> dict[str, Any]:
    """Each named runner serves its share of every hour's requests; at most one runner left unnamed takes the rest."""
    unknown = sorted(set(shares) - set(models))
    if unknown:
        raise ConfigError(f"--route names {', '.join(unknown)}, not among the --runner options ({', '.join(models)})")
    if any(not 0 < s <= 1 for s in shares.values()):
        raise ConfigError("--route shares must be in (0, 1], e.g. --route llama-3.1-8b-vllm=0.8")
    total = sum(shares.values())
    rest = [n for n in models if n not in shares]
    if total > 1 + 1e-9:
        raise ConfigError(f"--route shares add up to {total:g}, more than 1")
    full = dict(shares)
    if total < 1 - 1e-9:
        if len(rest) != 1:
            raise ConfigError(f"--route shares add up to {total:g}: leave exactly one --runner unrouted to take the other {1 - total:.0%} (unrouted now: {', '.join(rest) or 'none'})")
        full[rest[0]] = 1 - total
    monthly = fleet_monthly_cost(wl, full, models)
    per_request = monthly / wl.monthly_requests
    pass_rate = sum(s * models[n].pass_rate for n, s in full.items())
    replicas = {n: project(wl.at_volume(wl.monthly_requests * s), m).replicas for n, s in full.items() if isinstance(m := models[n], SelfHostedRunner) and s > 0}
    return {
        "shares": full, "monthly_cost": monthly, "hours_per_month": HOURS_PER_MONTH, "replicas": replicas,
        "cost_per_request": per_request, "pass_rate": pass_rate, "cost_per_completed_task": per_request / pass_rate,
        "compared": _compare(wl, models, per_request),
    }


def cascade(wl: Workload, models: Models, local: str, escalation_rate: float, escalate_to: str | None) -> dict[str, Any]:
    """`local` answers every request (replicas for the whole busiest hour); `escalation_rate` of them are sent on, paid per request."""
    if local not in models:
        raise ConfigError(f"--cascade names {local!r}, not among the --runner options ({', '.join(models)})")
    if not 0 <= escalation_rate <= 1:
        raise ConfigError(f"--cascade {local}={escalation_rate:g}: the escalation rate must be in [0, 1]")
    apis = [n for n, m in models.items() if isinstance(m, ApiRunner) and n != local]
    target = escalate_to or (apis[0] if len(apis) == 1 else None)
    if target is None or target not in models or target == local:
        raise ConfigError(f"--cascade: say where escalations go with --escalate-to (one of: {', '.join(n for n in models if n != local)})")
    monthly = fleet_monthly_cost(wl, {local: 1.0, target: escalation_rate} if escalation_rate else {local: 1.0}, models)
    per_request = monthly / wl.monthly_requests
    return {
        "local": local, "escalate_to": target, "escalation_rate": escalation_rate, "monthly_cost": monthly, "hours_per_month": HOURS_PER_MONTH,
        "cost_per_request": per_request, "compared": _compare(wl, models, per_request),
        "quality": "not modelled here: the blended pass rate depends on which answers the check escalates; a run's report replays it",
    }


def owned_vs_rented(profile: RunnerProfile, wl: Workload, runner: SelfHostedRunner) -> dict[str, Any]:
    """An owned server at the utilisation the projection computes at the team's volume, against renting the
    same replicas of the same GPU in the catalogue's market, both for the 730-hour month."""
    sh = profile.pricing.self_hosted
    assert sh is not None and sh.purchase is not None
    g = load_gpus().get(sh.gpu)
    rented_hourly = g.cloud_price.usd_per_gpu_hour * sh.gpus
    pr = project(wl, runner)
    assert pr.replicas is not None and pr.utilisation is not None
    u = pr.utilisation
    p = sh.purchase
    fixed = p.price_usd / p.amortisation_months / HOURS_PER_MONTH + p.ops_per_month_usd / HOURS_PER_MONTH
    energy = p.power_kw * p.pue * p.price_per_kwh
    owned_monthly = pr.replicas * HOURS_PER_MONTH * (fixed + energy * u)
    rented_monthly = pr.replicas * HOURS_PER_MONTH * rented_hourly
    be = owned_vs_rented_breakeven_utilisation(p, rented_hourly)
    cheaper = "owning" if owned_monthly < rented_monthly else "renting"
    market = f"{g.cloud_price.provider} {g.cloud_price.market} ({g.cloud_price.source}, {g.cloud_price.as_of})"
    return {
        "runner": profile.name, "replicas": pr.replicas, "projected_utilisation": u, "hours_per_month": HOURS_PER_MONTH,
        "owned_monthly": owned_monthly, "rented_monthly": rented_monthly, "rented_hourly_usd": rented_hourly, "rented_source": market,
        "breakeven_utilisation": be,
        "verdict": (
            f"{cheaper} is cheaper at the projected {u:.0%} utilisation of {pr.replicas} replica(s): owned ${owned_monthly:,.0f} vs rented "
            f"${rented_monthly:,.0f} a month (730 h) in the same market; "
            + ("owning never beats renting only the busy hours there" if be is None else f"owning beats renting only the busy hours above {be:.0%} utilisation")
        ),
    }
