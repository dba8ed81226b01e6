"""The gap between two runners when each sample was answered several times (epochs).

A model that samples (temperature > 0, or a hosted API whose temperature is
not ours to set) can pass a task on one try and fail it on the next. With K
epochs per sample the unit of analysis stays the sample: each runner's
per-sample pass rate over its epochs, m_i in {0, 1/K, ..., 1}, and the paired
difference d_i = m_cand,i − m_ref,i in [−1, 1]. Treating the K·n answers as
independent pairs would overstate the evidence K-fold for a model that is
consistent on each task, so epochs are never counted as samples.

The verdict: the score test of H0: E[d] = δ for the mean of a discrete
distribution on [−1, 1], the multinomial generalisation of Tango's test.
The variance in the statistic is that of the maximum-likelihood distribution
restricted to mean δ, over the observed values of d and the two ends −1 and
+1 (which a restricted fit may need even when no sample landed there: with
no disagreement observed, a gap of −m is only possible if some samples fail
outright). With one epoch, d takes only −1, 0, 1 and the statistic is
exactly Tango's (tests/test_epochs.py checks it on a grid), so the same
exact critical value (evals.stats.exact.critical_value) is used: its worst
case is the deterministic one, where each task always passes or always
fails, and sampling noise only spreads d over interior values. A seeded
simulation test checks the size at gap = −margin stays at or under 2.5%
for K in {2, 3, 5} over several mixes of flaky and deterministic tasks.

The gate: "did the pass rate drop?" is the paired sign-flip randomisation
test on d_i (Fisher 1935): under no change the two nights are exchangeable
per sample, so each d_i is as likely to be −d_i. Its null distribution is
computed exactly (d_i are multiples of 1/L for L the least common multiple
of the epoch counts), and with one epoch it is exactly the one-sided exact
McNemar test the gate uses then.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from scipy.optimize import brentq
from scipy.signal import fftconvolve
from scipy.stats import binom

_EDGE = 1e-9
_ROUND = 9
METHOD = (
    "per-sample pass rate over epochs, then the score test for the mean paired difference (Tango's score test "
    "generalised to a multinomial on the observed differences and the ends ±1), at the exact critical value of one epoch"
)


def _grouped(d: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    counts = Counter(round(float(x), _ROUND) for x in d)
    values = np.array(sorted(counts), dtype=float)
    if values.size and (values[0] < -1 - 1e-9 or values[-1] > 1 + 1e-9):
        raise ValueError(f"paired differences of pass rates must lie in [-1, 1], got {values[0]} .. {values[-1]}")
    return values, np.array([counts[v] for v in values], dtype=float)


def restricted_variance(values: np.ndarray, counts: np.ndarray, delta: float) -> float:
    """Var(d) under the maximum-likelihood distribution restricted to E[d] = delta.

    The fit puts p_j = n_j / (N (1 + λ w_j)) on the observed values (w_j = v_j − δ), with λ the
    root of Σ n_j w_j / (1 + λ w_j) = 0 inside the range where every value in [−1, 1] keeps a
    non-negative weight (the KKT condition for the unobserved ones). When the root would lie beyond
    that range, λ stops at its end and the missing mass goes to the end point (−1 or +1) whose
    weight reaches zero there."""
    n = counts.sum()
    w = values - delta
    lam_hi = 1.0 / (1.0 + delta)  # where -1 (w = -1 - δ) reaches zero weight
    lam_lo = -1.0 / (1.0 - delta)  # where +1 reaches zero weight

    def g(lam: float) -> float:
        return float(np.sum(counts * w / (1.0 + lam * w)))

    def var_at(lam: float, end: float | None) -> float:
        p = counts / (n * (1.0 + lam * w))
        v = float(np.sum(p * w * w))
        if end is not None:
            v += max(0.0, 1.0 - float(p.sum())) * (end - delta) ** 2
        return v

    hi_edge = lam_hi * (1 - 1e-12)
    lo_edge = lam_lo * (1 - 1e-12)
    has_low_end = bool(np.any(np.isclose(values, -1.0)))
    has_high_end = bool(np.any(np.isclose(values, 1.0)))
    if not has_low_end and g(lam_hi) >= 0:
        return var_at(lam_hi, -1.0)
    if not has_high_end and g(lam_lo) <= 0:
        return var_at(lam_lo, 1.0)
    a = lo_edge if has_high_end else lam_lo
    b = hi_edge if has_low_end else lam_hi
    if g(a) * g(b) > 0:  # numerically at an end
        return var_at(a if abs(g(a)) < abs(g(b)) else b, None)
    return var_at(brentq(g, a, b, xtol=1e-14), None)


def score_z(d: Sequence[float], delta: float) -> float:
    """The score statistic for H0: E[d] = delta; large values are evidence that E[d] > delta."""
    values, counts = _grouped(d)
    n = counts.sum()
    if n == 0:
        raise ValueError("no paired samples")
    if not -1 < delta < 1:
        raise ValueError(f"delta must be strictly between -1 and 1, got {delta}")
    num = float(np.sum(values * counts) / n) - delta
    if num == 0:
        return 0.0
    var = restricted_variance(values, counts, delta)
    return num / math.sqrt(var / n) if var > 0 else math.copysign(math.inf, num)


def score_interval(d: Sequence[float], critical: float) -> tuple[float, float]:
    """{δ : −critical < Z(δ) < critical}, each end the root on its side of the mean (±1 where none)."""
    mean = float(np.mean(np.asarray(d, dtype=float)))

    def f(x: float, target: float) -> float:
        return score_z(d, x) - target

    lo_x, hi_x = -1 + _EDGE, 1 - _EDGE
    m = min(max(mean, lo_x), hi_x)
    low = -1.0 if f(lo_x, critical) <= 0 else brentq(f, lo_x, m, args=(critical,), xtol=1e-10)
    high = 1.0 if f(hi_x, -critical) >= 0 else brentq(f, m, hi_x, args=(-critical,), xtol=1e-10)
    return float(low), float(high)


def _scale(d: Sequence[float], max_denominator: int = 720) -> np.ndarray:
    """d as integers over the smallest common denominator L (differences of k/K pass rates)."""
    fr = [Fraction(float(x)).limit_denominator(max_denominator) for x in d]
    lcm = math.lcm(*(f.denominator for f in fr))
    return np.array([int(f * lcm) for f in fr], dtype=np.int64)


def sign_flip_drop_p(d: Sequence[float]) -> float:
    """Exact one-sided p-value of the paired sign-flip test for "the mean of d is below 0".

    P(Σ s_i |d_i| <= Σ d_i) over independent fair signs s_i; the sum's null distribution is
    built by convolving, per distinct |d|, the binomial count of positive signs. With d in
    {−1, 0, 1} this is the exact one-sided McNemar test. 1.0 with no non-zero difference."""
    ints = _scale(d)
    mags = Counter(int(abs(x)) for x in ints if x != 0)
    if not mags:
        return 1.0
    dist = np.zeros(1)
    dist[0] = 1.0
    offset = 0  # index 0 of `dist` is the sum -offset
    for m, c in sorted(mags.items()):
        k = np.arange(c + 1)
        kernel = np.zeros(2 * m * c + 1)
        kernel[2 * m * k] = binom.pmf(k, c, 0.5)  # sum m(2k - c): from -mc to +mc in steps of 2m
        dist = np.clip(fftconvolve(dist, kernel), 0.0, None) if dist.size * kernel.size > 4_000_000 else np.convolve(dist, kernel)
        offset += m * c
    observed = int(ints.sum())
    return float(min(1.0, dist[: observed + offset + 1].sum() * (1 + 1e-12)))
