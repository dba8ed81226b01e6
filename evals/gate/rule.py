"""The gate's statistical rule, as pure functions over counts.

A nightly gate is asked the same question every night, so a rule that cries
wolf one night in twenty gets ignored within a month, and one that misses a
ten-point drop is worse than none. The rule below is chosen so its false-alarm
rate is bounded by `alpha` by construction, not by approximation.

Quality, per runner, overall and in each category, on the samples both runs
answered `ok` (the pairs): b = passed now but failed in the baseline, c = the
reverse. A scope has REGRESSED when both hold:

1. The drop is significant: the exact one-sided McNemar test (c out of the
   b + c discordant pairs against Binomial(b + c, 1/2)) rejects "no drop" at
   `alpha` after a Holm–Bonferroni adjustment over every quality hypothesis
   the gate tests (all runners, overall and each category). Holm controls the
   chance of even one false alarm in the whole gate at `alpha`, under any
   dependence between the hypotheses (a category's samples are also in the
   overall figure), and is uniformly more powerful than plain Bonferroni.
2. The drop is material: the observed gap (now − baseline) is below
   −tolerance, so a drop too small to matter does not fail a build even on a
   suite large enough to make it significant.

Why not the paired-bootstrap upper bound below −tolerance: that asks for proof
that the drop exceeds the tolerance, which a 100-sample category gives only for
drops far beyond it (a real five-point drop would pass nearly every night), the
percentile bootstrap under-covers at the handful of discordant pairs a
category has, and it gives no p-value to correct for multiplicity. The exact
test is conservative at small counts, never liberal. The bootstrap interval is
still shown beside each check, for readers.

Cost and latency, per runner, on the same pairs: a rise REGRESSED when it is
material (the shared samples' mean cost, or their latency p95, rose by more
than the relative tolerance) and significant (the one-sided paired
randomisation test of evals.stats.ratio, in the same Holm family as the
quality checks). Request latency jitters by tens of percent between
identical nights; a threshold alone turns that jitter into alarms, and for
a self-hosted runner, which pays for time, so does its cost.

What a pass means: `detectable_drop` gives, per scope, the smallest true
drop the rule would catch with 80% power at this many pairs, so "no
regression" on 40 samples is read as "nothing under ~20 points was ruled out".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, binomtest

from evals.stats.exact import rejection_probability


def mcnemar_drop_p(improved: int, regressed: int) -> float:
    """Exact one-sided McNemar p-value for "the pass rate dropped".

    Under no change each discordant pair is equally likely to go either way,
    so `regressed` ~ Binomial(improved + regressed, 1/2); the p-value is
    P(X >= regressed). With no discordant pair there is no evidence: 1.0.
    """
    if improved < 0 or regressed < 0:
        raise ValueError(f"counts must be non-negative, got improved={improved}, regressed={regressed}")
    n = improved + regressed
    if n == 0:
        return 1.0
    return float(binomtest(regressed, n, 0.5, alternative="greater").pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given.

    Sorted ascending, the i-th (0-based) of m is multiplied by m − i, and the
    adjusted values are made non-decreasing in that order (Holm 1979), so
    "adjusted p <= alpha" is exactly Holm's step-down rejection at alpha.
    """
    m = len(pvalues)
    for p in pvalues:
        if not 0 <= p <= 1:
            raise ValueError(f"p-values must be in [0, 1], got {p}")
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class PairCounts:
    """Paired outcomes of one scope (a runner overall, or one of its categories)."""

    n: int
    """Pairs: samples both runs answered ok."""
    improved: int
    """Passed now, failed in the baseline (McNemar's b)."""
    regressed: int
    """Failed now, passed in the baseline (McNemar's c)."""

    @property
    def gap(self) -> float:
        """Pass rate now − pass rate in the baseline, on the pairs."""
        return (self.improved - self.regressed) / self.n if self.n else 0.0


@dataclass(frozen=True)
class Decision:
    p_value: float
    """One-sided p-value of the check's own test."""
    adjusted_p: float
    """Holm-adjusted over all the checks decided together."""
    significant: bool
    material: bool
    """The observed change is larger than the tolerance."""

    @property
    def regression(self) -> bool:
        return self.significant and self.material


def decide(p_values: Sequence[float], material: Sequence[bool], alpha: float) -> list[Decision]:
    """One family of checks, Holm-adjusted together: the whole gate's false-alarm rate is at most alpha."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    adjusted = holm(p_values)
    return [Decision(p_value=p, adjusted_p=q, significant=q <= alpha, material=m) for p, q, m in zip(p_values, adjusted, material, strict=True)]


def decide_quality(scopes: Sequence[PairCounts], alpha: float, tolerance: float) -> list[Decision]:
    """The quality rule over one family of scopes."""
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
    return decide([mcnemar_drop_p(s.improved, s.regressed) for s in scopes], [s.n > 0 and s.gap < -tolerance for s in scopes], alpha)


def drop_power(n: int, drop: float, discordance: float, level: float, tolerance: float) -> float:
    """Exact P(the quality rule flags a scope of n pairs) when the pass rate truly fell
    by `drop` with the runs disagreeing on a share `discordance` of samples, the
    McNemar test judged at `level`.

    With s = b + c discordant pairs the rule needs c >= k_s: the exact one-sided
    test's critical count (P(Binomial(s, 1/2) >= c) <= level) and a material gap
    (c − b > n·tolerance, i.e. c > (s + n·tolerance)/2). Summed over s exactly, as
    in evals.stats.exact.
    """
    s = np.arange(n + 1)
    critical = binom.isf(level, s, 0.5).astype(np.int64) + 1
    material = np.floor((s + n * tolerance) / 2).astype(np.int64) + 1
    k = np.maximum(critical, material)
    psi = max(discordance, drop)
    return float(rejection_probability(n, k, (psi + drop) / 2, (psi - drop) / 2)[0])


def detectable_drop(n: int, discordance: float, level: float, tolerance: float, power: float = 0.8) -> float | None:
    """The smallest true drop (a fraction) the rule catches with `power` at n pairs;
    None when not even a drop to zero would be caught that often. The discordance is
    the observed one, or the drop itself where that is larger (a drop needs at least
    that many disagreements)."""
    if n < 1 or drop_power(n, 1.0, 1.0, level, tolerance) < power:
        return None
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2
        if drop_power(n, mid, discordance, level, tolerance) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def relative_change(new: float | None, old: float | None) -> float | None:
    """new / old − 1; None where either is unknown or the old value is not positive."""
    if new is None or old is None or old <= 0:
        return None
    return new / old - 1
