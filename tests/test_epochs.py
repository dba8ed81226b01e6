"""Epochs: repeated samples for models that sample, end to end and in the statistics (issue 12, item 4).

Expected values are derived by hand: with one epoch the per-sample-mean statistic must be Tango's
exactly; the sign-flip test on −1/0/1 differences must be the exact McNemar test; on small fractional
samples it must equal brute-force enumeration of all 2^n sign vectors.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from evals.cli import main
from evals.gate.rule import mcnemar_drop_p
from evals.stats.exact import critical_value
from evals.stats.means import restricted_variance, score_interval, score_z, sign_flip_drop_p
from evals.stats.noninferiority import mean_verdict
from evals.stats.paired import tango_interval, tango_z
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace

# ---------------------------------------------------------------- statistics


def test_one_epoch_is_exactly_tango() -> None:
    worst = 0.0
    for n in (20, 50, 100):
        for b in range(0, n, 3):
            for c in range(0, n - b, 4):
                d = [1.0] * b + [-1.0] * c + [0.0] * (n - b - c)
                for delta in (-0.3, -0.05, 0.0, 0.1):
                    worst = max(worst, abs(score_z(d, delta) - float(tango_z(b, c, n, delta))))
    assert worst < 1e-9
    d = [1.0] * 5 + [-1.0] * 9 + [0.0] * 86
    assert score_interval(d, 1.96) == pytest.approx(tango_interval(5, 9, 100, 1.96), abs=1e-8)


def test_restricted_fit_puts_the_missing_mass_at_minus_one() -> None:
    """No disagreement observed: a gap of −m is only possible with mass m at −1, so Var = m(1 − m)
    and Z(−m) = sqrt(n m / (1 − m)), by hand."""
    m, n = 0.05, 80
    assert restricted_variance(np.array([0.0]), np.array([float(n)]), -m) == pytest.approx(m * (1 - m))
    assert score_z([0.0] * n, -m) == pytest.approx(math.sqrt(n * m / (1 - m)))


def test_sign_flip_is_mcnemar_on_single_answers_and_exact_on_fractions() -> None:
    for b, c in ((0, 0), (5, 12), (3, 3), (0, 7), (20, 31)):
        assert sign_flip_drop_p([1.0] * b + [-1.0] * c + [0.0] * 40) == pytest.approx(mcnemar_drop_p(b, c), rel=1e-9)
    d = [1 / 3, -2 / 3, -1.0, 0.0, 2 / 3, -1 / 3, -1 / 3, 1.0, -2 / 3, -1 / 3, 0.5, -0.5]
    observed = sum(d)
    hits = sum(1 for signs in itertools.product((1, -1), repeat=len(d)) if sum(s * abs(x) for s, x in zip(signs, d)) <= observed + 1e-12)
    assert sign_flip_drop_p(d) == pytest.approx(hits / 2 ** len(d), rel=1e-9)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_size_at_the_margin_with_epochs(k: int) -> None:
    """Seeded simulation at a true gap of exactly −margin: P(good enough) <= 2.5% (plus three Monte
    Carlo standard errors). Mixes: flaky on both sides; a flaky candidate on 10% of tasks (skewed,
    the hard case for a bootstrap); deterministic 5% losses (one epoch's worst case)."""
    m, n, reps = 0.05, 100, 600
    crit = critical_value(n, m)
    rng = np.random.default_rng(k)
    scenarios = {
        "both flaky": lambda: (np.full(n, 0.45), np.full(n, 0.5)),
        "skewed": lambda: (np.where(rng.random(n) < 0.1, 0.5, 1.0), np.ones(n)),
        "deterministic": lambda: (np.where(np.arange(n) < 5, 0.0, 1.0), np.ones(n)),
    }
    limit = 0.025 + 3 * math.sqrt(0.025 * 0.975 / reps)
    for name, probs in scenarios.items():
        rejected = 0
        for _ in range(reps):
            pc, pr = probs()
            d = rng.binomial(k, pc) / k - rng.binomial(k, pr) / k
            rejected += score_z(list(d), -m) > crit
        assert rejected / reps <= limit, f"{name}: {rejected / reps:.3f}"


def test_mean_verdict_badges_and_floor() -> None:
    good = mean_verdict([0.0] * 150 + [1 / 3] * 10 + [-1 / 3] * 10, 0.05)
    assert good.verdict.verdict == "good enough" and good.gap == pytest.approx(0.0)
    bad = mean_verdict([0.0] * 100 + [-1.0] * 40 + [-2 / 3] * 30, 0.05)
    assert bad.verdict.verdict == "not good enough"
    few = mean_verdict([0.0] * 12, 0.05)
    assert few.verdict.too_few and few.verdict.reason.startswith("too few samples (12, needed about")


# ---------------------------------------------------------------- end to end


N = 20
"""Samples in the end-to-end workspace."""


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"CI": "1"}, catch_exceptions=False)


