"""The highest open-loop request rate `evals measure` can drive on this machine.

The simulated server runs in its own process and answers at once (0 ms to the
first token, instant decode), so everything that limits the rate is the
client: the dispatcher, the SDK, the event loop. Rates rise geometrically
until a step fails, then bisect between the last rate that passed and the
first that failed. A step passes when the client sent on time (scheduling lag
p99 ≤ --lag-ms) and kept up (sent ≥ 95% of the rate its schedule asked for).
Other work on a shared machine can stall the client for tens of milliseconds
at any rate, so a rate fails only when every one of --tries attempts fails.

    python benchmarks/bench_measure.py
    python benchmarks/bench_measure.py --start 10 --factor 1.5 --seconds 3 --lag-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys

from evals.config import RunnerProfile, SimBehaviour
from evals.measure import measure
from evals.measure.frontier import MIN_ACHIEVED_SHARE
from evals.measure.model import Step
from evals.suite.sample import Sample


def samples(n: int = 500) -> list[Sample]:
    return [
        Sample.model_validate({"id": f"s{i}", "input": [{"role": "user", "content": f"Question {i}: where is order {i}?"}], "reference": f"Order {i} shipped on Monday via express courier."})
        for i in range(n)
    ]


def serve() -> None:
    """Child process: the simulated server, printing its port."""
    from evals.sim import SimServer

    srv = SimServer({"bench": SimBehaviour(ttft_ms=0, tokens_per_second=1e9, accuracy={"default": 1.0})}, samples())
    asyncio.run(srv.serve_forever(ready=lambda s: print(s.port, flush=True)))


def step_at(profile: RunnerProfile, rate: float, seconds: float, seed: int) -> Step:
    prompts = [s.input for s in samples()]
    f = measure(profile, prompts, rates=[rate], requests_per_step=max(300, round(rate * seconds)), warmup=max(10, round(rate / 2)), seed=seed, quiet=True)
    return f.steps[0]


def passes(step: Step, lag_ms: float) -> bool:
    assert step.lag_ms is not None and step.achieved_rate is not None and step.scheduled_rate is not None
    return step.lag_ms.p99 <= lag_ms and step.achieved_rate >= MIN_ACHIEVED_SHARE * step.scheduled_rate


def holds(profile: RunnerProfile, rate: float, a: argparse.Namespace) -> bool:
    """Whether any of the tries at `rate` passes; each try has its own schedule."""
    for attempt in range(a.tries):
        step = step_at(profile, rate, a.seconds, seed=attempt)
        ok = passes(step, a.lag_ms)
        report(step, ok)
        if ok:
            return True
    return False


def report(step: Step, ok: bool) -> None:
    lag = step.lag_ms
    assert lag is not None
    print(
        f"  offered {step.level:7.0f}/s  scheduled {step.scheduled_rate or 0:7.1f}/s  sent {step.achieved_rate or 0:7.1f}/s  "
        f"served {step.requests_per_s:7.1f}/s  lag p50 {lag.p50:6.2f} p99 {lag.p99:7.2f} max {lag.max:7.2f} ms  "
        f"in flight ≤ {step.peak_in_flight:4d}  errors {sum(step.errors.values())}  {'ok' if ok else 'FAIL'}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=float, default=10.0, help="First rate tried, requests/s.")
    ap.add_argument("--factor", type=float, default=2.0, help="Growth per step until one fails.")
    ap.add_argument("--bisect", type=int, default=4, help="Bisection steps between the last pass and the first fail.")
    ap.add_argument("--seconds", type=float, default=3.0, help="Measured arrivals per step, in seconds of the offered rate.")
    ap.add_argument("--lag-ms", type=float, default=10.0, help="Largest acceptable p99 scheduling lag.")
    ap.add_argument("--tries", type=int, default=2, help="Attempts per rate; it fails only if all fail.")
    a = ap.parse_args()
    if a.serve:
        serve()
        return
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = f"http://127.0.0.1:{proc.stdout.readline().strip()}/v1"
        profile = RunnerProfile.model_validate(
            {"name": "bench", "provider": "openai_compatible", "model": "bench", "base_url": url, "params": {"max_tokens": 64}, "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}}}
        )
        print(f"open loop against the simulated server in its own process (0 ms, instant decode); pass: lag p99 ≤ {a.lag_ms:g} ms and sent ≥ {MIN_ACHIEVED_SHARE:.0%} of schedule, in one of {a.tries} tries")
        good, bad = 0.0, None
        rate = a.start
        while bad is None:
            if holds(profile, rate, a):
                good, rate = rate, rate * a.factor
            else:
                bad = rate
        for _ in range(a.bisect if good else 0):
            rate = (good + bad) / 2
            good, bad = (rate, bad) if holds(profile, rate, a) else (good, rate)
        print(f"highest rate driven on schedule: {good:.0f} requests/s" if good else f"even {a.start:g} requests/s failed; try --start lower")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
