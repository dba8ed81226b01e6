"""Known-answer and exact-enumeration tests for evals.stats."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.optimize import minimize_scalar
from scipy.stats import multinomial, norm

from evals.cli import main
from evals.stats.exact import critical_value, good_enough_probability, min_samples
from evals.stats.intervals import wilson
from evals.stats.noninferiority import decide, verdict
from evals.stats.paired import gap_from_counts, paired_gap, tango_interval, tango_z
from evals.stats.power import discordance_from_rates, exact_power, plan, score_n

Z975 = 1.959963984540054
GRID_N = (20, 30, 50, 100, 300, 1000)
GRID_PSI = (0.05, 0.1, 0.2, 0.35)
MARGIN = 0.05


def pairs(both: int, cand_only: int, ref_only: int, neither: int) -> tuple[list[bool], list[bool]]:
    """Paired outcomes with the given cell counts of the 2x2 table."""
    cand = [True] * both + [True] * cand_only + [False] * ref_only + [False] * neither
    ref = [True] * both + [False] * cand_only + [True] * ref_only + [False] * neither
    return cand, ref


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
    assert wilson(0, 50)[1] == pytest.approx(Z975**2 / (50 + Z975**2))


def test_wilson_no_samples_and_bad_input() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(5, 4)
    with pytest.raises(ValueError):
        wilson(1, 4, confidence=1.5)


# ---------------------------------------------------------------- Tango's score statistic and interval


@pytest.mark.parametrize(("b", "c", "n", "delta"), [(1, 9, 45, -0.05), (0, 0, 80, -0.05), (7, 2, 30, 0.1), (0, 12, 200, -0.05)])
def test_tango_statistic_uses_the_restricted_maximum_likelihood(b: int, c: int, n: int, delta: float) -> None:
    """Z = (b - c - n delta) / sqrt(n (2 q + delta (1 - delta))), q maximising the
    trinomial likelihood b log(q + delta) + c log q + (n - b - c) log(1 - 2q - delta),
    found here numerically rather than by Tango's closed form."""
    lo, hi = max(0.0, -delta) + 1e-12, (1 - delta) / 2 - 1e-12

    def neg_loglik(q: float) -> float:
        return -(b * math.log(q + delta) + c * math.log(q) + (n - b - c) * math.log(1 - 2 * q - delta))

    q = minimize_scalar(neg_loglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x
    expected = (b - c - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))
    assert float(tango_z(b, c, n, delta)) == pytest.approx(expected, rel=1e-5)


def test_no_disagreement_has_the_closed_form() -> None:
    # b = c = 0: q = m, so Z(-m) = n m / sqrt(n (2m - m - m^2)) = sqrt(n m / (1 - m)).
    assert float(tango_z(0, 0, 100, -MARGIN)) == pytest.approx(math.sqrt(100 * MARGIN / (1 - MARGIN)))


def test_interval_ends_are_where_the_statistic_hits_the_critical_value() -> None:
    g = gap_from_counts(1, 9, 45)
    low, high = g.ci
    assert low < g.gap < high
    assert float(tango_z(1, 9, 45, low)) == pytest.approx(Z975, abs=1e-6)
    assert float(tango_z(1, 9, 45, high)) == pytest.approx(-Z975, abs=1e-6)
    # A wider critical value gives a wider interval.
    wide = tango_interval(1, 9, 45, 2.2)
    assert wide[0] < low and wide[1] > high


def test_interval_does_not_collapse_without_disagreement() -> None:
    low, high = gap_from_counts(0, 0, 20).ci
    assert low < -0.1 and high > 0.1 and low == pytest.approx(-high)


def test_mcnemar_exact_p_hand_computed() -> None:
    # b=1, c=9: two-sided exact binomial = 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024.
    g = paired_gap(*pairs(both=30, cand_only=1, ref_only=9, neither=5))
    assert (g.b, g.c, g.n) == (1, 9, 45)
    assert g.mcnemar_p == pytest.approx(22 / 1024)
    assert g.gap == pytest.approx((1 - 9) / 45)


def test_paired_gap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equal length"):
        paired_gap([True, False], [True])
    with pytest.raises(ValueError, match="no paired samples"):
        paired_gap([], [])


# ---------------------------------------------------------------- exact size and power, by full enumeration


