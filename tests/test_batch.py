"""Batch mode end to end: the real openai and anthropic SDKs' batch APIs against the simulated
server on 127.0.0.1 (submit, poll, collect, partial errors, expiry, budget, kill and restart)."""

from __future__ import annotations

import json
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
from evals.cost.pricing import runner_pricing
from evals.providers.base import Usage
from evals.run.batch import LIMITS, Limits, TooLarge, chunk
from evals.run.orchestrate import EXIT_WAITING, execute_run
from evals.sim import SimServer
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace

FAST = {"poll_s": 0.02, "poll_max_s": 0.05}


def batch_runner(model: str, protocol: str, batch: dict[str, Any] | None = None, sim_batch: dict[str, Any] | None = None, **behaviour: Any) -> dict[str, Any]:
    """A simulated runner priced like its vendor's model, in batch mode."""
    r = sim_runner(model, protocol, accuracy={"default": 1.0}, **behaviour)
    r["pricing"] = {"api": {"model": "claude-sonnet-5-5" if protocol == "anthropic" else "gpt-4o"}}
    r["batch"] = {**FAST, **(batch or {})}
    if sim_batch is not None:
        r["simulate"]["batch"] = sim_batch
    return r


def _run(ws: Path, runners: list[str], **kw: Any) -> tuple[Any, Store]:
    store = Store(ws / "reports" / "evals.sqlite")
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, r) for r in runners], store=store, quiet=True, **kw)
    return summary, store


