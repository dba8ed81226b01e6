"""Figures for endpoints that misbehave at the connection level (issue 14's acceptance):

- requests a close-after-stream server (llama.cpp's llama-server habit) receives
  for N samples through `evals run`, and the failures `evals measure` sees there;
- seconds until `evals run` gives up on a dead endpoint (nothing listens), with
  the default retry policy, at concurrency 1 and 8, and its exit code.

Loopback only; the servers are tests/wire_servers.py's.

    python benchmarks/bench_endpoints.py [--samples 40]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.config import RunnerProfile  # noqa: E402
from evals.measure import measure  # noqa: E402
from tests.conftest import write_workspace  # noqa: E402
from tests.wire_servers import WireServer, close_after_stream  # noqa: E402

SELF_HOSTED = {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}


def _runner(url: str, concurrency: int) -> dict[str, object]:
    return {"provider": "openai_compatible", "model": "m", "base_url": url + "/v1", "concurrency": concurrency, "pricing": SELF_HOSTED}


def _evals_run(ws: Path) -> tuple[int, float, str]:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "mini", "--runner", "a", "--quiet", "--no-report"], capture_output=True, text=True)
    return p.returncode, time.perf_counter() - t, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""


def _runner_wall(ws: Path) -> tuple[float, int]:
    """The runner's own time from first request to stop, and what it sent, from the store."""
    import sqlite3

    row = sqlite3.connect(ws / "reports" / "evals.sqlite").execute("SELECT wall_s, requests_sent FROM run_runners").fetchone()
    return float(row[0]), int(row[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=40)
    n = ap.parse_args().samples
    with tempfile.TemporaryDirectory() as tmp:
        server = WireServer(close_after_stream).start()
        try:
            for c in (1, 8):
                ws = write_workspace(Path(tmp) / f"keep{c}", {"a": _runner(server.base_url, c)}, n_samples=n)
                before = server.requests
                code, secs, _ = _evals_run(ws)
                print(f"close-after-stream, evals run, concurrency {c}: {n} samples -> {server.requests - before} requests (exit {code}, {secs:.1f} s)")
            prof = RunnerProfile.model_validate({"name": "a", **_runner(server.base_url, 8)})
            f = measure(prof, [[{"role": "user", "content": "hi"}]], concurrencies=[1, 4, 16], requests_per_step=64)
            for s in f.steps:
                print(f"close-after-stream, evals measure, C={s.level:g}: {s.served}/{s.requests} served, errors {s.errors or 0}")
        finally:
            server.stop()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        for c in (1, 8):
            ws = write_workspace(Path(tmp) / f"dead{c}", {"a": _runner(dead, c)}, n_samples=n)
            code, secs, line = _evals_run(ws)
            wall, sent = _runner_wall(ws)
            print(f"dead endpoint, evals run, concurrency {c}, default retry policy: runner gave up after {wall:.1f} s and {sent} requests ({secs:.1f} s for the whole process), exit {code}: {line}")


if __name__ == "__main__":
    main()