def decision_grid(n: int, margin: float) -> np.ndarray:
    """The verdict's test for every (b, c) with b + c <= n, computed once per n."""
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    valid = b + c <= n
    z = np.where(valid, tango_z(np.where(valid, b, 0), np.where(valid, c, 0), n, -margin), -np.inf)
    return np.asarray(z > critical_value(n, margin)) & valid


def enumerated_probability(n: int, grid: np.ndarray, p10: float, p01: float) -> float:
    """Sum of trinomial (b, c, ties) probabilities over the cells the test accepts."""
    b, c = np.nonzero(grid)
    x = np.stack([b, c, n - b - c], axis=1)
    return float(multinomial.pmf(x, n, [p10, p01, 1 - p10 - p01]).sum())


def test_z_rises_with_candidate_wins_at_fixed_discordant_count() -> None:
    """exact.thresholds relies on it: at fixed s = b + c, Z(-m) increases in b."""
    for n in GRID_N:
        s = np.arange(n + 1)[:, None]
        b = np.arange(n + 1)[None, :]
        z = tango_z(np.minimum(b, s), np.maximum(s - b, 0), n, -MARGIN)
        assert (np.diff(z, axis=1)[b[:, 1:] <= s] > 0).all()


@pytest.mark.parametrize("n", GRID_N)
def test_size_at_the_margin_is_at_most_two_and_a_half_percent(n: int) -> None:
    """P(good enough | true gap = -margin) <= 2.5% for each discordance on the
    grid, and at a few off-grid ones, by full trinomial enumeration; and the
    fast threshold sum used by the planner gives the same number."""
    grid = decision_grid(n, MARGIN)
    for psi in (*GRID_PSI, 0.123, 0.5, 0.77, 1.0):
        p10, p01 = (psi - MARGIN) / 2, (psi + MARGIN) / 2
        size = enumerated_probability(n, grid, p10, p01)
        assert size <= 0.025 + 1e-12, (n, psi, size)
        assert good_enough_probability(n, MARGIN, -MARGIN, psi) == pytest.approx(size, abs=1e-9)


def test_tango_without_the_exact_critical_value_is_anti_conservative_somewhere() -> None:
    """Why the verdict widens: at n = 20 and discordance 0.35 the asymptotic
    critical value gives a size above 2.5% (the exact one is then larger than z)."""
    n, psi = 20, 0.35
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    valid = b + c <= n
    z = np.where(valid, tango_z(np.where(valid, b, 0), np.where(valid, c, 0), n, -MARGIN), -np.inf)
    size = enumerated_probability(n, (z > Z975) & valid, (psi - MARGIN) / 2, (psi + MARGIN) / 2)
    assert size > 0.025
    assert critical_value(n, MARGIN) > Z975


@pytest.mark.parametrize(("n", "psi"), [(100, 0.2), (100, 0.35), (300, 0.2), (300, 0.35), (1000, 0.2), (1000, 0.35)])
def test_power_at_large_samples_is_close_to_the_normal_approximation(n: int, psi: float) -> None:
    """Not more conservative than needed: at a true gap of 0, within 3 points of
    the normal-approximation power Phi(m sqrt(n / psi) - z), which is what the
    old bootstrap verdict achieved where its size was right."""
    approx = float(norm.cdf(MARGIN * math.sqrt(n / psi) - Z975))
    assert abs(good_enough_probability(n, MARGIN, 0.0, psi) - approx) < 0.03


# ---------------------------------------------------------------- the verdict


def test_badge_minimum_is_where_identical_answers_first_get_a_badge() -> None:
    floor = min_samples(MARGIN)
    # At least z^2 (1 - m) / m = 72.99 -> 73, by the closed form above.
    assert floor >= 73
    assert verdict(gap_from_counts(0, 0, floor), MARGIN).verdict == "good enough"
    below = verdict(gap_from_counts(0, 0, floor - 1), MARGIN)
    assert below.verdict == "inconclusive" and below.too_few


def test_a_single_discordant_pair_in_a_small_suite_is_too_few() -> None:
    v = verdict(paired_gap(*pairs(both=10, cand_only=1, ref_only=0, neither=1)), MARGIN)
    floor = min_samples(MARGIN)
    assert v.verdict == "inconclusive"
    assert v.reason == f"too few samples (12, needed about {floor})"
    assert v.extra_samples_needed == floor - 12


