"""Known-answer and simulation tests for evals.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from evals.stats.intervals import wilson
from evals.stats.noninferiority import verdict
from evals.stats.paired import PairedGap, paired_gap
from evals.stats.power import discordance_from_rates, paired_n, samples_needed


def pairs(both: int, cand_only: int, ref_only: int, neither: int) -> tuple[list[bool], list[bool]]:
    """Paired outcomes with the given cell counts of the 2x2 table."""
    cand = [True] * both + [True] * cand_only + [False] * ref_only + [False] * neither
    ref = [True] * both + [False] * cand_only + [True] * ref_only + [False] * neither
    return cand, ref


def simulate_pairs(rng: np.random.Generator, n: int, cells: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """n paired outcomes; `cells` = P(both pass), P(candidate only), P(reference only), P(neither)."""
    kind = rng.choice(4, size=n, p=cells)
    return (kind == 0) | (kind == 1), (kind == 0) | (kind == 2)


# ---------------------------------------------------------------- Wilson


def test_wilson_published_example() -> None:
    # Newcombe (1998), Stat Med 17:857, example 81/263: 0.2553 to 0.3662.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_wilson_zero_and_full_counts() -> None:
    # Newcombe (1998) example 0/10: 0 to 0.2775; and its mirror 10/10.
    low, high = wilson(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775
    low, high = wilson(10, 10)
    assert round(low, 4) == 0.7225 and high == 1.0
    # k = 0 has the closed form z^2 / (n + z^2).
    z = 1.959963984540054
    assert wilson(0, 50)[1] == pytest.approx(z * z / (50 + z * z))


def test_wilson_no_samples_and_bad_input() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(5, 4)
    with pytest.raises(ValueError):
        wilson(1, 4, confidence=1.5)


# ---------------------------------------------------------------- paired gap


def test_mcnemar_exact_p_hand_computed() -> None:
    # b=1, c=9: two-sided exact binomial = 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024.
    cand, ref = pairs(both=30, cand_only=1, ref_only=9, neither=5)
    g = paired_gap(cand, ref)
    assert (g.b, g.c, g.n) == (1, 9, 45)
    assert g.mcnemar_p == pytest.approx(22 / 1024)
    assert round(g.mcnemar_p, 5) == 0.02148
    assert g.gap == pytest.approx((1 - 9) / 45)


def test_bootstrap_is_reproducible_with_the_seed() -> None:
    cand, ref = pairs(both=50, cand_only=8, ref_only=14, neither=28)
    assert paired_gap(cand, ref, seed=7).ci == paired_gap(cand, ref, seed=7).ci
    # Few resamples, so the seed visibly moves the (otherwise grid-aligned) quantiles.
    assert paired_gap(cand, ref, n_boot=200, seed=0).ci != paired_gap(cand, ref, n_boot=200, seed=1).ci


def test_bootstrap_matches_normal_approximation_on_a_big_sample() -> None:
    cand, ref = pairs(both=3500, cand_only=400, ref_only=600, neither=500)
    g = paired_gap(cand, ref)
    n, d, psi = 5000, -200 / 5000, 1000 / 5000
    half = 1.959964 * math.sqrt((psi - d * d) / n)
    assert g.ci[0] == pytest.approx(d - half, abs=0.002)
    assert g.ci[1] == pytest.approx(d + half, abs=0.002)


def test_no_discordant_pairs_gives_wilson_width_not_a_point() -> None:
    cand, ref = pairs(both=15, cand_only=0, ref_only=0, neither=5)
    g = paired_gap(cand, ref)
    u = wilson(0, 20)[1]
    assert g.ci == pytest.approx((-u, u))
    assert g.mcnemar_p == 1.0


def test_paired_gap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equal length"):
        paired_gap([True, False], [True])
    with pytest.raises(ValueError, match="no paired samples"):
        paired_gap([], [])


# ---------------------------------------------------------------- power


def test_samples_needed_against_hand_computation() -> None:
    # (z_.975 + z_.8)^2 * psi / m^2 = (1.959964 + 0.841621)^2 * 0.2 / 0.0025 = 627.9 -> 628.
    assert samples_needed(0.05) == 628
    # With an expected gap of -0.02: variance 0.2 - 0.0004, distance 0.03.
    expected = (1.959964 + 0.841621) ** 2 * (0.2 - 0.02**2) / 0.03**2
    assert samples_needed(0.05, expected_gap=-0.02) == math.ceil(expected)


def test_samples_needed_rejects_impossible_plans() -> None:
    with pytest.raises(ValueError, match="cannot be shown"):
        samples_needed(0.05, expected_gap=-0.05)
    with pytest.raises(ValueError, match="discordance"):
        samples_needed(0.05, expected_gap=0.1, discordance=0.05)


def test_discordance_from_rates_is_the_independence_value() -> None:
    assert discordance_from_rates(0.85, 0.80) == pytest.approx(0.85 * 0.2 + 0.8 * 0.15)
    assert discordance_from_rates(0.9, 0.6) >= 0.3


def test_planned_sample_size_gives_the_planned_power() -> None:
    # True gap 0, discordance 0.15: at the planned n, about 80% of runs are "good enough".
    cells = [0.725, 0.075, 0.075, 0.125]
    n = samples_needed(0.05, expected_gap=0.0, discordance=0.15)
    rng = np.random.default_rng(11)
    trials = 600
    good = sum(
        verdict(paired_gap(*simulate_pairs(rng, n, cells), n_boot=1000, seed=t)).verdict == "good enough"
        for t in range(trials)
    )
    assert abs(good / trials - 0.8) < 0.06  # 0.06 is about 3.7 standard errors of a 600-trial share


# ---------------------------------------------------------------- verdict


def gap_with_ci(low: float, high: float, b: int = 10, c: int = 14, n: int = 200) -> PairedGap:
    return PairedGap(gap=(b - c) / n, ci=(low, high), n=n, b=b, c=c, mcnemar_p=0.5)


def test_verdict_regions() -> None:
    assert verdict(gap_with_ci(-0.04, 0.02)).verdict == "good enough"
    assert verdict(gap_with_ci(-0.12, -0.06)).verdict == "not good enough"
    v = verdict(gap_with_ci(-0.08, 0.01))
    assert v.verdict == "inconclusive" and v.extra_samples_needed is not None
    # Planned from the observed gap -0.02 and discordance 0.12, minus the 200 already run.
    needed = paired_n(0.03, 0.12 - 0.02**2, alpha=0.05, power=0.8)
    assert v.extra_samples_needed == needed - 200


def test_inconclusive_below_the_margin_plans_for_not_good_enough() -> None:
    v = verdict(gap_with_ci(-0.15, -0.04, b=4, c=20, n=200))  # observed gap -0.08
    assert v.verdict == "inconclusive"
    assert v.extra_samples_needed == paired_n(0.03, 0.12 - 0.08**2) - 200


def test_inconclusive_exactly_at_the_margin_has_no_estimate() -> None:
    assert verdict(gap_with_ci(-0.12, 0.02, b=5, c=15, n=200)).extra_samples_needed is None


def test_identical_answers_need_enough_samples() -> None:
    # No disagreements: good enough only once z^2/(n + z^2) < margin, i.e. n >= 73 at 5 points.
    small = verdict(paired_gap(*pairs(15, 0, 0, 5)))
    assert small.verdict == "inconclusive" and small.extra_samples_needed == 73 - 20
    assert verdict(paired_gap(*pairs(60, 0, 0, 13))).verdict == "good enough"


def test_type_one_error_at_the_margin() -> None:
    """With the true gap exactly at -margin, "good enough" is a false claim.

    Reference 0.85, candidate 0.80 (gap -0.05 = -margin), discordance 0.15
    (correlation about 0.5, as two models on the same tasks show), 400 pairs.
    The nominal rate is 2.5% (one-sided, from the 95% two-sided interval). The
    bound is the 99.9% quantile of Binomial(trials, 0.025): a procedure that
    is exactly nominal exceeds it only 0.1% of the time, while one at 4% or
    worse (a percentile bootstrap running clearly too narrow) would exceed it.
    """
    trials, nominal = 2000, 0.025
    cells = [0.75, 0.05, 0.10, 0.10]
    rng = np.random.default_rng(2024)
    false_claims = sum(
        verdict(paired_gap(*simulate_pairs(rng, 400, cells), n_boot=1000, seed=t), margin=0.05).verdict == "good enough"
        for t in range(trials)
    )
    assert false_claims <= binom.ppf(0.999, trials, nominal)