def _workspace(tmp_path: Path, **suite: Any) -> Path:
    return write_workspace(
        tmp_path,
        {
            # The Messages API takes no temperature: every request samples.
            "ref": {**sim_runner("ref-model", "anthropic", accuracy={"default": 0.8}, flakiness=0.5, seed=1), "role": "reference"},
            # Greedy: asked once whatever the epochs.
            "greedy": sim_runner("greedy-model", accuracy={"default": 0.8}, flakiness=0.5, seed=2),
            "hot": {**sim_runner("hot-model", accuracy={"default": 0.7}, flakiness=0.5, seed=3), "params": {"temperature": 0.8}},
        },
        n_samples=N,
        suite_extra=suite,
    )


def _counts(store: Store, run_id: str) -> dict[str, tuple[int, int, int]]:
    """runner -> (final answers, distinct epochs, fresh requests)."""
    rows = store.query(
        "SELECT runner, COUNT(*) n, COUNT(DISTINCT epoch) e, SUM(reused_from IS NULL) fresh FROM attempts WHERE run_id=? AND final=1 AND purpose='run' GROUP BY runner",
        (run_id,),
    )
    return {r["runner"]: (r["n"], r["e"], r["fresh"]) for r in rows}


def test_epochs_end_to_end_reuse_report_and_gate(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, epochs=3)
    res = _cli("run", "-w", str(ws), "-s", "mini", "-r", "ref", "-r", "greedy", "-r", "hot", "-q")
    assert res.exit_code == 0, res.output
    store = Store(ws / "reports" / "evals.sqlite")
    first = store.latest_run_id()
    assert first is not None
    assert _counts(store, first) == {"ref": (3 * N, 3, 3 * N), "greedy": (N, 1, N), "hot": (3 * N, 3, 3 * N)}
    # each epoch its own request key; the greedy runner's key is the one it had before epochs existed
    keys = store.query("SELECT COUNT(DISTINCT request_key) k FROM attempts WHERE run_id=? AND runner='hot'", (first,))[0]["k"]
    assert keys == 3 * N
    info = json.loads(store.run(first)["info_json"])
    assert info["epochs"] == {"ref": 3, "greedy": 3, "hot": 3}
    # outcomes and scores per epoch
    assert store.query("SELECT COUNT(*) n FROM outcomes WHERE run_id=? AND runner='hot'", (first,))[0]["n"] == 3 * N
    flaky = store.query(
        "SELECT COUNT(*) n FROM (SELECT sample_id FROM outcomes WHERE run_id=? AND runner='hot' GROUP BY sample_id HAVING MIN(passed) <> MAX(passed))", (first,)
    )[0]["n"]
    assert flaky > 0, "the simulated flaky runner should disagree with itself on some samples"

    summary = json.loads((ws / "reports" / first / "summary.json").read_text())
    runners = {r["name"]: r for r in summary["runners"]}
    assert runners["hot"]["answers_planned"] == 3 * N and runners["greedy"]["answers_planned"] == N
    assert runners["hot"]["flakiness"]["samples"] == N and runners["hot"]["flakiness"]["mixed"] == flaky
    assert runners["greedy"]["flakiness"] is None
    verdicts = {v["candidate"]: v for v in summary["verdicts"]}
    assert verdicts["hot"]["epochs"] and verdicts["hot"]["paired"] == N  # samples are the unit, not 3N answers
    assert "pass rate over its epochs" in verdicts["hot"]["sentence"]
    html = (ws / "reports" / first / "index.html").read_text()
    assert "passed on some epochs and failed on others" in html

    store.close()  # a Store reads in one transaction: reopen to see the next runs
    # A rerun reuses each epoch's own answer: nothing is sent.
    res = _cli("run", "-w", str(ws), "-s", "mini", "-r", "ref", "-r", "greedy", "-r", "hot", "-q")
    assert res.exit_code == 0, res.output
    store = Store(ws / "reports" / "evals.sqlite")
    second = store.latest_run_id()
    assert second is not None and second != first
    assert {r: c[2] for r, c in _counts(store, second).items()} == {"ref": 0, "greedy": 0, "hot": 0}
    # One more epoch: only epoch 4 is sent; no sampled answer stands in for a new draw.
    store.close()
    res = _cli("run", "-w", str(ws), "-s", "mini", "-r", "ref", "-r", "greedy", "-r", "hot", "-q", "--epochs", "4")
    assert res.exit_code == 0, res.output
    store = Store(ws / "reports" / "evals.sqlite")
    third = store.latest_run_id()
    assert third is not None
    assert _counts(store, third) == {"ref": (4 * N, 4, N), "greedy": (N, 1, 0), "hot": (4 * N, 4, N)}
    assert store.query("SELECT COUNT(*) n FROM attempts WHERE run_id=? AND reused_from IS NULL AND epoch<>4", (third,))[0]["n"] == 0

    # The gate compares per-sample pass rates over epochs with the sign-flip test.
    res = _cli("gate", third, "-w", str(ws), "--baseline", first, "--min-shared", "10")
    assert res.exit_code in (0, 1, 2), res.output
    assert "sign-flip test on per-sample pass rates over epochs" in res.output

    # Export carries the epoch on every row.
    out = tmp_path / "answers.jsonl"
    res = _cli("export", "-w", str(ws), first, str(out))
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted({r["epoch"] for r in rows if r["runner"] == "hot"}) == [1, 2, 3]
    store.close()


