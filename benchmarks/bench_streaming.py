"""How close each HTTP client comes to the ideal time on many concurrent streams.

A minimal OpenAI-compatible server (raw asyncio, precomputed bytes) runs in its
own process, pinned to the first CPU; the clients run in this process, pinned
to the second. Every request is answered with 20 streamed tokens: the first
after TTFT 100 ms, the rest spread evenly over 200 ms of decode, then the
finish chunk, the usage chunk and [DONE]. So one request ideally takes 300 ms
and N requests at concurrency C take ceil(N / C) × 300 ms; the ratio of the
measured request-phase wall time (after a warm-up round that opens the
connections) to that ideal is what the client costs. Clients, each on the
same server: raw aiohttp (vLLM's benchmark style), the bare openai SDK, and
workload-evals' two providers (the `lean` aiohttp client and the `sdk` one),
each through the shared stream driver.

Also printed per run: client CPU per request, the server's CPU share (it must
stay below 100% or the server is the bottleneck), TTFT p50/p99 as the client
saw it (ideal 100 ms), and the client's event-loop lag p99 (the figure
`evals measure` flags above 10 ms). The machine's load average goes with the
figures: other work on a shared machine inflates every ratio.

    python benchmarks/bench_streaming.py
    python benchmarks/bench_streaming.py --requests 500 --concurrency 64 --clients lean sdk
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing as mp
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

TOKENS = 20
TTFT_S = 0.100
DECODE_S = 0.200
IDEAL_S = TTFT_S + DECODE_S
MODEL = "bench"
PROMPT = [{"role": "user", "content": "Count to twenty."}]


# ---------------------------------------------------------------- server (child process)


def _frame(payload: dict[str, Any] | str) -> bytes:
    """One SSE event in one HTTP chunk."""
    data = f"data: {payload if isinstance(payload, str) else json.dumps(payload, separators=(',', ':'))}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


BASE = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
TOKEN = _frame({**BASE, "choices": [{"index": 0, "delta": {"content": " tok"}, "logprobs": None, "finish_reason": None}]})
TAIL = (
    _frame({**BASE, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}]})
    + _frame({**BASE, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": TOKENS, "total_tokens": 12 + TOKENS}})
    + _frame("[DONE]")
    + b"0\r\n\r\n"
)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    loop = asyncio.get_running_loop()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            t0 = loop.time()
            writer.write(HEAD)
            for i in range(TOKENS):
                due = t0 + TTFT_S + i * DECODE_S / (TOKENS - 1)
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(TOKEN + TAIL if i == TOKENS - 1 else TOKEN)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve(port_out: Any, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=4096)
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- clients
# Each maker returns (one request -> TTFT seconds or None on failure, close).

One = Callable[[], Awaitable[float | None]]


async def raw_aiohttp(url: str, c: int) -> tuple[One, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c, limit_per_host=0))
    body = json.dumps({"model": MODEL, "messages": PROMPT, "max_tokens": TOKENS, "stream": True, "stream_options": {"include_usage": True}}).encode()
    headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}

    async def one() -> float | None:
        t0 = time.perf_counter()
        ttft = None
        async with session.post(url + "/chat/completions", data=body, headers=headers) as resp:
            async for line in resp.content:
                if not line.startswith(b"data: "):
                    continue
                data = line[6:].strip()
                if data == b"[DONE]":
                    break
                obj = json.loads(data)
                if ttft is None and obj["choices"] and obj["choices"][0]["delta"].get("content"):
                    ttft = time.perf_counter() - t0
        return ttft

    return one, session.close


async def bare_sdk(url: str, c: int) -> tuple[One, Callable[[], Awaitable[None]]]:
    import httpx2
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0, http_client=openai.DefaultAioHttpClient(limits=httpx2.Limits(max_connections=c, max_keepalive_connections=c)))

    async def one() -> float | None:
        t0 = time.perf_counter()
        ttft = None
        stream = await client.chat.completions.create(model=MODEL, messages=PROMPT, max_tokens=TOKENS, stream=True, stream_options={"include_usage": True})  # type: ignore[arg-type]
        async for chunk in stream:
            if ttft is None and chunk.choices and chunk.choices[0].delta.content:
                ttft = time.perf_counter() - t0
        return ttft

    return one, client.close


def _evals(kind: str) -> Callable[[str, int], Awaitable[tuple[One, Callable[[], Awaitable[None]]]]]:
    async def make(url: str, c: int) -> tuple[One, Callable[[], Awaitable[None]]]:
        from evals.providers.base import GenerationParams, Status, Timeouts
        from evals.providers.openai_chat import OpenAIChatProvider
        from evals.providers.openai_lean import LeanOpenAIProvider

        cls = LeanOpenAIProvider if kind == "lean" else OpenAIChatProvider
        p = cls(name="bench", model=MODEL, base_url=url, api_key="x", timeouts=Timeouts(connect_s=10, idle_s=30, total_s=120), max_connections=c)
        params = GenerationParams(max_tokens=TOKENS)

        async def one() -> float | None:
            r = await p.complete(PROMPT, params)
            ok = r.status in (Status.ok, Status.truncated) and r.error_kind is None and r.usage.output_tokens == TOKENS
            return r.timing.ttft_ms / 1000 if ok and r.timing.ttft_ms is not None else None

        return one, p.aclose

    return make


CLIENTS = {"aiohttp": raw_aiohttp, "openai-sdk": bare_sdk, "evals-lean": _evals("lean"), "evals-sdk": _evals("sdk")}


async def run_one(name: str, url: str, c: int, n: int, server_pid: int) -> dict[str, Any]:
    from evals.measure.load import watch_loop

    one, close = await CLIENTS[name](url, c)
    try:
        await asyncio.gather(*(one() for _ in range(c)))  # warm-up: opens the c connections
        gc.collect()
        gc.freeze()
        lag: list[tuple[float, float]] = []
        ttfts: list[float] = []
        failed = 0
        left = iter(range(n))

        async def worker() -> None:
            nonlocal failed
            for _ in left:
                t = await one()
                if t is None:
                    failed += 1
                else:
                    ttfts.append(t)

        probe = asyncio.create_task(watch_loop(lag))
        s_cpu0, cpu0, t0 = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        wall, cpu, s_cpu = time.perf_counter() - t0, time.process_time() - cpu0, cpu_seconds(server_pid) - s_cpu0
        probe.cancel()
    finally:
        gc.unfreeze()
        await close()
    ideal = math.ceil(n / c) * IDEAL_S
    lags = [x for _, x in lag]
    return {
        "client": name, "c": c, "requests": n, "failed": failed, "wall_s": wall, "ideal_s": ideal, "ratio": wall / ideal,
        "client_cpu_ms_per_req": cpu / n * 1000, "client_cpu_share": cpu / wall, "server_cpu_share": s_cpu / wall,
        "ttft_p50_ms": float(np.percentile(ttfts, 50)) * 1000 if ttfts else None, "ttft_p99_ms": float(np.percentile(ttfts, 99)) * 1000 if ttfts else None,
        "loop_lag_p99_ms": float(np.percentile(lags, 99)) if lags else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--clients", nargs="+", choices=list(CLIENTS), default=list(CLIENTS))
    ap.add_argument("--json", action="store_true", help="print one JSON object per run instead of the table")
    a = ap.parse_args()

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=serve, args=(send, server_cpu), daemon=True)
    proc.start()
    port = recv.recv()
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    url = f"http://127.0.0.1:{port}/v1"
    load = os.getloadavg()
    pinned = f"server on CPU {server_cpu}, client on CPU {client_cpu}" if client_cpu is not None else "not pinned (fewer than 2 CPUs)"
    print(f"{a.requests} streamed requests of {TOKENS} tokens, TTFT {TTFT_S * 1000:g} ms + {DECODE_S * 1000:g} ms decode; {pinned}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    try:
        rows = []
        for c in a.concurrency:
            for name in a.clients:
                r = asyncio.run(run_one(name, url, c, a.requests, proc.pid or 0))
                rows.append(r)
                if a.json:
                    print(json.dumps(r), flush=True)
                else:
                    print(
                        f"c={c:<4} {name:<11} wall {r['wall_s']:6.2f} s  ideal {r['ideal_s']:5.2f} s  ratio {r['ratio']:5.2f}x  "
                        f"client CPU {r['client_cpu_ms_per_req']:5.2f} ms/req ({r['client_cpu_share']:4.0%})  server CPU {r['server_cpu_share']:4.0%}  "
                        f"TTFT p50 {r['ttft_p50_ms'] or float('nan'):6.1f} p99 {r['ttft_p99_ms'] or float('nan'):6.1f} ms  loop lag p99 {r['loop_lag_p99_ms'] or float('nan'):6.1f} ms  failed {r['failed']}",
                        flush=True,
                    )
        end = os.getloadavg()
        print(f"load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()
