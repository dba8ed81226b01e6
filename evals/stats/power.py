"""Sample-size planning for the paired non-inferiority verdict.

Setting: both runners answer the same n samples; d_i = cand_i - ref_i is -1,
0 or +1. With Δ = E[d] the true gap and ψ = P(d ≠ 0) the discordance (share
of samples where exactly one passes), Var(d) = ψ − Δ². Non-inferiority at
margin m tests H0: Δ <= −m against H1: Δ > −m. The verdict declares it when
the lower end of the two-sided (1 − alpha) interval clears −m, which is a
one-sided test at level alpha/2. By the normal approximation to the mean of
d (a Wald test with the unrestricted variance), the samples needed for
power 1 − β at a true gap Δ are

    n = (z_{1−alpha/2} + z_{1−β})² · (ψ − Δ²) / (Δ + m)².

This is the Wald form of the matched-pairs (McNemar-type) non-inferiority
sample size; see Liu, Hsueh, Hsieh & Chen, "Tests for equivalence or
non-inferiority for paired binary data", Statistics in Medicine 21 (2002)
231–245, and Nam, Biometrics 53 (1997) 1422–1430, for score-test versions,
which differ little unless ψ is small. Check: m = 0.05, Δ = 0, ψ = 0.2,
alpha = 0.05, power 0.8 gives (1.960 + 0.842)² · 0.2 / 0.05² = 627.9 → 628.
"""

from __future__ import annotations

import math

from scipy.stats import norm

from evals.stats.intervals import z_two_sided


def paired_n(distance: float, variance: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Paired samples for a one-sided level-alpha/2 test to detect a true
    mean difference lying `distance` beyond the boundary, with Var(d) = `variance`.
    The core of the formula above, shared with the verdict's estimate of how
    many more samples would settle an inconclusive result either way."""
    if distance <= 0:
        raise ValueError(f"distance from the margin must be positive, got {distance}")
    if variance <= 0:
        raise ValueError(f"variance of the paired difference must be positive, got {variance}")
    if not 0 < power < 1:
        raise ValueError(f"power must be between 0 and 1, got {power}")
    z = z_two_sided(1 - alpha) + float(norm.ppf(power))
    # The tolerance keeps an exact product like 784.0000000001 from rounding up to 785.
    return max(1, math.ceil(z * z * variance / distance**2 - 1e-9))


def samples_needed(
    margin: float,
    expected_gap: float = 0.0,
    discordance: float = 0.2,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Paired samples a suite needs to show non-inferiority at `margin` with
    probability `power`, if the true gap is `expected_gap` and the runners
    disagree on a share `discordance` of samples.

    `alpha` is 1 − the confidence of the verdict's two-sided interval (0.05
    for the 95% interval), so the plan matches the verdict the run will give.
    Without a pilot run, `discordance_from_rates` gives a cautious discordance.
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    if expected_gap <= -margin:
        raise ValueError(
            f"expected gap {expected_gap} is at or below -margin ({-margin}): "
            "non-inferiority cannot be shown however many samples"
        )
    if not abs(expected_gap) <= discordance <= 1:
        raise ValueError(
            f"discordance must be between |expected_gap| ({abs(expected_gap)}) and 1, got {discordance}: "
            "a gap needs at least that share of samples where the runners disagree"
        )
    return paired_n(expected_gap + margin, discordance - expected_gap**2, alpha, power)


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