def test_epochs_are_checked(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, epochs=0)
    res = _cli("run", "-w", str(ws), "-s", "mini", "-r", "greedy", "-q")
    assert res.exit_code == 2 and "epochs" in res.output and "suite.yaml" in res.output
    res = _cli("run", "-w", str(ws), "-s", "mini", "-r", "greedy", "-q", "--epochs", "0")
    assert res.exit_code == 2 and "--epochs" in res.output


def test_pass_rate_interval_and_flakiness_by_hand() -> None:
    """Six samples of three epochs passing 3, 2, 1, 3, 2, 0 times: r = 11/18; residuals p_i − 3r sum in
    squares to 41/6, so Var = 6/5 · (41/6) / 18² = 41/1620. Flaky: the three samples with 1 or 2 passes;
    two epochs agree with probability 1 (3 or 0 passes) or 2/6 (1 or 2 passes), mean 2/3. One answer per
    sample: the interval is Wilson's."""
    from evals.report.analyse import _clustered_rate, _flakiness
    from evals.stats.intervals import wilson, z_two_sided

    per = {f"s{i}": [j < k for j in range(3)] for i, k in enumerate((3, 2, 1, 3, 2, 0))}
    rate, ci = _clustered_rate(per)
    half = z_two_sided(0.95) * math.sqrt(41 / 1620)
    assert rate == pytest.approx(11 / 18) and ci == pytest.approx([11 / 18 - half, 11 / 18 + half])
    f = _flakiness(per)
    assert f is not None and (f.samples, f.mixed) == (6, 3) and f.agreement == pytest.approx(2 / 3)
    once = {f"s{i}": [i % 3 == 0] for i in range(10)}
    assert _clustered_rate(once) == (0.4, list(wilson(4, 10)))
    assert _flakiness(once) is None


def test_no_disagreement_plans_the_same_with_or_without_epochs() -> None:
    """All d_i = 0 is Tango's b = c = 0 case: both verdicts ask for the same fewest agreeing pairs."""
    from evals.stats.noninferiority import verdict
    from evals.stats.paired import gap_from_counts

    single = verdict(gap_from_counts(0, 0, 40), 0.05)
    means = mean_verdict([0.0] * 40, 0.05).verdict
    assert single.too_few and means.reason == single.reason and means.extra_samples_needed == single.extra_samples_needed
