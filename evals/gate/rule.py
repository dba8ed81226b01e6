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

Cost per completed task and latency p95 have no pairing to test: they regress
when they rise by more than their own relative tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from scipy.stats import binomtest


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
class QualityDecision:
    p_value: float
    """Exact one-sided McNemar p-value for a drop."""
    adjusted_p: float
    """Holm-adjusted over all the scopes decided together."""
    significant: bool
    material: bool
    """The observed drop is larger than the tolerance."""

    @property
    def regression(self) -> bool:
        return self.significant and self.material


def decide_quality(scopes: Sequence[PairCounts], alpha: float, tolerance: float) -> list[QualityDecision]:
    """The quality rule over one family of scopes (normally every scope in a gate)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
    raw = [mcnemar_drop_p(s.improved, s.regressed) for s in scopes]
    adjusted = holm(raw)
    return [
        QualityDecision(p_value=p, adjusted_p=q, significant=q <= alpha, material=s.n > 0 and s.gap < -tolerance)
        for s, p, q in zip(scopes, raw, adjusted)
    ]


def relative_change(new: float | None, old: float | None) -> float | None:
    """new / old − 1; None where either is unknown or the old value is not positive."""
    if new is None or old is None or old <= 0:
        return None
    return new / old - 1
