"""The verdict: is the candidate good enough compared with the reference?

Non-inferiority at margin m tests H0: Δ <= −m against H1: Δ > −m, where Δ
is the paired gap (candidate − reference pass rate). The test is Tango's
score test (paired.tango_z at δ = −m) with the exact unconditional critical
value (exact.critical_value), so P("good enough" | Δ = −m) is at most
(1 − confidence)/2 for every n and every discordance. The interval shown is
Tango's score interval at that same critical value, so "its lower end is
above −m" and the test agree. No bootstrap decides anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evals.stats.exact import critical_value, min_samples
from evals.stats.means import score_interval, score_z, sign_flip_drop_p
from evals.stats.paired import PairedGap, tango_interval, tango_z
from evals.stats.power import score_n

VerdictName = Literal["good enough", "not good enough", "inconclusive"]

METHOD = (
    "Tango (1998) score interval for the paired difference, with the exact unconditional critical value "
    "(Suissa & Shuster 1991; Sidik 2003) so that P(good enough | gap = -margin) <= 2.5% at every sample size"
)


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    margin: float
    ci: tuple[float, float]
    """The deciding interval: Tango's at `critical_value`."""
    critical_value: float
    min_samples: int
    """The badge minimum at this margin (exact.min_samples)."""
    extra_samples_needed: int | None
    """Only for "inconclusive": about how many more paired samples would settle it; None when no estimate exists."""

    reason: str = ""
    """For "inconclusive": why, e.g. "too few samples (12, needed about 75)"."""

    @property
    def too_few(self) -> bool:
        return self.verdict == "inconclusive" and self.reason.startswith("too few")


def decide(z_at_margin: float, critical: float) -> VerdictName:
    """The decision from Z(−m); shared by the verdict and the exact enumeration."""
    if z_at_margin > critical:
        return "good enough"
    if z_at_margin < -critical:
        return "not good enough"
    return "inconclusive"


def verdict(gap: PairedGap, margin: float = 0.05, power: float = 0.8) -> Verdict:
    """Non-inferiority of the candidate at `margin` (a fraction: 0.05 = 5 points).

    good enough: the interval's lower end is above −margin; not good enough:
    its upper end is below −margin; otherwise inconclusive. Fewer pairs than
    the badge minimum: inconclusive, "too few samples", whatever the counts.

    For an inconclusive result the extra samples are planned with Nam's score
    formula (power.score_n) as if the observed gap g and discordance ψ were
    the truth: toward good enough when g > −m, toward not good enough when
    g < −m; none at g = −m exactly (in expectation the interval keeps
    straddling the margin). With no disagreement yet, the estimate is the
    fewest pairs at which agreeing on all of them would settle it.
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    n, conf = gap.n, gap.confidence
    crit = critical_value(n, margin, conf)
    floor = min_samples(margin, conf)
    ci = tango_interval(gap.b, gap.c, n, crit)
    name = decide(float(tango_z(gap.b, gap.c, n, -margin)), crit)
    if name != "inconclusive" and n >= floor:
        return Verdict(name, margin, ci, crit, floor, None)
    return _inconclusive(n, margin, ci, crit, floor, _needed(n, margin, gap.gap, gap.discordance, conf, power))


def _needed(n: int, margin: float, gap: float, discordance: float, confidence: float, power: float) -> int | None:
    """Paired samples likely to settle an inconclusive verdict (see `verdict`): with no disagreement yet,
    the fewest at which agreeing on all of them would; none at a gap of exactly −margin; else Nam's formula."""
    if discordance == 0:
        agree = max(min_samples(margin, confidence), n + 1)
        while float(tango_z(0, 0, agree, -margin)) <= critical_value(agree, margin, confidence):
            agree += 1
        return agree
    if math.isclose(gap + margin, 0.0, abs_tol=1e-12):
        return None
    return score_n(margin, gap, discordance, alpha=1 - confidence, power=power)


def _inconclusive(n: int, margin: float, ci: tuple[float, float], crit: float, floor: int, needed: int | None) -> Verdict:
    """Below the badge minimum, "too few samples" with about how many are needed; else the straddle."""
    if n < floor:
        about = max(floor, needed or 0)
        return Verdict("inconclusive", margin, ci, crit, floor, about - n, f"too few samples ({n}, needed about {about})")
    extra = None if needed is None else max(needed - n, 1)
    return Verdict("inconclusive", margin, ci, crit, floor, extra, "the interval straddles the margin")


@dataclass(frozen=True)
class MeanVerdict:
    """The verdict on per-sample pass rates over epochs (evals.stats.means)."""

    gap: float
    """Mean of the paired differences of per-sample pass rates."""
    verdict: Verdict
    p_two_sided: float
    """Exact two-sided sign-flip p-value of "no difference"."""


def mean_verdict(d: Sequence[float], margin: float = 0.05, confidence: float = 0.95, power: float = 0.8) -> MeanVerdict:
    """Non-inferiority on d_i = candidate − reference pass rate of sample i over its epochs.

    The same decision as `verdict`, with the score statistic of evals.stats.means in place of
    Tango's (identical when every d_i is −1, 0 or 1) at the same exact critical value and badge
    minimum. For an inconclusive result the extra samples are planned with Nam's formula taking
    the mean of d_i² as the discordance: for single answers it is the discordance exactly, and in
    general it gives the formula the observed Var(d) + gap² it stands for."""
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    n = len(d)
    if n == 0:
        raise ValueError("no paired samples")
    gap = sum(d) / n
    crit = critical_value(n, margin, confidence)
    floor = min_samples(margin, confidence)
    ci = score_interval(d, crit)
    name = decide(score_z(d, -margin), crit)
    p = min(1.0, 2 * min(sign_flip_drop_p(d), sign_flip_drop_p([-x for x in d])))
    if name != "inconclusive" and n >= floor:
        return MeanVerdict(gap, Verdict(name, margin, ci, crit, floor, None), p)
    spread = min(1.0, max(sum(x * x for x in d) / n, abs(gap)))
    return MeanVerdict(gap, _inconclusive(n, margin, ci, crit, floor, _needed(n, margin, gap, spread, confidence, power)), p)
