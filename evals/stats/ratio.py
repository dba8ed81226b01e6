"""Did a cost or a latency rise, or is it noise? A paired randomisation test.

The gate compares tonight's run with the baseline on the samples both
answered. Latency jitters from request to request (queueing, batching,
other tenants), so a relative threshold on two p95s alone fires on unchanged
models: a p95 of 100 ok answers moves by ±20% between identical nights.

The test: per shared sample i, x_i (baseline) and y_i (now). If nothing
changed, each pair is exchangeable: (x_i, y_i) is as likely as (y_i, x_i).
The statistic is the one the gate reports, T = log(stat(y) / stat(x)) with
stat the mean or the 95th percentile; its null distribution is generated
by swapping each pair with probability 1/2 (the paired randomisation test,
Fisher 1935; Good, "Permutation, Parametric and Bootstrap Tests of
Hypotheses", 3rd ed. 2005, ch. 3). With R random swaps the one-sided
p-value (1 + #{T* >= T}) / (1 + R) is valid at every sample size, not only
asymptotically (Phipson & Smyth, Stat Appl Genet Mol Biol 9 (2010) 39), so
Holm over the gate's checks keeps the whole gate's false-alarm rate at
alpha. The swaps are seeded: the same runs give the same p-value.

What it assumes: the pairs are independent, and under "no change" the two
nights are exchangeable per sample. A night-wide slowdown (a noisy
neighbour, a smaller GPU) is a change, and the test will see it when it is
consistent; whether it matters is the tolerance's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Statistic = Literal["mean", "p95"]
RESAMPLES = 2000
_CHUNK = 500


def _stat(x: npt.NDArray[np.float64], statistic: Statistic) -> npt.NDArray[np.float64]:
    """Along the last axis."""
    return np.asarray(np.mean(x, axis=-1) if statistic == "mean" else np.percentile(x, 95, axis=-1), dtype=float)


@dataclass(frozen=True)
class RatioTest:
    statistic: Statistic
    n: int
    before: float
    after: float
    ratio: float
    """after ÷ before."""
    p_value: float
    """One-sided: P(a ratio at least this large | no change)."""


def paired_ratio_test(before: Sequence[float], after: Sequence[float], statistic: Statistic, resamples: int = RESAMPLES, seed: int = 0) -> RatioTest:
    """One-sided paired randomisation test of "the statistic rose" (module docstring)."""
    x = np.asarray(before, dtype=float)
    y = np.asarray(after, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(f"need two paired, non-empty 1-D samples of equal length, got {x.shape} and {y.shape}")
    if np.any(x < 0) or np.any(y < 0) or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ValueError("costs and latencies must be finite and non-negative")
    sx, sy = float(_stat(x, statistic)), float(_stat(y, statistic))
    if sx <= 0 or sy <= 0:
        raise ValueError(f"the {statistic} must be positive in both runs to compare them as a ratio (got {sx} and {sy})")
    observed = np.log(sy / sx)
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, resamples, _CHUNK):
        swap = rng.random((min(_CHUNK, resamples - start), x.size)) < 0.5
        xs, ys = np.where(swap, y, x), np.where(swap, x, y)
        t = np.log(_stat(ys, statistic) / _stat(xs, statistic))
        # Ties count as at least as extreme (a tiny tolerance for float noise in equal statistics).
        hits += int(np.sum(t >= observed - 1e-12))
    return RatioTest(statistic=statistic, n=int(x.size), before=sx, after=sy, ratio=sy / sx, p_value=(1 + hits) / (1 + resamples))
