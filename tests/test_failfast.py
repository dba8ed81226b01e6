"""Runs against endpoints that misbehave at the connection level, through the real
SDKs on loopback: a server that closes after each stream, a dead endpoint, an
exhausted quota, an endless retry-after. Each must cost no extra request, stop
the runner at once with one clear reason, or fail the attempt instead of waiting."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evals.cli import main
from evals.config import RetryPolicy, find_runner, find_suite
from evals.measure import measure
from evals.providers.base import Completion, Status
from evals.run.orchestrate import EXIT_NOTHING_ANSWERED, EXIT_STOPPED, execute_run
from evals.run.policy import SERVER_ERRORS_AFTER, UNREACHABLE_AFTER, Breaker, backoff_delay, max_wait_s, should_retry
from evals.store.db import Store
from tests.conftest import write_workspace
from tests.wire_servers import close_after_stream

SELF_HOSTED = {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}


def _runner(url: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "openai_compatible", "model": "m", "base_url": url + "/v1", "pricing": SELF_HOSTED, **extra}


def _run(ws: Path, runner: str = "a") -> tuple[Any, Store]:
    store = Store(ws / "reports" / "evals.sqlite")
    return execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, runner)], store=store, quiet=True), store


def _attempts(store: Store, run_id: str) -> list[Any]:
    return store.query("SELECT * FROM attempts WHERE run_id=? ORDER BY id", (run_id,))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])




def _error_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    def reply(path: str, req: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
        return status, {"content-type": "application/json", **(headers or {})}, [json.dumps(body).encode()], False

    return reply


# ------------------------------------------------------------------ keep-alive


@pytest.mark.parametrize("concurrency", [1, 4])
def test_close_after_stream_server_gets_one_request_per_sample(tmp_path: Path, wire: Any, concurrency: int) -> None:
    server = wire(close_after_stream)
    ws = write_workspace(tmp_path, {"a": _runner(server.base_url, concurrency=concurrency)}, n_samples=12)
    summary, store = _run(ws)
    rows = _attempts(store, summary.run_id)
    assert server.requests == 12, "a stale pooled connection must not cost a second request"
    assert len(rows) == 12 and all(x["status"] == "ok" and x["final"] == 1 and x["attempt"] == 1 for x in rows)
    assert summary.results["a"].sent == 12 and summary.trouble() is None


def test_measure_against_close_after_stream_server_sees_no_failures(wire: Any) -> None:
    from evals.config import RunnerProfile

    server = wire(close_after_stream)
    prof = RunnerProfile.model_validate({"name": "a", **_runner(server.base_url)})
    f = measure(prof, [[{"role": "user", "content": "hi"}]], concurrencies=[2], requests_per_step=10, warmup=2)
    (step,) = f.steps
    assert step.errors == {} and step.served == step.requests == 10


# ------------------------------------------------------------------ dead endpoint


@pytest.mark.parametrize("concurrency", [1, 8])
def test_dead_endpoint_stops_the_runner_after_a_few_attempts(tmp_path: Path, concurrency: int) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    ws = write_workspace(tmp_path, {"a": _runner(url, concurrency=concurrency, retry={"base_delay_s": 0.01, "max_delay_s": 0.05})})
    summary, store = _run(ws)
    res = summary.results["a"]
    assert res.stopped_reason is not None
    assert res.stopped_reason.startswith(f"breaker: nothing listens on {url}/v1: connection refused")
    rows = _attempts(store, summary.run_id)
    assert {x["error_kind"] for x in rows} == {"connection"}
    # the breaker trips at the UNREACHABLE_AFTER-th failure; workers already in flight finish theirs
    assert UNREACHABLE_AFTER <= res.sent == len(rows) <= UNREACHABLE_AFTER + concurrency - 1
    assert summary.trouble() == (EXIT_STOPPED, f"runner 'a' stopped: {res.stopped_reason}")
    assert store.query("SELECT stopped_reason FROM run_runners WHERE run_id=?", (summary.run_id,))[0]["stopped_reason"] == res.stopped_reason


def test_cli_run_exits_non_zero_with_one_line_for_a_dead_endpoint(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    ws = write_workspace(tmp_path, {"a": _runner(url, retry={"base_delay_s": 0.01, "max_delay_s": 0.05})}, n_samples=6)
    result = CliRunner().invoke(main, ["run", "-w", str(ws), "--suite", "mini", "--runner", "a", "--quiet"])
    assert result.exit_code == EXIT_STOPPED, result.output
    lines = [line for line in result.output.splitlines() if "stopped:" in line]
    assert len(lines) == 1 and f"nothing listens on {url}/v1: connection refused" in lines[0]


def test_a_runner_that_answered_nothing_exits_5(tmp_path: Path, wire: Any) -> None:
    server = wire(_error_reply(400, {"error": {"message": "bad request", "type": "invalid_request_error"}}))
    ws = write_workspace(tmp_path, {"a": _runner(server.base_url)}, n_samples=6)
    summary, _ = _run(ws)
    assert summary.results["a"].stopped_reason is None
    code, line = summary.trouble() or (0, "")
    assert code == EXIT_NOTHING_ANSWERED and "'a' answered nothing" in line


def test_breaker_trips_only_on_a_run_of_dead_answers_from_the_start() -> None:
    refused = Completion(status=Status.error, error_kind="connection", error="nothing listens on http://x: connection refused")
    five = Completion(status=Status.error, error_kind="server", http_status=500, error="InternalServerError")
    ok = Completion(status=Status.ok)
    b = Breaker()
    assert [b.record(refused) for _ in range(UNREACHABLE_AFTER - 1)] == [None] * (UNREACHABLE_AFTER - 1)
    reason = b.record(refused)
    assert reason is not None and reason.startswith("nothing listens on http://x: connection refused")
    b = Breaker()
    assert all(b.record(five) is None for _ in range(SERVER_ERRORS_AFTER - 1)) and b.record(five) is not None
    b = Breaker()  # an endpoint that once answered is alive: later failures are transient
    assert b.record(ok) is None and all(b.record(refused) is None for _ in range(50))


# ------------------------------------------------------------------ quota, retry-after


def test_exhausted_quota_stops_the_runner_at_once(tmp_path: Path, wire: Any) -> None:
    body = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}}
    server = wire(_error_reply(429, body))
    ws = write_workspace(tmp_path, {"a": _runner(server.base_url, concurrency=1)})
    summary, store = _run(ws)
    assert server.requests == 1 and summary.results["a"].sent == 1
    assert (summary.results["a"].stopped_reason or "").startswith("quota: ")
    (row,) = _attempts(store, summary.run_id)
    assert row["error_kind"] == "quota" and row["final"] == 1
    trouble = summary.trouble()
    assert trouble is not None and trouble[0] == EXIT_STOPPED


@pytest.mark.parametrize("retry_after", ["3600", "inf", "1e400"])
def test_retry_after_beyond_max_delay_fails_the_attempt_instead_of_waiting(tmp_path: Path, wire: Any, retry_after: str) -> None:
    server = wire(_error_reply(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": retry_after}))
    ws = write_workspace(tmp_path, {"a": _runner(server.base_url, concurrency=2, retry={"max_delay_s": 5})}, n_samples=6)
    summary, store = _run(ws)
    rows = _attempts(store, summary.run_id)
    # one attempt per sample, each final as rate-limited: nobody waited an hour
    assert server.requests == 6 and len(rows) == 6
    assert all(x["error_kind"] == "rate_limit" and x["final"] == 1 for x in rows)
    assert all("beyond the 5s this runner waits" in x["error"] for x in rows)


def test_retry_waits_are_capped_by_max_delay_and_the_total_timeout() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_s=0.5, max_delay_s=30)
    limited = Completion(status=Status.error, error_kind="rate_limit", retry_after_s=20.0)
    # max_delay_s 30 allows 20 s, but a total timeout of 10 s caps the wait at 10
    assert max_wait_s(policy, 600) == 30 and max_wait_s(policy, 10) == 10
    assert should_retry(limited, 1, policy, max_wait_s(policy, 600))
    assert not should_retry(limited, 1, policy, max_wait_s(policy, 10))
    for ra in (float("inf"), 1e308, 30.000001):
        assert not should_retry(limited.model_copy(update={"retry_after_s": ra}), 1, policy)
    rng = random.Random(0)
    # a retry-after equal to the cap is waited, its 10% jitter cut at the cap
    assert all(backoff_delay(1, 30.0, policy, rng) <= 30.0 for _ in range(100))
    assert all(backoff_delay(a, None, policy, rng) <= 30.0 for a in range(1, 20))


def test_a_judge_on_a_dead_endpoint_says_so(samples: Any) -> None:
    from tests.test_judge import RUBRIC, context_for, grade

    url = f"http://127.0.0.1:{_free_port()}"
    judge = {"provider": "openai_compatible", "model": "judge", "base_url": url + "/v1", "pricing": SELF_HOSTED, "retry": {"max_attempts": 6, "base_delay_s": 0.01, "max_delay_s": 0.02}}
    fact = next(s for s in samples if s.id == "fact-003")
    scores = grade(context_for(j=judge), "judge_rubric", ["6"] * 6, fact, rubric=RUBRIC)
    assert all(not s.passed and s.error for s in scores)
    assert any(f"was stopped: breaker: nothing listens on {url}/v1: connection refused" in (s.error or "") for s in scores)
    assert not any("budget" in (s.error or "") for s in scores)


def test_empty_streams_from_a_busy_server_are_retried_until_answered(tmp_path: Path, wire: Any) -> None:
    """llama-cpp-python's server answers concurrent streams but one with an empty 200 stream (role chunk,
    [DONE], no finish): a server fault, sent again. Here every other request gets one: 8 samples, 16 requests,
    8 ok answers, and the 8 empty streams recorded as retried attempts, never as answers."""
    seen = {"n": 0}

    def every_other_empty(path: str, body: dict[str, Any]) -> Any:
        seen["n"] += path.endswith("/chat/completions")
        if seen["n"] % 2:
            return 200, {"content-type": "text/event-stream"}, [b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n', b"data: [DONE]\n\n"], False
        return close_after_stream(path, body)[:3] + (False,)

    server = wire(every_other_empty)
    ws = write_workspace(tmp_path, {"a": _runner(server.base_url, concurrency=1, retry={"max_attempts": 3, "base_delay_s": 0.01, "max_delay_s": 0.02})}, n_samples=8)
    summary, store = _run(ws)
    try:
        rows = _attempts(store, summary.run_id)
    finally:
        store.close()
    assert server.requests == 16
    assert [(r["status"], r["error_kind"], r["final"]) for r in rows] == [("error", "empty_stream", 0), ("ok", None, 1)] * 8
