"""The highest open-loop request rate `evals measure` can drive on this machine.

The simulated server runs in its own process and answers at once (0 ms to the
first token, instant decode), so everything that limits the rate is the
client: the dispatcher, the HTTP client, the event loop. As in
bench_streaming.py, the server is pinned to the first CPU and the client to
the second (left to the scheduler, a request's send often woke the server on
the client's own CPU, where it then ran in the client's place: tens of
milliseconds of scheduling lag that were neither's own work); --no-pin leaves
both to the scheduler. Rates rise geometrically until a step fails, then bisect between the last rate that passed and the
first that failed. A step passes when the client sent on time (scheduling lag
p99 ≤ --lag-ms) and kept up (sent ≥ 95% of the rate its schedule asked for).
Other work on a shared machine can stall the client for tens of milliseconds
at any rate, so a rate fails only when every one of --tries attempts fails;
the load average is printed with the result.

    python benchmarks/bench_measure.py
    python benchmarks/bench_measure.py --start 10 --factor 1.5 --seconds 3 --lag-ms 10
    python benchmarks/bench_measure.py --server raw    # only the client: a precomputed answer
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from typing import Literal

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


def _raw_answer() -> bytes:
    """One whole streamed answer as the simulated server words it (a role chunk, one chunk per
    word, the finish, the usage, [DONE]), chunked, precomputed."""
    import json

    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench"}
    words = "Order 1 shipped on Monday via express courier.".split(" ")
    events: list[object] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": (" " if i else "") + w}, "logprobs": None, "finish_reason": None}]} for i, w in enumerate(words)]
    events += [
        {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": len(words), "total_tokens": 20 + len(words)}},
        "[DONE]",
    ]
    body = b"".join(f"data: {e if isinstance(e, str) else json.dumps(e, separators=(',', ':'))}\n\n".encode() for e in events)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
    return head + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


async def _raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(x[15:]) for x in head.split(b"\r\n") if x[:15].lower() == b"content-length:"), 0)
            await reader.readexactly(length)
            writer.write(answer)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve(cpu: int | None, kind: str) -> None:
    """Child process: the server, printing its port. `sim`: the simulated server (its aiohttp
    app, ~0.5 ms of CPU a request, whose own stalls and backlog show as the client's when
    its answers come in bursts); `raw`: a precomputed answer from a bare asyncio server, so
    that only the client is measured."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    if kind == "raw":
        answer = _raw_answer()

        async def main() -> None:
            server = await asyncio.start_server(lambda r, w: _raw(r, w, answer), "127.0.0.1", 0, backlog=4096)
            print(server.sockets[0].getsockname()[1], flush=True)
            await server.serve_forever()

        asyncio.run(main())
        return
    from evals.sim import SimServer

    srv = SimServer({"bench": SimBehaviour(ttft_ms=0, tokens_per_second=1e9, accuracy={"default": 1.0})}, samples())
    asyncio.run(srv.serve_forever(ready=lambda s: print(s.port, flush=True)))


def step_at(profile: RunnerProfile, rate: float, seconds: float, seed: int, client: Literal["lean", "sdk"] | None = None) -> Step:
    prompts = [s.input for s in samples()]
    f = measure(profile, prompts, rates=[rate], requests_per_step=max(300, round(rate * seconds)), warmup=max(10, round(rate / 2)), seed=seed, quiet=True, client=client)
    return f.steps[0]


def passes(step: Step, lag_ms: float) -> bool:
    assert step.lag_ms is not None and step.achieved_rate is not None and step.scheduled_rate is not None
    return step.lag_ms.p99 <= lag_ms and step.achieved_rate >= MIN_ACHIEVED_SHARE * step.scheduled_rate


def holds(profile: RunnerProfile, rate: float, a: argparse.Namespace) -> bool:
    """Whether any of the tries at `rate` passes; each try has its own schedule."""
    for attempt in range(a.tries):
        step = step_at(profile, rate, a.seconds, seed=attempt, client=a.client)
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
    ap.add_argument("--client", choices=["lean", "sdk"], help="HTTP client (default: measure's, lean here).")
    ap.add_argument("--no-pin", action="store_true", help="Leave server and client to the scheduler instead of a CPU each.")
    ap.add_argument("--server", choices=["sim", "raw"], default="raw", help="raw (default): a precomputed answer from a bare asyncio server, so only the client is measured; sim: the simulated server (about 0.5 ms of CPU per request: it, not the client, limits the rate).")
    ap.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.cpu, a.server)
        return
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 and not a.no_pin else (None, None)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--server", a.server, *(["--cpu", str(server_cpu)] if server_cpu is not None else [])], stdout=subprocess.PIPE, text=True)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    try:
        assert proc.stdout is not None
        url = f"http://127.0.0.1:{proc.stdout.readline().strip()}/v1"
        profile = RunnerProfile.model_validate(
            {"name": "bench", "provider": "openai_compatible", "model": "bench", "base_url": url, "params": {"max_tokens": 64}, "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}}}
        )
        load = os.getloadavg()
        pinned = f"server on CPU {server_cpu}, client on CPU {client_cpu}" if client_cpu is not None else "not pinned"
        print(
            f"open loop against {'the simulated server' if a.server == 'sim' else 'a bare asyncio server'} in its own process (0 ms, instant decode), {pinned}; pass: lag p99 ≤ {a.lag_ms:g} ms and sent ≥ {MIN_ACHIEVED_SHARE:.0%} of schedule, "
            f"in one of {a.tries} tries; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
        )
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
        end = os.getloadavg()
        print(f"load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
