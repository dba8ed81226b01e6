"""The verdict: is the candidate good enough compared with the reference?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from evals.stats.intervals import z_two_sided
from evals.stats.paired import PairedGap
from evals.stats.power import paired_n

VerdictName = Literal["good enough", "not good enough", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    margin: float
    extra_samples_needed: int | None
    """Only for "inconclusive": about how many more paired samples would settle it; None when no estimate exists."""


def verdict(gap: PairedGap, margin: float = 0.05, power: float = 0.8) -> Verdict:
    """Non-inferiority of the candidate at `margin` (a fraction: 0.05 = 5 points).

    good enough: the gap interval's lower end is above −margin;
    not good enough: its upper end is below −margin; otherwise inconclusive.

    For an inconclusive result the extra samples are planned as if the
    observed gap g and discordance ψ were the truth, with `power`:

    - g above −margin: samples for the interval to clear −margin (good
      enough); g below it: samples for it to fall short of −margin (not good
      enough). The same formula (`power.paired_n`) serves both sides, with
      distance |g + margin| and variance ψ − g².
    - g exactly at −margin: None. In expectation the interval keeps
      straddling the margin however many samples are added; only a change in
      what is measured (or the margin) settles it.
    - no disagreements yet (ψ = 0): the interval is the Wilson bound
      ±z²/(n + z²), which clears the margin once n > z²(1 − m)/m (73 at
      m = 0.05, 95%); the estimate is the samples to reach that if they keep
      agreeing, the fewest that could settle it.

    The estimate is at least 1: being inconclusive means more data are needed,
    even where the normal approximation and the bootstrap disagree at the edge.
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    low, high = gap.ci
    if low > -margin:
        return Verdict("good enough", margin, None)
    if high < -margin:
        return Verdict("not good enough", margin, None)
    if gap.b + gap.c == 0:
        z = z_two_sided(gap.confidence)
        needed = math.floor(z * z * (1 - margin) / margin) + 1
    else:
        distance = abs(gap.gap + margin)
        if math.isclose(distance, 0.0, abs_tol=1e-12):
            return Verdict("inconclusive", margin, None)
        needed = paired_n(distance, gap.discordance - gap.gap**2, alpha=1 - gap.confidence, power=power)
    return Verdict("inconclusive", margin, max(needed - gap.n, 1))