def _finals(store: Store, run_id: str, runner: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM attempts WHERE run_id=? AND runner=? AND final=1 ORDER BY sample_id", (run_id, runner))


def test_chunks_respect_request_and_byte_limits() -> None:
    lines = [(f"k{i}", b"x" * 10) for i in range(7)]
    # 3 requests a batch: 3 + 3 + 1
    assert [len(c) for c in chunk(lines, Limits(requests=3, bytes=10**6))] == [3, 3, 1]
    # 25 bytes a batch with 5 bytes of overhead: floor((25 - 5) / 10) = 2 requests each
    assert [len(c) for c in chunk(lines, Limits(requests=100, bytes=25), overhead=5)] == [2, 2, 2, 1]
    with pytest.raises(TooLarge, match="k0"):
        chunk([("k0", b"x" * 30)], Limits(requests=100, bytes=25))
    assert LIMITS["openai"] == Limits(50_000, 200 * 1024**2) and LIMITS["anthropic"] == Limits(100_000, 256 * 1024**2)


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_batch_run_answers_every_sample_through_the_batch_api(tmp_path: Path, protocol: str) -> None:
    ws = write_workspace(tmp_path, {"ref": batch_runner(f"m-{protocol}", protocol)})
    summary, store = _run(ws, ["ref"])
    finals = _finals(store, summary.run_id, "ref")
    assert len(finals) == 40 and all(a["status"] == "ok" and a["batch_id"] for a in finals)
    assert len({a["batch_id"] for a in finals}) == 1  # 40 requests fit one batch
    assert all(a["latency_ms"] is None for a in finals)  # a batch measures no latency
    assert store.run(summary.run_id)["status"] == "finished"
    # priced at the batch rate: each attempt costs what its tokens cost with the catalogue's batch factor
    p = runner_pricing(find_runner(ws, "ref"))
    assert p.batch
    for a in finals:
        u = Usage(input_tokens=a["input_tokens"], output_tokens=a["output_tokens"])
        assert a["cost_usd"] == pytest.approx(p.cost_of(u))
    rows = store.query("SELECT * FROM batches WHERE run_id=?", (summary.run_id,))
    assert [(r["status"], r["requests"], r["vendor"]) for r in rows] == [("collected", 40, protocol)]


def test_batch_cost_per_completed_task_is_half_the_synchronous_one(tmp_path: Path) -> None:
    """Same model, same answers, same tokens: the report's cost per completed task of the batch reference is the
    catalogue's batch factor (0.5) × the synchronous one, and each is spend ÷ completed tasks."""
    from evals import api

    sync = batch_runner("m-same", "anthropic")
    del sync["batch"]
    ws = write_workspace(tmp_path, {"batch": batch_runner("m-same", "anthropic"), "sync": sync})
    out = api.run(workspace=ws, suite="mini", runners=["batch", "sync"], quiet=True)
    assert out.report is not None
    rows = {r.name: r for r in out.report.runners}
    st = Store(ws / "reports" / "evals.sqlite")
    for name in ("batch", "sync"):
        finals = _finals(st, out.run_id, name)
        spend = sum(a["cost_usd"] for a in finals)
        assert rows[name].completed > 0 and rows[name].cost_total_usd == pytest.approx(spend)
        assert rows[name].cost_per_completed_task_usd == pytest.approx(spend / rows[name].completed)
    tokens = {r: st.query("SELECT SUM(input_tokens) i, SUM(output_tokens) o FROM attempts WHERE run_id=? AND runner=?", (out.run_id, r))[0] for r in ("batch", "sync")}
    assert tokens["batch"] == tokens["sync"] and rows["batch"].completed == rows["sync"].completed
    assert runner_pricing(find_runner(ws, "batch")).price.batch_discount == 0.5  # type: ignore[union-attr]
    assert rows["batch"].cost_per_completed_task_usd == pytest.approx(0.5 * rows["sync"].cost_per_completed_task_usd)  # type: ignore[operator]
    assert rows["batch"].batch_answers == 40 and rows["sync"].batch_answers == 0


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_partial_errors_and_expiry_go_to_a_follow_up_batch(tmp_path: Path, protocol: str) -> None:
    ws = write_workspace(tmp_path, {"ref": batch_runner(f"m-{protocol}", protocol, sim_batch={"error_rate": 0.2, "expire_rate": 0.3})})
    summary, store = _run(ws, ["ref"])
    rows = store.query("SELECT * FROM attempts WHERE run_id=? AND runner='ref' ORDER BY id", (summary.run_id,))
    first = [a for a in rows if a["attempt"] == 1]
    kinds = {a["error_kind"] for a in first if a["status"] == "error"}
    assert {"batch_expired"} <= kinds and kinds & {"server"}, kinds
    assert all(a["final"] == 0 for a in first if a["status"] == "error")  # retried, not dropped
    # the simulator's draws are per custom_id, so a failed request fails the same way in every round:
    # after `rounds` batches (3) its last failure stands as the final answer
    batches = store.query("SELECT round, requests FROM batches WHERE run_id=? ORDER BY id", (summary.run_id,))
    failed_first = sum(a["status"] == "error" for a in first)
    assert [b["round"] for b in batches] == [1, 2, 3] and [b["requests"] for b in batches] == [40, failed_first, failed_first]
    finals = _finals(store, summary.run_id, "ref")
    assert len(finals) == 40
    assert sum(a["status"] == "error" for a in finals) == failed_first


def test_failures_retried_synchronously_when_the_runner_says_so(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"ref": batch_runner("m-sync", "openai", batch={"retry": "sync"}, sim_batch={"error_rate": 0.25})})
    summary, store = _run(ws, ["ref"])
    finals = _finals(store, summary.run_id, "ref")
    assert len(finals) == 40 and all(a["status"] == "ok" for a in finals)
    by_batch = [a for a in finals if a["batch_id"]]
    by_sync = [a for a in finals if not a["batch_id"]]
    assert by_sync and by_batch and len(by_sync) + len(by_batch) == 40
    # the synchronous retries are billed at the full rate, the batch answers at half
    p = runner_pricing(find_runner(ws, "ref"))
    for a in by_sync:  # full rate = batch rate ÷ the batch factor
        assert a["cost_usd"] == pytest.approx(p.cost_of(Usage(input_tokens=a["input_tokens"], output_tokens=a["output_tokens"])) / p.price.batch_discount)  # type: ignore[union-attr]
    assert len(store.query("SELECT * FROM batches WHERE run_id=?", (summary.run_id,))) == 1
    # the report prices each part at its own rate: its total is what the attempts cost
    from evals.report.analyse import analyse

    (row,) = analyse(store, summary.run_id).runners
    assert row.cost_total_usd == pytest.approx(store.spent_usd(summary.run_id)) and row.batch_answers == len(by_batch)


def test_budget_reserves_each_batch_worst_case_before_submitting(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"ref": {**batch_runner("m-budget", "anthropic"), "params": {"max_tokens": 1000}}})
    p = runner_pricing(find_runner(ws, "ref"))
    from evals.suite.load import load_samples

    samples = load_samples(find_suite(ws, "mini"))
    worst = [p.worst_case_usd(s.input, 1000) for s in samples]
    budget = sum(worst[:10]) + worst[10] / 2  # room for exactly 10 requests' worst cases
    summary, store = _run(ws, ["ref"], budget_usd=budget)
    assert summary.results["ref"].stopped_reason == "budget"
    (b,) = store.query("SELECT * FROM batches WHERE run_id=?", (summary.run_id,))
    assert b["requests"] == 10 and b["worst_case_usd"] == pytest.approx(sum(worst[:10]))
    assert store.spent_usd(summary.run_id) <= budget


