"""Exact size and power of the non-inferiority verdict, by enumeration.

With n pairs, the outcome is the trinomial count (b, c, ties): b candidate-
only passes, c reference-only passes. Write s = b + c; then s ~ Binomial(n, ψ)
with ψ the discordance, and b | s ~ Binomial(s, r) with r = p10 / ψ. The
verdict says "good enough" when Tango's score statistic at the margin,
Z(−m), exceeds a critical value; at fixed s, Z(−m) rises with b (checked
over the whole grid in tests/test_stats.py), so the rejection region is
{b >= t_s} for one threshold per s, and

    P(good enough) = Σ_s Binomial(s; n, ψ) · P(Binomial(s, r) >= t_s),

exact, in O(n log n) per (n, ψ) instead of O(n²) cells.

The critical value. Tango's asymptotic test (critical value z_{1−α/2}) is
slightly anti-conservative at some (n, ψ): exact enumeration gives 3.0% at
n = 20 and ψ = 0.35, and 2.51% at n = 300 and 1,000 at ψ = 0.35, against a
nominal 2.5% (docs/nightly.md has the grid). The verdict keeps the score
statistic but takes the exact unconditional critical value (Suissa & Shuster,
Biometrics 47 (1991) 361–372; for non-inferiority with the score statistic,
Sidik, Statistics in Medicine 22 (2003) 265–278): the smallest c >= z_{1−α/2}
such that the worst-case size over the nuisance parameter, max over ψ in
[m, 1] of P(Z(−m) > c | Δ = −m, ψ), is at most α/2. Where Tango's own
critical value already holds, nothing changes.

The maximum over ψ is taken on a grid of GRID_POINTS values refined by a
bounded scalar search around the highest few, which is the usual way the
exact unconditional size is computed (Suissa & Shuster, section 3).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from scipy.special import bdtrc, gammaln

from evals.stats.intervals import z_two_sided
from evals.stats.paired import tango_z

GRID_POINTS = 121
COARSE_POINTS = 41
REFINE = 4
NEGLIGIBLE = 1e-18


def thresholds(n: int, margin: float, critical: float) -> npt.NDArray[np.int64]:
    """t_s for s = 0..n: the fewest candidate-only passes among s discordant
    pairs for which Z(−margin) > critical (s + 1 where none is enough).

    A vectorised bisection over b at every s at once, relying on Z rising with b.
    """
    s = np.arange(n + 1)
    lo = np.zeros(n + 1, dtype=np.int64)  # invariant: every b < lo fails
    hi = s + 1  # invariant: every b >= hi passes (b = s + 1 is "none")
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        active = lo < hi
        ok = np.zeros(n + 1, dtype=bool)
        ok[active] = tango_z(mid[active], s[active] - mid[active], n, -margin) > critical
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)
    return hi


def _log_binom_pmf(k: npt.NDArray[np.int64], n: int, p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """log Binomial(k; n, p), exact at p = 0 and p = 1 (broadcasting k against p)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + np.where(k > 0, k * np.log(p), 0.0) + np.where(n - k > 0, (n - k) * np.log1p(-p), 0.0)
    return np.asarray(out, dtype=float)


