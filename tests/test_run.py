"""The run stage end to end through the real SDKs: retries, faults, budget, resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evals.config import find_runner, find_suite
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace


def _run(ws: Path, runners: list[str], **kw: Any) -> tuple[Any, Store]:
    store = Store(ws / "reports" / "evals.sqlite")
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, r) for r in runners], store=store, quiet=True, **kw)
    return summary, store


def _attempts(store: Store, run_id: str, runner: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM attempts WHERE run_id=? AND runner=? ORDER BY id", (run_id, runner))


def test_all_samples_answered_and_stored(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("model-a", accuracy={"default": 1.0}), "b": sim_runner("model-b", "anthropic", accuracy={"default": 0.5})})
    summary, store = _run(ws, ["a", "b"])
    for r in ("a", "b"):
        rows = _attempts(store, summary.run_id, r)
        assert len(rows) == 40 and all(x["status"] == "ok" and x["final"] == 1 for x in rows)
        assert summary.results[r].sent == 40
    assert store.run(summary.run_id)["status"] == "finished"
    # an anthropic-priced runner has a cost per attempt; a self-hosted one pays by the hour
    assert all(x["cost_usd"] > 0 for x in _attempts(store, summary.run_id, "b"))
    assert all(x["cost_usd"] == 0 for x in _attempts(store, summary.run_id, "a"))


def test_rate_limits_are_retried_after_retry_after(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": {**sim_runner("model-a", rate_limit_rate=0.4, retry_after_s=0.3, seed=3), "retry": {"max_attempts": 20, "base_delay_s": 0.01}}})
    summary, store = _run(ws, ["a"])
    rows = _attempts(store, summary.run_id, "a")
    limited = [x for x in rows if x["error_kind"] == "rate_limit"]
    assert limited, "the simulated server should have answered some 429s"
    assert all(x["final"] == 0 and x["http_status"] == 429 for x in limited)
    finals = [x for x in rows if x["final"]]
    assert len(finals) == 40 and all(x["status"] == "ok" for x in finals)
    # the retry of a 429'd sample came no sooner than the server's retry-after
    by_sample: dict[str, list[dict[str, Any]]] = {}
    for x in rows:
        by_sample.setdefault(x["sample_id"], []).append(x)
    gaps = [b["created_at"] - a["created_at"] for xs in by_sample.values() for a, b in zip(xs, xs[1:]) if a["error_kind"] == "rate_limit"]
    assert gaps and min(gaps) >= 0.3


def test_server_errors_are_retried(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": {**sim_runner("model-a", error_rate=0.3, seed=5), "retry": {"max_attempts": 20, "base_delay_s": 0.01, "max_delay_s": 0.02}}})
    summary, store = _run(ws, ["a"])
    rows = _attempts(store, summary.run_id, "a")
    assert any(x["http_status"] == 500 for x in rows)
    assert sum(x["final"] for x in rows) == 40 and all(x["status"] == "ok" for x in rows if x["final"])


def test_unauthorised_is_never_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim_factory: Any) -> None:
    sim = sim_factory({"model-a": {}})
    monkeypatch.setenv("BAD_KEY", "invalid-key")
    runner = {"provider": "openai_compatible", "model": "model-a", "base_url": sim.base_url + "/v1", "api_key_env": "BAD_KEY", "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}}
    ws = write_workspace(tmp_path, {"a": runner})
    summary, store = _run(ws, ["a"])
    rows = _attempts(store, summary.run_id, "a")
    assert len(rows) == 40 and all(x["http_status"] == 401 and x["final"] == 1 for x in rows)
    assert sim.stats()["requests"] == 40
    assert not any("invalid-key" in (x["error"] or "") for x in rows)


def test_dropped_streams_end_truncated_never_ok(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": {**sim_runner("model-a", drop_rate=1.0), "retry": {"max_attempts": 2, "base_delay_s": 0.01}}})
    summary, store = _run(ws, ["a"])
    finals = [x for x in _attempts(store, summary.run_id, "a") if x["final"]]
    assert len(finals) == 40 and {x["status"] for x in finals} == {"truncated"}
    assert {x["error_kind"] for x in finals} == {"dropped_stream"}


def test_budget_stops_new_requests_before_it_is_exceeded(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"c": {**sim_runner("claude", "anthropic"), "concurrency": 4}})
    summary, store = _run(ws, ["c"], budget_usd=0.05)
    spent = store.query("SELECT SUM(cost_usd) s, COUNT(*) n FROM attempts WHERE run_id=?", (summary.run_id,))[0]
    assert summary.results["c"].stopped_reason == "budget"
    assert 0 < spent["n"] < 40
    assert spent["s"] <= 0.05


def test_second_run_reuses_every_answer(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("model-a")})
    first, store = _run(ws, ["a"])
    store.close()
    second, store = _run(ws, ["a"])
    assert second.results["a"].sent == 0 and second.reused["a"] == 40
    rows = _attempts(store, second.run_id, "a")
    assert len(rows) == 40 and all(x["reused_from"] is not None for x in rows)


def test_changed_parameters_are_new_requests(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("model-a")})
    _, store = _run(ws, ["a"])
    store.close()
    import yaml

    p = ws / "runners" / "a.yaml"
    body = yaml.safe_load(p.read_text())
    body["params"] = {"max_tokens": 64}
    p.write_text(yaml.safe_dump(body))
    second, _ = _run(ws, ["a"])
    assert second.results["a"].sent == 40


def test_killed_run_resumes_with_exactly_the_missing_requests(tmp_path: Path, sim_factory: Any) -> None:
    """SIGKILL a run midway; the rerun sends one request per sample with no stored answer."""
    sim = sim_factory({"slow": {"ttft_ms": 20, "tokens_per_second": 50}})
    runner = {"provider": "openai_compatible", "model": "slow", "base_url": sim.base_url + "/v1", "concurrency": 4, "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}}
    ws = write_workspace(tmp_path, {"v": runner}, n_samples=200)
    db = ws / "reports" / "evals.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "mini", "--runner", "v", "--quiet", "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    done = 0
    while time.time() < deadline and done < 60:
        time.sleep(0.1)
        assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read().decode() if proc.stderr else ''}"
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM attempts WHERE status='ok'").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < done < 200, "the run should have been killed midway"
    conn = sqlite3.connect(db)
    answered = conn.execute("SELECT COUNT(DISTINCT sample_id) FROM attempts WHERE status='ok'").fetchone()[0]
    conn.close()
    sim.reset_stats()
    second, store = _run(ws, ["v"])
    assert sim.stats()["requests"] == 200 - answered
    assert second.results["v"].sent == 200 - answered and second.reused["v"] == answered
    assert sum(x["final"] for x in _attempts(store, second.run_id, "v")) == 200


def test_a_store_that_cannot_write_fails_the_run_instead_of_losing_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import evals.store.db as db

    ws = write_workspace(tmp_path, {"a": sim_runner("model-a")})
    store = Store(ws / "reports" / "evals.sqlite")
    monkeypatch.setattr(db, "_ATTEMPT_INSERT", "INSERT INTO no_such_table VALUES (" + ",".join("?" * 25) + ")")
    with pytest.raises(db.StoreWriteError, match="answers could not be written"):
        execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "a")], store=store, quiet=True)
    assert store.query("SELECT status FROM runs")[0]["status"] == "failed"
