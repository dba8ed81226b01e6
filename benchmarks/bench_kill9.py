"""How many completed answers a kill -9 re-pays: answers the server finished that the store never kept.

A run against the simulated server (served by this process, so it outlives the
killed run) is SIGKILLed once it has stored --kill-after answers. The server's
count of answers it sent in full, minus the answers in the store, is what a
rerun pays for a second time (an upper bound: an answer still in flight on the
wire counts too). Repeated --trials times; prints each figure and the worst.

    python benchmarks/bench_kill9.py [--trials 5] [--concurrency 64] [--ttft-ms 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from evals.sim.behaviour import SimBehaviour
from evals.sim.server import SimServer
from evals.suite.sample import Sample


def trial(tmp: Path, sim: SimServer, concurrency: int, kill_after: int, samples: int) -> tuple[int, int]:
    ws = tmp / f"ws{time.monotonic_ns()}"
    (ws / "tasks" / "k").mkdir(parents=True)
    (ws / "runners").mkdir()
    with open(ws / "tasks" / "k" / "samples.jsonl", "w") as f:
        for i in range(samples):
            f.write(json.dumps({"id": f"s{i}", "input": f"question {i}?", "reference": str(i)}) + "\n")
    (ws / "tasks" / "k" / "suite.yaml").write_text(yaml.safe_dump({"name": "k", "samples": "samples.jsonl", "scorers": ["exact"]}))
    runner = {"name": "v", "provider": "openai_compatible", "model": "m", "base_url": sim.base_url + "/v1", "concurrency": concurrency,
              "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}}
    (ws / "runners" / "v.yaml").write_text(yaml.safe_dump(runner))
    sim.reset_stats()
    db = ws / "reports" / "evals.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "k", "--runner", "v", "--quiet", "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    while stored < kill_after and proc.poll() is None:
        time.sleep(0.02)
        if db.exists():
            try:
                stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM attempts WHERE status='ok'").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    served = sim.stats()["by_model"]["m"].get("ok", 0)
    kept = sqlite3.connect(db).execute("SELECT COUNT(*) FROM attempts WHERE status='ok'").fetchone()[0]
    return served, kept


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--ttft-ms", type=float, default=20)
    ap.add_argument("--kill-after", type=int, default=300)
    a = ap.parse_args()
    samples = [Sample(id=f"s{i}", input=[{"role": "user", "content": f"question {i}?"}], reference=str(i)) for i in range(3000)]
    sim = SimServer({"m": SimBehaviour.model_validate({"ttft_ms": a.ttft_ms, "tokens_per_second": 1000})}, samples).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lost = []
            for _ in range(a.trials):
                served, kept = trial(Path(tmp), sim, a.concurrency, a.kill_after, len(samples))
                lost.append(served - kept)
                print(f"served in full {served}, stored {kept}, re-paid on rerun {served - kept}")
            print(f"worst re-paid: {max(lost)} (concurrency {a.concurrency}, ttft {a.ttft_ms} ms)")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
