"""A 100,000-sample, 4-runner run from the store to index.html: analyse + render.

bench_report.py times render alone from a ready ReportModel; this fills a real
results store (runs, samples, attempts, scores, outcomes) with synthetic answers
and times the stages a user waits for after a run: analyse (statistics, cost,
routing, failures) and render.

    python benchmarks/bench_analyse.py [--samples 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from evals.config import RunnerProfile
from evals.report.analyse import analyse
from evals.report.render import render
from evals.store.db import Store

RUNNERS = {
    "claude": ({"provider": "anthropic", "model": "claude-sonnet-4-5", "pricing": {"api": {"model": "claude-sonnet-4-5"}}}, 0.95),
    "gpt": ({"provider": "openai", "model": "gpt-5", "pricing": {"api": {"model": "gpt-5"}}}, 0.94),
    "llama": ({"provider": "openai_compatible", "model": "llama", "base_url": "http://x/v1", "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 4, "cloud_price_per_gpu_hour": 1.79}}}, 0.90),
    "qwen": ({"provider": "openai_compatible", "model": "qwen", "base_url": "http://y/v1", "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 4, "cloud_price_per_gpu_hour": 1.79}}}, 0.92),
}
CATS = ["triage", "extract", "factual", "rewrite", "code", "other"]


def fill(store: Store, n: int, rng: random.Random) -> str:
    run_id = "bench-run"
    store.create_run(run_id, suite="bench", suite_hash="h", workspace=None, git_commit=None, tool_version="bench", reference_runner="claude", info={"margin": 0.05})
    store.add_samples(run_id, ((f"s{i}", CATS[i % 6], json.dumps([{"role": "user", "content": f"question {i} " * 20}]), json.dumps(f"answer {i}"), "{}", None, None) for i in range(n)))
    now = time.time()
    for name, (body, p) in RUNNERS.items():
        prof = RunnerProfile.model_validate({"name": name, "concurrency": 64, **body})
        store.add_runner(run_id, name, prof.provider, prof.model, False, prof.profile_hash(), prof.model_dump_json())
        store.update_runner(run_id, name, requests_sent=n, requests_reused=0)
        api = prof.pricing.api is not None
        attempts, scores, outcomes = [], [], []
        for i in range(n):
            status = "ok" if rng.random() > 0.01 else rng.choice(["error", "truncated", "timeout"])
            passed = status == "ok" and rng.random() < p
            text = f"answer {i}" if passed else "a plausible wrong answer " * rng.randint(1, 40)
            attempts.append((run_id, name, f"s{i}", f"k{name}{i}", 1, 1, None, status, text, "stop" if status == "ok" else None, 300, 0, 0, 40, 0,
                             rng.uniform(80, 600), rng.uniform(300, 3000), rng.uniform(30, 90), None if status == "ok" else "boom", None, None, 0.0012 if api else 0.0, None, None, now))
            if status == "ok":
                scores.append((run_id, name, f"s{i}", 1, 0, "exact", "{}", 1.0, float(passed), int(passed), "matched" if passed else "differs", None, "{}", None, None, ""))
                outcomes.append((run_id, name, f"s{i}", 1, float(passed), int(passed)))
        store.db.executemany("INSERT INTO attempts (run_id, runner, sample_id, request_key, attempt, final, reused_from, status, text, finish_reason, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, ttft_ms, latency_ms, output_tps, error, error_kind, http_status, cost_usd, base_url, served_model, created_at) VALUES (" + ",".join("?" * 25) + ")", attempts)
        store.add_scores(scores)
        store.add_outcomes(outcomes)
    store.finish_run(run_id, "finished")
    return run_id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000)
    n = ap.parse_args().samples
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "evals.sqlite")
        t = time.perf_counter()
        run_id = fill(store, n, random.Random(0))
        print(f"store filled: {n:,} samples x {len(RUNNERS)} runners in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        model = analyse(store, run_id)
        t_analyse = time.perf_counter() - t
        t = time.perf_counter()
        path = render(model, Path(d) / "report")
        t_render = time.perf_counter() - t
        size = path.stat().st_size / 1e6
        print(f"analyse: {t_analyse:.1f} s   render: {t_render:.1f} s   total: {t_analyse + t_render:.1f} s (target < 30 s)")
        print(f"index.html: {size:.2f} MB (target < 15 MB); failures in the model: {len(model.failures):,}")
        store.close()


if __name__ == "__main__":
    main()