def _vendor_runner(sim: SimServer, protocol: str) -> dict[str, Any]:
    """The vendor's own provider (openai or anthropic, the official SDK) pointed at the simulated server."""
    if protocol == "openai":
        return {"provider": "openai", "model": "gpt-sim", "base_url": sim.base_url + "/v1", "pricing": {"api": {"model": "gpt-4o"}}, "batch": FAST, "role": "reference"}
    return {"provider": "anthropic", "model": "claude-sim", "base_url": sim.base_url, "pricing": {"api": {"model": "claude-sonnet-5-5"}}, "batch": FAST, "role": "reference"}


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_killed_run_restarted_collects_the_same_batch(tmp_path: Path, sim_factory: Any, monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    """SIGKILL `evals run` while it waits on its batch; the same command started again collects that batch:
    exactly one submission per request, every sample answered from it."""
    model = "gpt-sim" if protocol == "openai" else "claude-sim"
    sim = sim_factory({model: {"accuracy": {"default": 1.0}, "batch": {"delay_s": 3600}}})
    ws = write_workspace(tmp_path, {"ref": _vendor_runner(sim, protocol)})
    env = {**os.environ, "OPENAI_API_KEY": "sim-key", "ANTHROPIC_API_KEY": "sim-key"}
    monkeypatch.setenv("OPENAI_API_KEY", "sim-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sim-key")
    db = ws / "reports" / "evals.sqlite"
    cmd = [sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "mini", "--runner", "ref", "--quiet", "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline, stored = time.time() + 120, 0
    while time.time() < deadline and not stored:
        time.sleep(0.1)
        assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read().decode() if proc.stderr else ''}"
        if db.exists():
            try:
                stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM batches").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert stored == 1 and len(sim.batches.submissions) == 1
    (vendor, submitted), = sim.batches.submissions
    assert vendor == protocol and len(submitted) == 40

    # started again before the batch ended, with a short wait: it adopts the batch, submits nothing, and waits
    waiting, store = _run(ws, ["ref"], wait_s=0.2)
    assert waiting.status == "waiting" and waiting.in_flight == {"ref": 1} and waiting.trouble()[0] == EXIT_WAITING  # type: ignore[index]
    assert len(sim.batches.submissions) == 1
    store.close()

    sim.batches.release()  # the vendor finishes the batch
    again, store = _run(ws, ["ref"])
    assert len(sim.batches.submissions) == 1, "a restarted run must collect the batch, not submit the requests again"
    finals = _finals(store, again.run_id, "ref")
    (batch_row,) = store.query("SELECT * FROM batches")
    assert len(finals) == 40 and all(a["status"] == "ok" and a["batch_id"] == batch_row["vendor_batch_id"] for a in finals)
    assert batch_row["status"] == "collected"
    statuses = {r["status"] for r in store.query("SELECT status FROM runs")}
    assert statuses == {"interrupted", "waiting", "finished"}
    # nothing paid twice: one attempt per request in the whole store
    assert store.query("SELECT COUNT(*) n FROM attempts WHERE reused_from IS NULL")[0]["n"] == 40


def test_collect_finishes_a_waiting_run_and_runs_lists_its_batches(tmp_path: Path, sim_factory: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """A mixed run: the synchronous runner finishes, the batch reference is left in flight after --wait;
    `evals runs` shows the batch, `collect` collects it, scores and reports, without sending anything twice."""
    from evals import api

    sim = sim_factory({"claude-sim": {"accuracy": {"default": 1.0}, "batch": {"delay_s": 3600}}, "local": {"accuracy": {"default": 0.5}}})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sim-key")
    local = {"provider": "openai_compatible", "model": "local", "base_url": sim.base_url + "/v1", "pricing": {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2}}}
    ws = write_workspace(tmp_path, {"ref": _vendor_runner(sim, "anthropic"), "local": local})
    first = api.run(workspace=ws, suite="mini", runners=["ref", "local"], wait_s=0.2)
    assert first.run.status == "waiting" and first.report is None and first.scores is None
    err = capfd.readouterr().err
    assert "waiting for batch" in err and "0/40 done" in err and "still in flight after the wait limit" in err
    assert first.run.results["local"].sent == 40  # the synchronous part finished
    (listed,) = api.list_runs(workspace=ws)
    assert listed["status"] == "waiting" and listed["batches_in_flight"] == 1 and listed["batch_progress"].endswith("/40")
    sent_before = sim.stats()["requests"]
    sim.batches.release()
    done = api.collect(workspace=ws, quiet=True)
    assert done.run.status == "finished" and done.report is not None and done.report_path is not None
    assert len(sim.batches.submissions) == 1 and sim.stats()["requests"] == sent_before  # nothing sent again
    assert done.run.reused["local"] == 40
    # the report and summary.json say which answers came from a batch, and at what price
    summary = json.loads((done.report_path.parent / "summary.json").read_text())
    rows = {r["name"]: r for r in summary["runners"]}
    assert rows["ref"]["batch_answers"] == 40 and "batch API ×0.5" in rows["ref"]["batch_price"]
    assert rows["local"]["batch_answers"] == 0 and rows["local"]["batch_price"] is None
    assert "40 answers from a batch API at" in done.report_path.read_text()
    with pytest.raises(Exception, match="no batches in flight"):
        api.collect(workspace=ws, quiet=True)


def test_nightly_with_a_batch_still_in_flight_is_inconclusive(tmp_path: Path, sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past batch_wait_s the nightly judges nothing: exit 2 (inconclusive), the run stays waiting for --collect."""
    import yaml
    from click.testing import CliRunner

    from evals.cli import main

    sim = sim_factory({"claude-sim": {"accuracy": {"default": 1.0}, "batch": {"delay_s": 3600}}})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sim-key")
    ws = write_workspace(tmp_path, {"ref": _vendor_runner(sim, "anthropic")})
    cfg = ws / "nightly.yaml"
    cfg.write_text(yaml.safe_dump({"suite": "mini", "runners": ["ref"], "batch_wait_s": 0.2}))
    res = CliRunner().invoke(main, ["nightly", str(cfg)])
    assert res.exit_code == 2, res.output
    assert "waiting for batch" in res.output and "inconclusive" in res.output
    st = Store(ws / "reports" / "evals.sqlite")
    assert [r["status"] for r in st.query("SELECT status FROM runs")] == ["waiting"]
    assert len(sim.batches.submissions) == 1
    listed = CliRunner().invoke(main, ["runs", "-w", str(ws)])
    assert listed.exit_code == 0 and "batches in flight: 1 (0/40 requests done)" in listed.output


def test_cli_batch_flag_and_collect_without_batches(tmp_path: Path) -> None:
    """`evals run --batch` puts a synchronous profile through its batch API; `--collect` with nothing in flight says so (exit 2)."""
    from click.testing import CliRunner

    from evals.cli import main

    sync = batch_runner("m-cli", "anthropic")
    del sync["batch"]
    ws = write_workspace(tmp_path, {"ref": sync, "local": sim_runner("m-local")})  # local: a self-hosted twin, no batch API
    cli = CliRunner()
    res = cli.invoke(main, ["run", "-w", str(ws), "--suite", "mini", "--runner", "ref", "--runner", "local", "--batch", "--quiet", "--no-report"])
    assert res.exit_code == 0, res.output
    st = Store(ws / "reports" / "evals.sqlite")
    by_runner = {r["runner"]: r["n"] for r in st.query("SELECT runner, COUNT(batch_id) n FROM attempts WHERE final=1 GROUP BY runner")}
    assert by_runner == {"ref": 40, "local": 0}
    st.close()
    res = cli.invoke(main, ["run", "-w", str(ws), "--suite", "mini", "--runner", "local", "--batch"])
    assert res.exit_code == 2 and "none of the runners (local) has a batch API" in res.output
    res = cli.invoke(main, ["run", "-w", str(ws), "--collect"])
    assert res.exit_code == 2 and "no batches in flight" in res.output
    res = cli.invoke(main, ["run", "-w", str(ws), "--suite", "mini"])
    assert res.exit_code == 2 and "--runner" in res.output
    res = cli.invoke(main, ["run", "-w", str(ws), "--collect", "--suite", "mini"])
    assert res.exit_code == 2 and "--collect takes the run's own suite, runners and epochs" in res.output


def test_requests_beyond_a_batch_limit_go_in_several_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the vendor's limit at 15 requests, 40 requests make ceil(40 / 15) = 3 batches of 15, 15 and 10, all collected."""
    import evals.run.batch as batch_mod

    monkeypatch.setitem(batch_mod.LIMITS, "openai", Limits(requests=15, bytes=200 * 1024**2))
    ws = write_workspace(tmp_path, {"ref": batch_runner("m-chunks", "openai")})
    summary, store = _run(ws, ["ref"])
    rows = store.query("SELECT requests, status FROM batches WHERE run_id=? ORDER BY id", (summary.run_id,))
    assert [(r["requests"], r["status"]) for r in rows] == [(15, "collected"), (15, "collected"), (10, "collected")]
    finals = _finals(store, summary.run_id, "ref")
    assert len(finals) == 40 and all(a["status"] == "ok" for a in finals) and len({a["batch_id"] for a in finals}) == 3


def test_result_lines_map_to_the_synchronous_statuses() -> None:
    """Each kind of batch result, as the vendors document it, becomes the status the synchronous path would store."""
    from types import SimpleNamespace

    from evals.providers.base import Status
    from evals.run.batch import RETRIED_KINDS, anthropic_result, missing, openai_result

    def chat(finish: str) -> dict[str, Any]:
        body = {"id": "c", "object": "chat.completion", "created": 0, "model": "gpt-x", "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "abc"}}]}
        return {"custom_id": "k", "response": {"status_code": 200, "body": body}, "error": None}

    ok, cut = openai_result(chat("stop")), openai_result(chat("length"))
    assert (ok.status, ok.text, ok.usage.input_tokens, ok.usage.output_tokens) == (Status.ok, "abc", 7, 3)
    assert cut.status is Status.truncated and cut.finish_reason == "length"
    expired = openai_result({"custom_id": "k", "response": None, "error": {"code": "batch_expired", "message": "window passed"}})
    refused = openai_result({"custom_id": "k", "response": {"status_code": 400, "body": {"error": {"message": "bad max_tokens"}}}, "error": None})
    failed = openai_result({"custom_id": "k", "response": {"status_code": 500, "body": {"error": {"message": "oops"}}}, "error": None})
    assert (expired.status, expired.error_kind) == (Status.error, "batch_expired") and expired.error_kind in RETRIED_KINDS
    assert (refused.error_kind, refused.http_status) == ("bad_request", 400) and refused.error_kind not in RETRIED_KINDS  # never retried, as synchronously
    assert failed.error_kind == "server" and failed.error_kind in RETRIED_KINDS
    # a cancelled OpenAI batch lists no line for the requests it never ran
    assert missing("cancelled").error_kind == "batch_cancelled" and missing("expired").error_kind == "batch_expired"

    usage = SimpleNamespace(input_tokens=5, cache_read_input_tokens=2, cache_creation_input_tokens=0, output_tokens=4)
    msg = SimpleNamespace(usage=usage, content=[SimpleNamespace(type="text", text="hi")], stop_reason="max_tokens", model="claude-x")
    cut_a = anthropic_result(SimpleNamespace(type="succeeded", message=msg))
    # Anthropic's input_tokens excludes cache reads: ours include them (5 + 2)
    assert (cut_a.status, cut_a.usage.input_tokens, cut_a.usage.cached_input_tokens) == (Status.truncated, 7, 2)
    assert anthropic_result(SimpleNamespace(type="canceled")).error_kind == "batch_cancelled"
    assert anthropic_result(SimpleNamespace(type="expired")).error_kind == "batch_expired"
    err = anthropic_result(SimpleNamespace(type="errored", error=SimpleNamespace(error=SimpleNamespace(type="invalid_request_error", message="bad"))))
    assert err.error_kind == "bad_request" and err.error_kind not in RETRIED_KINDS


def test_a_batch_the_vendor_lost_is_submitted_again(tmp_path: Path, sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored batch id the vendor answers 404 for (here: the simulated server that held it is gone) is marked lost and
    its requests go into one new batch."""
    from evals.run.keys import request_identity, request_key
    from evals.store.batches import BatchLedger
    from evals.suite.load import load_samples

    sim = sim_factory({"claude-sim": {"accuracy": {"default": 1.0}}})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sim-key")
    ws = write_workspace(tmp_path, {"ref": _vendor_runner(sim, "anthropic")})
    store = Store(ws / "reports" / "evals.sqlite")
    profile = find_runner(ws, "ref")
    ident = request_identity(profile)
    samples = load_samples(find_suite(ws, "mini"))
    ledger = BatchLedger(store.path)
    ledger.add(run_id="old", runner="ref", vendor="anthropic", vendor_batch_id="msgbatch_gone", base_url=sim.base_url, round=1, worst_case_usd=1.0,
               requests={request_key(ident, s.input, s.request_fields()): [s.id] for s in samples})
    ledger.close()
    store.close()
    summary, store = _run(ws, ["ref"])
    assert [r["status"] for r in store.query("SELECT status FROM batches ORDER BY id")] == ["lost", "collected"]
    assert len(sim.batches.submissions) == 1 and len(_finals(store, summary.run_id, "ref")) == 40
