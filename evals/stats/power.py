"""Sample-size planning for the paired non-inferiority verdict.

Setting: both runners answer the same n samples; d_i = cand_i − ref_i is −1,
0 or +1. With Δ = E[d] the true gap and ψ = P(d ≠ 0) the discordance, the
cells are p10 = (ψ + Δ)/2 (candidate only) and p01 = (ψ − Δ)/2 (reference
only). The verdict is the score test of H0: Δ <= −m (exact.py), so the plan
uses the score test's own sample-size formula (Nam, "Establishing
equivalence of two treatments and sample size requirements in matched-pairs
design", Biometrics 53 (1997) 1422–1430, eq. 6; the same as Tango 1998):

    n = (z_{1−α/2} σ0 + z_{1−β} σ1)² / (Δ + m)²,
    σ1² = ψ − Δ²,  σ0² = 2 q0 − m(1 + m),

where q0 is the restricted maximum-likelihood P(reference only) under
Δ = −m evaluated at the true cells (the large-sample limit of the estimate
in paired.tango_z). The Wald formula (σ0 = σ1) under-plans at low
discordance: 73.5% power instead of 80% at ψ = 0.05.

The formula is asymptotic, and exact power is saw-toothed in n (the test is
discrete), so `plan` also enumerates the exact power of the verdict itself
(exact.good_enough_probability, badge minimum included) and reports the
smallest n that reaches the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from evals.stats.exact import good_enough_probability, min_samples, rejection_probability, thresholds
from evals.stats.intervals import z_two_sided

# The exact search starts this far below the formula's n: the formula is
# asymptotic and the exact n has been below it by up to a few percent.
SEARCH_FROM = 0.8


def score_n(margin: float, gap: float, discordance: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Nam's score-test sample size (module docstring) for a true `gap` on
    either side of −margin (above it: to show good enough; below it: to
    show not good enough; the test is symmetric about the margin)."""
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    if not 0 < power < 1:
        raise ValueError(f"power must be between 0 and 1, got {power}")
    if not abs(gap) <= discordance <= 1:
        raise ValueError(
            f"discordance must be between |expected_gap| ({abs(gap)}) and 1, got {discordance}: "
            "a gap needs at least that share of samples where the runners disagree"
        )
    distance = gap + margin
    if math.isclose(distance, 0.0, abs_tol=1e-12):
        raise ValueError(f"expected gap {gap} is exactly -margin: no sample size settles it")
    p01 = (discordance - gap) / 2
    d = -margin
    w = -discordance + (2 - gap) * d  # −p10 − p01 + (2 − p10 + p01)·d per pair
    q0 = (math.sqrt(max(w * w + 8 * p01 * d * (1 - d), 0.0)) - w) / 4
    sigma0 = math.sqrt(2 * q0 + d * (1 - d))
    sigma1 = math.sqrt(max(discordance - gap * gap, 0.0))
    z = z_two_sided(1 - alpha) * sigma0 + float(norm.ppf(power)) * sigma1
    # The tolerance keeps an exact product like 215.0000000001 from rounding up.
    return max(1, math.ceil(z * z / distance**2 - 1e-9))


def exact_power(n: int, margin: float, gap: float, discordance: float, alpha: float = 0.05) -> float:
    """P(the verdict says good enough) with n pairs: 0 below the badge minimum."""
    if n < min_samples(margin, 1 - alpha):
        return 0.0
    return good_enough_probability(n, margin, gap, discordance, 1 - alpha)


@dataclass(frozen=True)
class Plan:
    formula_n: int
    """Nam's score formula."""
    formula_power: float
    """Exact power of the verdict at formula_n."""
    exact_n: int
    """The smallest n (searched from SEARCH_FROM × formula_n up) whose exact power reaches the target."""
    exact_power: float
    discordance: float


def plan(margin: float, gap: float = 0.0, discordance: float = 0.2, alpha: float = 0.05, power: float = 0.8) -> Plan:
    """Samples a suite needs to show non-inferiority at `margin` with
    probability `power`, if the true gap is `gap` and the runners disagree on
    a share `discordance` of samples.

    The exact search skips cheaply: Tango's asymptotic critical value is the
    smallest the verdict ever uses, so its power (one enumeration, no
    calibration) bounds the verdict's from above, and only an n where that
    bound reaches the target needs the calibrated critical value.
    """
    if gap <= -margin:
        raise ValueError(f"expected gap {gap} is at or below -margin ({-margin}): non-inferiority cannot be shown however many samples")
    formula = score_n(margin, gap, discordance, alpha, power)
    z = z_two_sided(1 - alpha)
    floor = min_samples(margin, 1 - alpha)
    n = max(floor, math.floor(SEARCH_FROM * formula))
    p10, p01 = (discordance + gap) / 2, (discordance - gap) / 2
    while True:
        bound = float(rejection_probability(n, thresholds(n, margin, z), p10, p01)[0])
        if bound >= power:
            got = exact_power(n, margin, gap, discordance, alpha)
            if got >= power:
                return Plan(formula, exact_power(formula, margin, gap, discordance, alpha), n, got, discordance)
        n += 1


def discordance_from_rates(p_ref: float, p_cand: float) -> float:
    """Discordance if the two runners passed samples independently:
    p_ref(1 − p_cand) + p_cand(1 − p_ref).

    A cautious default before any paired data exist: two models answering the
    same tasks are positively correlated (they share the easy and the hard
    ones), which makes the real discordance lower, and the plan larger than
    needed rather than too small. It is always at least |p_cand − p_ref|, the
    least a gap of that size requires.
    """
    for name, p in (("p_ref", p_ref), ("p_cand", p_cand)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {p}")
    return p_ref * (1 - p_cand) + p_cand * (1 - p_ref)
