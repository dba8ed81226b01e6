"""The quality gap between two runners on the same samples.

Pairing matters: both runners answer the same tasks, so easy and hard tasks
cancel out of the difference, and the interval is far narrower than one from
two independent pass rates.

The interval is Tango's score interval for the difference of paired
proportions (Tango, "Equivalence test and confidence interval for the
difference in proportions for the paired-sample design", Statistics in
Medicine 17 (1998) 891–908; the test is Nam's, Biometrics 53 (1997)
1422–1430). It inverts the score test of H0: Δ = δ, whose variance uses the
maximum-likelihood cell probabilities restricted to Δ = δ. Unlike the Wald
interval or a percentile bootstrap it does not collapse when the runners
rarely disagree, and it stays inside [−1, 1]. Its coverage is close to
nominal but not guaranteed at every sample size; the verdict therefore
widens it where exact enumeration says it must (see `exact.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.stats import binomtest

from evals.stats.intervals import z_two_sided

# The score statistic's variance vanishes at Δ = ±1; roots are searched just inside.
_EDGE = 1e-9


def tango_z(b: npt.ArrayLike, c: npt.ArrayLike, n: int, delta: float) -> npt.NDArray[np.float64]:
    """Score statistic for H0: Δ = delta, with b = candidate-only and c =
    reference-only passes among n pairs (vectorised over b and c).

    Z = (b − c − nδ) / sqrt(n (2 q + δ(1 − δ))), where q is the restricted
    maximum-likelihood estimate of P(reference only) under Δ = δ
    (Tango 1998, eq. 3): q = (sqrt(W² + 8n·c·δ(1 − δ)) − W) / (4n),
    W = −b − c + (2n − b + c)δ. Large Z is evidence that Δ > δ.
    """
    bb = np.asarray(b, dtype=float)
    cc = np.asarray(c, dtype=float)
    w = -bb - cc + (2 * n - bb + cc) * delta
    q = (np.sqrt(np.maximum(w * w + 8 * n * cc * delta * (1 - delta), 0.0)) - w) / (4 * n)
    num = bb - cc - n * delta
    den = np.sqrt(n * (2 * q + delta * (1 - delta)))
    # At the observed gap with no disagreement (b = c = 0, delta = 0) both vanish; Z is 0 there as at every observed gap.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(num == 0, 0.0, num / den), dtype=float)


def tango_interval(b: int, c: int, n: int, critical: float) -> tuple[float, float]:
    """{δ : −critical < Z(δ) < critical}: Tango's interval at the given critical value.

    Z(δ) falls as δ rises and is 0 at the observed gap, so each end is the
    one root on its side of the gap (Brent's method); an end whose root would
    lie beyond ±1 is ±1.
    """
    if n < 1 or b < 0 or c < 0 or b + c > n:
        raise ValueError(f"need 0 <= b, c and b + c <= n >= 1, got b={b}, c={c}, n={n}")
    gap = (b - c) / n

    def f(d: float, target: float) -> float:
        return float(tango_z(b, c, n, d)) - target

    low = -1.0 if f(-1 + _EDGE, critical) <= 0 else brentq(f, -1 + _EDGE, gap, args=(critical,), xtol=1e-12)
    high = 1.0 if f(1 - _EDGE, -critical) >= 0 else brentq(f, gap, 1 - _EDGE, args=(-critical,), xtol=1e-12)
    return float(low), float(high)


@dataclass(frozen=True)
class PairedGap:
    """Candidate minus reference pass rate on n paired samples.

    b: candidate passed where the reference failed; c: the reverse. Only these
    discordant pairs carry information about the gap: gap = (b - c) / n.
    """

    gap: float
    ci: tuple[float, float]
    """Tango score interval at `confidence` (unwidened; the verdict carries its own)."""
    n: int
    b: int
    c: int
    mcnemar_p: float
    confidence: float = 0.95

    @property
    def discordance(self) -> float:
        """Share of samples where exactly one of the two passed."""
        return (self.b + self.c) / self.n


def gap_from_counts(b: int, c: int, n: int, confidence: float = 0.95) -> PairedGap:
    """The gap, its Tango interval and the exact two-sided McNemar p-value
    (binomial test of b against b + c at one half; 1.0 with no discordant pair)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    ci = tango_interval(b, c, n, z_two_sided(confidence))
    p_value = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return PairedGap(gap=(b - c) / n, ci=ci, n=n, b=b, c=c, mcnemar_p=p_value, confidence=confidence)


def paired_gap(candidate: Sequence[bool], reference: Sequence[bool], confidence: float = 0.95) -> PairedGap:
    """The gap of paired pass/fail outcomes (same samples, same order)."""
    cand = np.asarray(candidate, dtype=bool)
    ref = np.asarray(reference, dtype=bool)
    if cand.ndim != 1 or cand.shape != ref.shape:
        raise ValueError(
            f"candidate and reference must be paired 1-D sequences of equal length, got {cand.shape} and {ref.shape}"
        )
    if cand.size == 0:
        raise ValueError("no paired samples: both runners must have answered at least one common sample")
    return gap_from_counts(int(np.sum(cand & ~ref)), int(np.sum(~cand & ref)), int(cand.size), confidence)
