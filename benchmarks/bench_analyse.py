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
from evals.providers.base import Completion, Status, Timing, Usage
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
    api: dict[str, bool] = {}
    for name, (body, _) in RUNNERS.items():
        prof = RunnerProfile.model_validate({"name": name, "concurrency": 64, **body})
        store.add_runner(run_id, name, prof.provider, prof.model, False, prof.profile_hash(), prof.model_dump_json())
        store.update_runner(run_id, name, requests_sent=n, requests_reused=0)
        api[name] = prof.pricing.api is not None
    scores, outcomes = [], []
    store.start_writer()  # attempts are written as a run writes them
    for name, (_, p) in RUNNERS.items():
        for i in range(n):
            status = "ok" if rng.random() > 0.01 else rng.choice(["error", "truncated", "timeout"])
            passed = status == "ok" and rng.random() < p
            text = f"answer {i}" if passed else "a plausible wrong answer " * rng.randint(1, 40)
            timing = Timing(ttft_ms=rng.uniform(80, 600), latency_ms=rng.uniform(300, 3000), output_tps=rng.uniform(30, 90))
            answer = Completion(
                status=Status(status), text=text, finish_reason="stop" if status == "ok" else None, timing=timing, error=None if status == "ok" else "boom",
                usage=Usage(input_tokens=300, cached_input_tokens=0, cache_write_tokens=0, output_tokens=40, reasoning_tokens=0),
            )
            store.record_attempt(run_id, name, f"s{i}", f"k{name}{i}", 1, True, answer, 0.0012 if api[name] else 0.0, None)
            if status == "ok":
                scores.append((run_id, name, f"s{i}", 1, 0, "exact", "{}", 1.0, float(passed), int(passed), "matched" if passed else "differs", None, "{}", None, None, ""))
                outcomes.append((run_id, name, f"s{i}", 1, float(passed), int(passed)))
    store.stop_writer()
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