def rejection_probability(n: int, t: npt.NDArray[np.int64], p10: npt.ArrayLike, p01: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """P(b >= t_s) under true cell probabilities p10 (candidate only) and p01
    (reference only), vectorised over matching arrays of p10 and p01.

    Cells whose P(s) is below NEGLIGIBLE are left out (at most n of them, so
    at most n * NEGLIGIBLE of probability), which keeps the binomial tails to
    the few hundred values of s that matter at each discordance.
    """
    a = np.atleast_1d(np.asarray(p10, dtype=float))[:, None]
    d = np.atleast_1d(np.asarray(p01, dtype=float))[:, None]
    psi = a + d
    s = np.broadcast_to(np.arange(n + 1)[None, :], (psi.shape[0], n + 1))
    p_s = np.exp(_log_binom_pmf(s, n, psi))
    r = np.broadcast_to(np.divide(a, psi, out=np.zeros_like(a), where=psi > 0), p_s.shape)
    tt = np.broadcast_to(t[None, :], p_s.shape)
    # P(Binomial(s, r) >= t) = bdtrc(t - 1, s, r): 1 at t = 0, 0 for t > s.
    tail = (tt <= 0).astype(float)
    live = (p_s > NEGLIGIBLE) & (tt > 0) & (tt <= s)
    tail[live] = bdtrc(tt[live] - 1, s[live], r[live])
    return np.asarray(np.sum(p_s * tail, axis=1), dtype=float)


def _null_cells(psi: npt.NDArray[np.float64], margin: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(p10, p01) at true gap −margin and discordance psi."""
    return (psi - margin) / 2, (psi + margin) / 2


def max_size(n: int, margin: float, critical: float, refine: bool = True) -> float:
    """Worst-case P(good enough) over the discordance ψ in [margin, 1] at true
    gap −margin; on a coarse grid alone when `refine` is off (a cheap lower
    bound for the bisection, which the refined maximum then confirms)."""
    t = thresholds(n, margin, critical)
    grid = np.linspace(margin, 1.0, GRID_POINTS if refine else COARSE_POINTS)
    sizes = rejection_probability(n, t, *_null_cells(grid, margin))
    best = float(sizes.max())
    if not refine:
        return best
    step = grid[1] - grid[0]
    for i in np.argsort(sizes)[-REFINE:]:
        lo, hi = max(margin, grid[i] - step), min(1.0, grid[i] + step)
        res = minimize_scalar(
            lambda x: -float(rejection_probability(n, t, *_null_cells(np.array([x]), margin))[0]), bounds=(lo, hi), method="bounded",
            options={"xatol": 1e-6},
        )
        best = max(best, -float(res.fun))
    return best


@functools.lru_cache(maxsize=4096)
def critical_value(n: int, margin: float, confidence: float = 0.95) -> float:
    """The verdict's critical value for n pairs (see the module docstring).

    The size is a step function of the critical value (it changes only where
    the critical value crosses an attainable Z), so a bisection to 1e-5 finds
    the smallest safe one, well within the gap between attainable values.
    """
    if n < 1:
        raise ValueError(f"need at least one pair, got n={n}")
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, got {margin}")
    alpha = (1 - confidence) / 2
    z = z_two_sided(confidence)
    if max_size(n, margin, z) <= alpha:
        return z
    # Bisect on the grid alone (cheap); then, if the refined maximum finds a
    # higher point than the grid did, bisect again on the refined maximum.
    hi = _smallest_safe(n, margin, z, alpha, refine=False)
    return hi if max_size(n, margin, hi) <= alpha else _smallest_safe(n, margin, hi, alpha, refine=True)


def _smallest_safe(n: int, margin: float, unsafe: float, alpha: float, refine: bool) -> float:
    """Bisection for the smallest critical value above `unsafe` whose worst-case size is at most alpha."""
    lo, hi = unsafe, unsafe + 0.05
    while max_size(n, margin, hi, refine) > alpha:
        lo, hi = hi, hi + 0.25
    while hi - lo > 1e-5:
        mid = (lo + hi) / 2
        if max_size(n, margin, mid, refine) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def good_enough_probability(n: int, margin: float, gap: float, discordance: float, confidence: float = 0.95) -> float:
    """Exact P(verdict "good enough") with n pairs at a true gap and discordance.

    Size at gap = −margin, power above it. Counts only the test: the badge
    minimum (noninferiority.min_samples) is applied by the caller.
    """
    if not abs(gap) <= discordance <= 1:
        raise ValueError(f"discordance must be between |gap| ({abs(gap)}) and 1, got {discordance}")
    t = thresholds(n, margin, critical_value(n, margin, confidence))
    return float(rejection_probability(n, t, (discordance + gap) / 2, (discordance - gap) / 2)[0])


@functools.lru_cache(maxsize=256)
def min_samples(margin: float, confidence: float = 0.95) -> int:
    """The fewest pairs at which the verdict could show a candidate good
    enough if it agreed with the reference on every sample (b = c = 0).

    Below it a "good enough" can only come from the candidate winning most of
    a handful of disagreements, and "not good enough" from a handful going the
    other way: the badge minimum. With no disagreement Z(−m) =
    sqrt(n m / (1 − m)), so it is at least z²(1 − m)/m (73 at m = 0.05, 95%),
    and more where the exact critical value is above z.
    """
    z = z_two_sided(confidence)
    n = math.floor(z * z * (1 - margin) / margin) + 1
    while float(tango_z(0, 0, n, -margin)) <= critical_value(n, margin, confidence):
        n += 1
    return n
