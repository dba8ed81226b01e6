"""How long `render` takes, and how big the page gets, for a large run.

100,000 samples × 4 runners; the failure rows are every non-passing
(runner, sample), with output lengths drawn from a long-tailed distribution
like real model answers. Targets: under 30 s and under 15 MB.

    python benchmarks/bench_report.py [--samples N] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from pathlib import Path

from evals.report.model import CategoryResult, FailureRow, PriceSource, ReportModel, RunnerSummary, VerdictResult
from evals.report.render import render

RUNNERS = [("claude-sonnet", "reference", 0.90), ("qwen-72b", "candidate", 0.86), ("llama-70b", "candidate", 0.79), ("mistral-small", "candidate", 0.70)]
CATEGORIES = [f"category-{i:02d}" for i in range(12)]
ERROR_RATE = 0.02
WORDS = "the invoice ticket customer refund account password outage service request order shipping label bug report error status billing".split()


def _text_pool(rng: random.Random, size: int = 2_000_000) -> str:
    """Word soup to slice answers from: cheap to make, not trivially compressible."""
    words: list[str] = []
    length = 0
    while length < size:
        w = rng.choice(WORDS)
        words.append(w + ("\n" if rng.random() < 0.05 else " "))
        length += len(w) + 1
    return "".join(words)


def _answer(rng: random.Random, pool: str) -> str:
    """An answer of long-tailed length: median about 600 characters, a few over 10,000."""
    n = min(int(rng.lognormvariate(6.4, 0.9)), 40_000)
    start = rng.randrange(len(pool) - n)
    return pool[start : start + n]


def build_model(samples: int, seed: int = 0) -> ReportModel:
    """A finished run of `samples` samples on four runners, failures included."""
    rng = random.Random(seed)
    pool = _text_pool(rng)
    category = [CATEGORIES[i % len(CATEGORIES)] for i in range(samples)]
    expected = [f"label-{rng.randrange(8)}: {rng.choice(WORDS)} {rng.choice(WORDS)}" for _ in range(samples)]
    reference_out = [_answer(rng, pool) for _ in range(samples)]
    failures: list[FailureRow] = []
    summaries: list[RunnerSummary] = []
    for name, role, rate in RUNNERS:
        completed = answered = 0
        statuses = {"ok": 0, "error": 0, "timeout": 0, "truncated": 0}
        for i in range(samples):
            status = rng.choice(["error", "timeout", "truncated"]) if rng.random() < ERROR_RATE else "ok"
            statuses[status] += 1
            passed = rng.random() < rate if status == "ok" else None
            answered += status == "ok"
            completed += bool(passed)
            if passed:
                continue
            failures.append(
                FailureRow(
                    sample_id=f"s-{i:06d}", category=category[i], runner=name, status=status, passed=passed,
                    output=(reference_out[i] if role == "reference" else _answer(rng, pool)) if status != "error" else "",
                    reference_output=None if role == "reference" else reference_out[i], expected=expected[i],
                    explanation=f"exact: expected {expected[i][:7]!r}, got 'label-{rng.randrange(8)}'" if status == "ok" else "",
                    error="HTTP 503 from upstream: overloaded" if status == "error" else None,
                )
            )
        cost = 0.012 if role == "reference" else 0.002
        summaries.append(
            RunnerSummary(
                name=name, provider="anthropic" if role == "reference" else "openai_compatible", model=name, simulated=False, role=role,
                samples=samples, answered=answered, completed=completed, errors=samples - answered, statuses=statuses,
                pass_rate=completed / answered, pass_rate_ci=[completed / answered - 0.003, completed / answered + 0.003],
                completion_rate=completed / samples, attempts=samples, requests_sent=samples, requests_reused=0,
                input_tokens=samples * 900, output_tokens=samples * 180, cost_total_usd=cost * completed, cost_per_completed_task_usd=cost,
                cost_basis="API list price" if role == "reference" else "2× H100 at $4.00/GPU-hour", throughput_tasks_per_hour=None if role == "reference" else 5400.0,
                ttft_ms_p50=300.0, ttft_ms_p95=900.0, latency_ms_p50=2500.0, latency_ms_p95=7000.0, output_tps_p50=70.0,
            )
        )
    categories = [
        CategoryResult(runner=name, category=c, samples=samples // 12, answered=samples // 12, completed=int(rate * samples / 12), pass_rate=rate, pass_rate_ci=[rate - 0.01, rate + 0.01], small=False)
        for name, _, rate in RUNNERS
        for c in CATEGORIES
    ]

    def verdict(cand: str, rate: float, cat: str) -> VerdictResult:
        gap = rate - RUNNERS[0][2]
        v = "good enough" if gap > -0.04 else "not good enough"
        return VerdictResult(candidate=cand, reference=RUNNERS[0][0], category=cat, paired=samples, gap=gap, gap_ci=[gap - 0.005, gap + 0.005], mcnemar_p=0.01, margin=0.05, verdict=v, extra_samples_needed=None, sentence=f"{cand} is {v.upper()}: {100 * gap:+.1f} points.")

    return ReportModel(
        run_id="bench", suite="bench", suite_hash="0" * 64, created_at="2025-06-01T00:00:00Z", finished_at="2025-06-01T06:00:00Z", status="finished",
        tool_version="0.1.0", git_commit=None, simulated=False, simulated_runners=[], reference=RUNNERS[0][0], margin=0.05, runners=summaries,
        categories=categories, verdicts=[verdict(n, r, "all") for n, _, r in RUNNERS[1:]], category_verdicts=[verdict(n, r, c) for n, _, r in RUNNERS[1:] for c in CATEGORIES],
        prices=[PriceSource(runner=n, basis="catalogue", source="bundled catalogue", as_of="2025-05-01") for n, _, _ in RUNNERS],
        method={"samples": samples, "categories": {c: samples // 12 for c in CATEGORIES}}, failures=failures,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="where to write the report (default: a temporary directory)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    model = build_model(args.samples)
    t1 = time.perf_counter()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-report-"))
    index = render(model, out)
    t2 = time.perf_counter()
    print(f"model: {args.samples:,} samples × {len(model.runners)} runners, {len(model.failures):,} failure rows (built in {t1 - t0:.1f} s)")
    print(f"render: {t2 - t1:.2f} s (target < 30 s)")
    held = re.search(r"this page holds ([\d,]+)", index.read_text(encoding="utf-8"))
    print(f"index.html: {index.stat().st_size / 1e6:.2f} MB (target < 15 MB), explorer holds {held.group(1) if held else 'all'} rows; summary.json {(out / 'summary.json').stat().st_size / 1e3:.1f} kB")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
