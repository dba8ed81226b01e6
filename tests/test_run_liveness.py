"""Runs whose process died are found and marked; stopped runs keep their sent counts; odd usage is kept and flagged.

Through the real CLI and SDKs: a run killed with SIGKILL, a run stopped with
Ctrl-C (SIGINT), and a small OpenAI-compatible server on loopback that reports
more cached than prompt tokens.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from evals.config import find_runner, find_suite
from evals.providers.base import Completion, Status, Usage
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import write_workspace

SELF_HOSTED = {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _store_with_run(path: Path, process: dict[str, Any], answers: int) -> str:
    store = Store(path)
    store.create_run("r1", suite="s", suite_hash="h", workspace=None, git_commit=None, tool_version="t", reference_runner=None, info={})
    store.add_runner("r1", "a", "openai_compatible", "m", False, "ph", "{}")
    store.start_writer()
    for i in range(answers):
        store.record_attempt("r1", "a", f"s{i}", f"k{i}", 1, True, Completion(status=Status.ok, text="x", usage=Usage()), 0.0, "http://x")
    store.stop_writer()
    store.db.execute("UPDATE runs SET info_json=? WHERE id='r1'", (json.dumps({"process": process}),))
    store.commit()
    store.close()
    return "r1"


@pytest.mark.parametrize(
    ("process", "status"),
    [
        ({"host": socket.gethostname(), "pid": _dead_pid(), "started": None}, "interrupted"),
        ({"host": socket.gethostname(), "pid": os.getpid(), "started": -1}, "interrupted"),  # the pid now belongs to another process
        ({"host": socket.gethostname(), "pid": os.getpid(), "started": None}, "running"),  # alive: this process
        ({"host": "another-host.invalid", "pid": _dead_pid(), "started": None}, "running"),  # cannot tell from here
    ],
)
def test_a_run_whose_process_died_is_interrupted_when_the_store_opens(tmp_path: Path, process: dict[str, Any], status: str) -> None:
    _store_with_run(tmp_path / "s.sqlite", process, answers=7)
    store = Store(tmp_path / "s.sqlite")
    assert store.run("r1")["status"] == status
    if status == "interrupted":
        (row,) = store.query("SELECT requests_sent, stopped_reason FROM run_runners WHERE run_id='r1'")
        assert row["requests_sent"] == 7 and "died" in row["stopped_reason"]


def _slow_workspace(tmp_path: Path, sim_factory: Any) -> Path:
    sim = sim_factory({"slow": {"ttft_ms": 20, "tokens_per_second": 50}})
    runner = {"provider": "openai_compatible", "model": "slow", "base_url": sim.base_url + "/v1", "concurrency": 4, "pricing": SELF_HOSTED}
    return write_workspace(tmp_path, {"v": runner}, n_samples=200)


def _run_until(ws: Path, answers: int) -> subprocess.Popen[bytes]:
    db = ws / "reports" / "evals.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "mini", "--runner", "v", "--quiet", "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, done = time.time() + 60, 0
    while time.time() < deadline and done < answers:
        time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM attempts WHERE status='ok'").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    return proc


@pytest.mark.parametrize(("sig", "reason"), [(signal.SIGKILL, "died"), (signal.SIGINT, "interrupted")])
def test_a_stopped_run_is_interrupted_with_its_sent_count(tmp_path: Path, sim_factory: Any, sig: int, reason: str) -> None:
    ws = _slow_workspace(tmp_path, sim_factory)
    proc = _run_until(ws, 30)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    store = Store(ws / "reports" / "evals.sqlite")
    (run,) = store.query("SELECT id, status FROM runs")
    assert run["status"] == "interrupted"
    stored = store.query("SELECT COUNT(*) n FROM attempts WHERE run_id=? AND reused_from IS NULL", (run["id"],))[0]["n"]
    (row,) = store.query("SELECT requests_sent, stopped_reason FROM run_runners WHERE run_id=?", (run["id"],))
    assert 30 <= row["requests_sent"] == stored < 200
    assert reason in row["stopped_reason"]


# ------------------------------------------------------------- odd usage

PROMPT, CACHED, COMPLETION = 10, 50, 5


@pytest.fixture
def odd_usage_server() -> Iterator[str]:
    """An OpenAI-compatible streaming endpoint whose usage says 50 of 10 prompt tokens were cached."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        chunks = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "42"}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**base, "choices": [], "usage": {"prompt_tokens": PROMPT, "completion_tokens": COMPLETION, "total_tokens": PROMPT + COMPLETION, "prompt_tokens_details": {"cached_tokens": CACHED}}},
        ]
        for c in chunks:
            await resp.write(f"data: {json.dumps(c)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/v1"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_more_cached_than_prompt_tokens_is_kept_billed_and_flagged(tmp_path: Path, odd_usage_server: str) -> None:
    prices = {"input_per_mtok": 3.0, "cached_input_per_mtok": 0.3, "output_per_mtok": 15.0}
    runner = {"provider": "openai_compatible", "model": "odd", "base_url": odd_usage_server, "concurrency": 4, "pricing": {"api": prices}, "retry": {"max_attempts": 1}}
    ws = write_workspace(tmp_path, {"odd": runner}, n_samples=10)
    store = Store(ws / "reports" / "evals.sqlite")
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "odd")], store=store, quiet=True)
    rows = store.query("SELECT * FROM attempts WHERE run_id=?", (summary.run_id,))
    assert len(rows) == 10 and {r["status"] for r in rows} == {"ok"}
    assert {(r["input_tokens"], r["cached_input_tokens"]) for r in rows} == {(PROMPT, CACHED)}  # stored as reported
    # billed as if the prompt were the 50 cached tokens: 50 x $0.30 + 5 x $15.00 per million
    expected = (CACHED * 0.3 + COMPLETION * 15.0) / 1e6
    assert all(r["cost_usd"] == pytest.approx(expected) for r in rows)
    (fact,) = [f for f in store.server_facts(summary.run_id) if f["kind"] == "usage_anomaly"]
    assert fact["data"]["answers"] == 10 and "50 cached" in fact["data"]["example"]
    from evals.report.analyse import _servers

    (server,) = _servers(store, summary.run_id)
    assert "10 answers, e.g. 50 cached" in server.unavailable["consistent token counts"]
