"""Harness overhead: the whole run path (workers, retries, store writes) against a
bare loop of the same SDK (asyncio + semaphore, no store), on the same simulated
server running in its own process.

    python benchmarks/bench_harness.py            # both phases, 3 rounds each
    python benchmarks/bench_harness.py --rounds 1 --samples 1000

Phase 1, 0 ms latency: requests per second, and the harness's ratio to the bare loop.
Phase 2, 200 ms latency, 64 concurrent, 2,000 samples: wall time ÷ ideal (2000/64 × 0.2 s = 6.25 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import openai
import yaml

from evals.config import SimBehaviour, find_runner, find_suite
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from evals.suite.sample import Sample


def samples(n: int) -> list[dict]:
    return [{"id": f"s{i}", "input": [{"role": "user", "content": f"Question {i}: what is the status of order {i}?"}], "reference": f"Order {i} shipped on Monday via express courier.", "category": "all"} for i in range(n)]


def serve(ttft_ms: float, n: int) -> None:
    """Child process: the simulated server, printing its port."""
    from evals.sim import SimServer

    beh = SimBehaviour(ttft_ms=ttft_ms, tokens_per_second=1e9, accuracy={"default": 1.0})
    srv = SimServer({"bench": beh}, [Sample.model_validate(s) for s in samples(n)])

    async def main() -> None:
        await srv.serve_forever(ready=lambda s: print(s.port, flush=True))

    asyncio.run(main())


def start_server(ttft_ms: float, n: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(ttft_ms), "--samples", str(n)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    return proc, f"http://127.0.0.1:{port}/v1"


async def bare_loop(base_url: str, n: int, concurrency: int) -> float:
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="k", max_retries=0,
        http_client=openai.DefaultAioHttpClient(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=1000)),
    )
    sem = asyncio.Semaphore(concurrency)
    data = samples(n)

    async def one(s: dict) -> None:
        async with sem:
            stream = await client.chat.completions.create(model="bench", messages=s["input"], max_tokens=256, temperature=0.0, stream=True, stream_options={"include_usage": True})
            async with stream:
                text = []
                async for chunk in stream:
                    for c in chunk.choices:
                        if c.delta and c.delta.content:
                            text.append(c.delta.content)

    t = time.perf_counter()
    await asyncio.gather(*(one(s) for s in data))
    wall = time.perf_counter() - t
    await client.close()
    return wall


def harness(base_url: str, n: int, concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        (ws / "tasks" / "bench").mkdir(parents=True)
        (ws / "runners").mkdir()
        (ws / "tasks" / "bench" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples(n)))
        (ws / "tasks" / "bench" / "suite.yaml").write_text(yaml.safe_dump({"name": "bench", "samples": "samples.jsonl", "scorers": ["exact"]}))
        runner = {"name": "bench", "provider": "openai_compatible", "model": "bench", "base_url": base_url, "concurrency": concurrency, "params": {"max_tokens": 256}, "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}}}
        (ws / "runners" / "bench.yaml").write_text(yaml.safe_dump(runner))
        store = Store(ws / "reports" / "evals.sqlite")
        summary = execute_run(workspace=ws, suite=find_suite(ws, "bench"), runners=[find_runner(ws, "bench")], store=store, quiet=True, reuse=False)
        stored = store.query("SELECT COUNT(*) n FROM attempts WHERE status='ok'")[0]["n"]
        store.close()
        assert stored == n, f"expected {n} stored answers, got {stored}"
        return summary.results["bench"].wall_s


def phase(label: str, ttft_ms: float, n: int, concurrency: int, rounds: int) -> tuple[list[float], list[float]]:
    proc, url = start_server(ttft_ms, n)
    try:
        asyncio.run(bare_loop(url, min(n, 200), concurrency))  # warm-up
        bare, ours = [], []
        for _ in range(rounds):
            bare.append(asyncio.run(bare_loop(url, n, concurrency)))
            ours.append(harness(url, n, concurrency))
    finally:
        proc.terminate()
        proc.wait()
    return bare, ours


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if a.serve is not None:
        serve(a.serve, a.samples)
        return
    n0 = a.samples
    bare, ours = phase("0 ms", 0.0, n0, 64, a.rounds)
    b_rps, o_rps = n0 / statistics.median(bare), n0 / statistics.median(ours)
    print(f"phase 1: 0 ms latency, {n0} samples, concurrency 64, {a.rounds} rounds (median)")
    print(f"  bare openai SDK loop : {b_rps:7.1f} req/s   (rounds: {', '.join(f'{n0 / w:.0f}' for w in bare)})")
    print(f"  workload-evals run   : {o_rps:7.1f} req/s   (rounds: {', '.join(f'{n0 / w:.0f}' for w in ours)})")
    print(f"  ratio harness/bare   : {o_rps / b_rps:.2f}   (target >= 0.80)")
    n1, ideal = 2000, 2000 / 64 * 0.2
    bare, ours = phase("200 ms", 200.0, n1, 64, a.rounds)
    print(f"phase 2: 200 ms latency, {n1} samples, concurrency 64; ideal {ideal:.2f} s")
    print(f"  bare loop  : {statistics.median(bare):.2f} s = {statistics.median(bare) / ideal:.3f} x ideal")
    print(f"  harness    : {statistics.median(ours):.2f} s = {statistics.median(ours) / ideal:.3f} x ideal   (target <= bare's ratio)")


if __name__ == "__main__":
    main()
