"""What a self-hosted server costs per hour and per task, and when owning beats renting.

A server costs the same every wall-clock hour whether it is busy or not, so
the cost of a task depends on how busy it is kept: the same hourly cost
spread over fewer tasks makes each dearer.
"""

from __future__ import annotations

from evals.config import Purchase

HOURS_PER_MONTH = 730.0
"""365 × 24 / 12, the convention cloud price lists use; `SelfHostedPricing` uses it too."""


def cost_per_task(hourly_cost_usd: float, tasks_per_hour: float, utilisation: float) -> float:
    """USD per task when the server completes `tasks_per_hour` while busy and is
    busy for `utilisation` of its hours (idle hours are paid for too)."""
    if tasks_per_hour <= 0:
        raise ValueError(f"tasks_per_hour must be positive, got {tasks_per_hour}")
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation}")
    return hourly_cost_usd / (tasks_per_hour * utilisation)


def owned_vs_rented_breakeven_utilisation(purchase: Purchase, rented_hourly_usd: float) -> float | None:
    """The share of hours the server must be busy for owning to cost less than
    renting the same GPUs only for the busy hours; None if owning never wins.

    Owning costs its amortised price and ops every hour, and power only while
    busy (`power_kw` is the draw under load; idle draw is taken as zero, which
    favours owning slightly). Renting on demand costs `rented_hourly_usd`
    (price per GPU-hour × GPUs) for the busy hours only. Per wall-clock hour at
    utilisation u:

        owned(u)  = fixed + energy × u
        rented(u) = rented × u
        u*        = fixed / (rented − energy)

    Above u* owning is cheaper.
    """
    hours = HOURS_PER_MONTH
    fixed = purchase.price_usd / purchase.amortisation_months / hours + purchase.ops_per_month_usd / hours
    energy = purchase.power_kw * purchase.pue * purchase.price_per_kwh
    margin = rented_hourly_usd - energy
    if margin <= 0:
        return None
    u = fixed / margin
    return u if u <= 1 else None
