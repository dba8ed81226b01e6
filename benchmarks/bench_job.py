"""The whole job as a user runs it: `evals run` in a fresh process, from its start to the
report written (interpreter start-up and imports, requests, store, scoring, analysis, the
HTML report), beside a bare loop of the openai SDK sending the same requests, on the same
simulated server in its own process.

    python benchmarks/bench_job.py                 # 200 ms latency, 64 concurrent, 2,000 samples
    python benchmarks/bench_job.py --samples 500 --latency-ms 100
    python benchmarks/bench_job.py --client lean   # the lean client (runner `client: lean`)

Ideal = samples ÷ concurrency × latency (2,000 ÷ 64 × 0.2 s = 6.25 s): the time of a client
that costs nothing. The job runs twice, streaming (the default) and with `stream: false`;
the bare loop streams. bench_harness.py measures the request phase alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_harness import bare_loop, samples, start_server


def workspace(root: Path, base_url: str, n: int, concurrency: int, stream: bool, client: str = "sdk") -> Path:
    """A workspace with one suite of n samples and one OpenAI-compatible runner on the server."""
    (root / "tasks" / "bench").mkdir(parents=True)
    (root / "runners").mkdir()
    (root / "tasks" / "bench" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples(n)))
    (root / "tasks" / "bench" / "suite.yaml").write_text(yaml.safe_dump({"name": "bench", "samples": "samples.jsonl", "scorers": ["exact"]}))
    runner = {
        "name": "bench", "provider": "openai_compatible", "model": "bench", "base_url": base_url, "concurrency": concurrency, "stream": stream, "client": client,
        "params": {"max_tokens": 256}, "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}},
    }
    (root / "runners" / "bench.yaml").write_text(yaml.safe_dump(runner))
    return root


def job(base_url: str, n: int, concurrency: int, stream: bool, client: str = "sdk") -> float:
    """Seconds from starting `evals run` to its exit, with the report checked on disk."""
    with tempfile.TemporaryDirectory() as d:
        ws = workspace(Path(d), base_url, n, concurrency, stream, client)
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "bench", "--runner", "bench", "--quiet", "--no-reuse"],
            capture_output=True, text=True, env={**os.environ, "CI": "1"},
        )
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"evals run failed ({proc.returncode}):\n{proc.stderr}")
        reports = list((ws / "reports").glob("*/index.html"))
        assert len(reports) == 1, f"expected one report, found {reports}"
        return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--client", choices=("sdk", "lean"), default="sdk", help="The runner's client (profile `client:`).")
    a = ap.parse_args()
    n, c = a.samples, a.concurrency
    ideal = n / c * a.latency_ms / 1000
    proc, url = start_server(a.latency_ms, n)
    try:
        asyncio.run(bare_loop(url, min(n, 200), c))  # warm-up: the server's first connections
        bare = asyncio.run(bare_loop(url, n, c))
        streamed = job(url, n, c, stream=True, client=a.client)
        unstreamed = job(url, n, c, stream=False, client=a.client)
    finally:
        proc.terminate()
        proc.wait()
    print(f"whole job: {a.latency_ms:g} ms latency, {n} samples, concurrency {c}, client {a.client}; ideal {ideal:.2f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  bare openai SDK loop (streaming, requests only) : {bare:6.2f} s = {bare / ideal:.2f} x ideal")
    print(f"  evals run, streaming, start to report written   : {streamed:6.2f} s = {streamed / ideal:.2f} x ideal")
    print(f"  evals run, stream: false, start to report       : {unstreamed:6.2f} s = {unstreamed / ideal:.2f} x ideal")


if __name__ == "__main__":
    main()