def test_too_few_even_when_the_counts_alone_would_decide() -> None:
    # 20 pairs, the candidate wins 8 of 8 disagreements: the test alone would say good enough.
    g = gap_from_counts(8, 0, 20)
    assert decide(float(tango_z(8, 0, 20, -MARGIN)), critical_value(20, MARGIN)) == "good enough"
    assert verdict(g, MARGIN).too_few


def test_verdict_regions_on_large_samples() -> None:
    assert verdict(gap_from_counts(20, 20, 1000), MARGIN).verdict == "good enough"
    assert verdict(gap_from_counts(10, 110, 1000), MARGIN).verdict == "not good enough"
    v = verdict(gap_from_counts(10, 14, 200), MARGIN)  # gap -0.02, discordance 0.12
    assert v.verdict == "inconclusive" and not v.too_few
    assert v.extra_samples_needed == score_n(MARGIN, -0.02, 0.12) - 200
    assert v.ci[0] <= -MARGIN <= v.ci[1]


def test_verdict_agrees_with_its_interval() -> None:
    n = 100
    for b in range(0, 40, 3):
        for c in range(0, 40, 3):
            v = verdict(gap_from_counts(b, c, n), MARGIN)
            assert (v.verdict == "good enough") == (v.ci[0] > -MARGIN)
            assert (v.verdict == "not good enough") == (v.ci[1] < -MARGIN)


def test_inconclusive_exactly_at_the_margin_has_no_estimate() -> None:
    assert verdict(gap_from_counts(5, 15, 200), MARGIN).extra_samples_needed is None


# ---------------------------------------------------------------- planning


def test_score_formula_against_hand_computation() -> None:
    """Nam (1997): n = (z s0 + z_b s1)^2 / (gap + m)^2 with s1^2 = psi - gap^2 and
    s0^2 = 2 q0 - m (1 + m), q0 the restricted estimate at the true cells.
    psi = 0.05, gap 0: w = -0.05 + 2(-0.05) = -0.15, q0 = (sqrt(0.0225 - 8(0.025)(0.0525)) + 0.15) / 4."""
    q0 = (math.sqrt(0.0225 - 8 * 0.025 * 0.0525) + 0.15) / 4
    s0, s1 = math.sqrt(2 * q0 - 0.05 * 1.05), math.sqrt(0.05)
    assert score_n(MARGIN, 0.0, 0.05) == math.ceil((Z975 * s0 + norm.ppf(0.8) * s1) ** 2 / 0.05**2) == 215
    assert score_n(MARGIN, 0.0, 0.1) == 350


def test_score_formula_rejects_impossible_plans() -> None:
    with pytest.raises(ValueError, match="cannot be shown"):
        plan(MARGIN, gap=-0.05)
    with pytest.raises(ValueError, match="discordance"):
        score_n(MARGIN, 0.1, 0.05)


def test_plan_is_the_smallest_n_reaching_the_exact_power() -> None:
    p = plan(MARGIN, 0.0, 0.05)
    assert p.formula_n == 215
    assert p.exact_power >= 0.8 and exact_power(p.exact_n, MARGIN, 0.0, 0.05) == p.exact_power
    start = max(min_samples(MARGIN), math.floor(0.8 * p.formula_n))
    assert all(exact_power(n, MARGIN, 0.0, 0.05) < 0.8 for n in range(start, p.exact_n))


def test_cli_plan_prints_an_n_with_the_promised_exact_power() -> None:
    r = CliRunner().invoke(main, ["plan", "--margin", "0.05", "--expected-gap", "0", "--discordance", "0.05"])
    assert r.exit_code == 0, r.output
    n = int(re.match(r"(\d+) paired samples", r.output).group(1))  # type: ignore[union-attr]
    assert exact_power(n, MARGIN, 0.0, 0.05) >= 0.8
    assert "score formula (Nam 1997): 215 paired samples" in r.output
    r = CliRunner().invoke(main, ["plan", "--margin", "0.05", "--expected-gap", "-0.06"])
    assert r.exit_code == 2 and "cannot be shown" in r.output


def test_discordance_from_rates_is_the_independence_value() -> None:
    assert discordance_from_rates(0.85, 0.80) == pytest.approx(0.85 * 0.2 + 0.8 * 0.15)
    assert discordance_from_rates(0.9, 0.6) >= 0.3
