"""Confidence intervals for pass rates."""

from __future__ import annotations

from scipy.stats import binomtest, norm


def z_two_sided(confidence: float) -> float:
    """The normal quantile that leaves (1 - confidence) / 2 in each tail."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(norm.ppf(1 - (1 - confidence) / 2))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k passes out of n (Wilson 1927; Newcombe 1998, method 3), from
    scipy (`binomtest(k, n).proportion_ci(method="wilson")`).

    Chosen over the textbook Wald interval because it stays inside [0, 1] and
    keeps near-nominal coverage at the small counts and extreme pass rates
    that per-category breakdowns produce. With no samples, all that is known
    is that the rate lies in [0, 1].
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n == 0:
        return 0.0, 1.0
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)
