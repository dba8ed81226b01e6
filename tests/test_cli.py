"""The command line end to end, as a user runs it: a temp workspace, real files, real SDKs.

The first demo runs as a separate process, as a user starts it. Every other command runs in this
process through click's CliRunner: the same parsing, commands, output and exit codes, without
paying an interpreter's start-up (and the SDKs' import) per command."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from evals.cli import main

SUMMARY_RUNNER_FIELDS = {
    "name", "provider", "simulated", "samples", "completed", "errors", "pass_rate", "pass_rate_ci",
    "cost_total_usd", "cost_per_completed_task_usd", "requests_sent", "requests_reused", "ttft_ms_p50", "latency_ms_p95",
}


def evals(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`evals ARGS` in a new interpreter, as a user's shell starts it."""
    return subprocess.run([sys.executable, "-m", "evals.cli", *args], capture_output=True, text=True, env={**os.environ, **(env or {}), "CI": "1"}, timeout=300)


def cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """`evals ARGS` in this process; `env` values of None unset a variable for the call."""
    return CliRunner().invoke(main, list(args), env={"CI": "1", **(env or {})}, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    r = evals("demo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _run_dirs(ws: Path) -> list[Path]:
    return sorted(p for p in (ws / "reports").iterdir() if p.is_dir())


def test_demo_writes_report_and_summary_contract(demo_dir: Path) -> None:
    [run] = _run_dirs(demo_dir)
    assert (run / "index.html").exists() and (run / "summary.md").exists()
    s = _summary(run)
    assert s["schema_version"] and s["simulated"] is True
    assert len(s["runners"]) == 4
    for r in s["runners"]:
        assert SUMMARY_RUNNER_FIELDS <= set(r), SUMMARY_RUNNER_FIELDS - set(r)
        assert r["simulated"] is True and r["samples"] >= 200
        lo, hi = r["pass_rate_ci"]
        assert lo <= r["pass_rate"] <= hi
        assert r["requests_sent"] >= r["samples"] - r["errors"]
    assert {v["candidate"] for v in s["verdicts"]} == {"gpt-5-sim", "llama-3.3-70b-sim", "qwen-2.5-72b-sim"}
    for v in s["verdicts"]:
        assert {"candidate", "reference", "gap", "gap_ci", "mcnemar_p", "margin", "verdict", "extra_samples_needed"} <= set(v)
        assert v["verdict"] in ("good enough", "not good enough", "inconclusive")
    html = (run / "index.html").read_text()
    assert "SIMULATED" in html


def test_demo_again_sends_nothing(demo_dir: Path) -> None:
    r = cli("demo", "--out", str(demo_dir), "--quiet")
    assert r.exit_code == 0, r.stderr
    latest = _run_dirs(demo_dir)[-1]
    for runner in _summary(latest)["runners"]:
        assert runner["requests_sent"] == 0
        assert runner["requests_reused"] == runner["samples"]


def test_score_regrades_without_calling_models(demo_dir: Path) -> None:
    db = demo_dir / "reports" / "evals.sqlite"
    before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    r = cli("score", "-w", str(demo_dir))
    assert r.exit_code == 0, r.stderr
    assert "graded" in r.stdout
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == before


def test_runs_and_export(demo_dir: Path, tmp_path: Path) -> None:
    r = cli("runs", "-w", str(demo_dir), "--json")
    rows = json.loads(r.stdout)
    assert len(rows) >= 2 and rows[0]["status"] == "finished"
    run_id = rows[0]["id"]
    assert cli("export", run_id, str(tmp_path / "a.parquet"), "-w", str(demo_dir)).exit_code == 0
    df = pd.read_parquet(tmp_path / "a.parquet")
    assert len(df) == 4 * 286 and {"runner", "sample_id", "status", "output", "passed", "cost_usd"} <= set(df.columns)
    assert cli("export", run_id, str(tmp_path / "a.jsonl"), "-w", str(demo_dir), "--all-attempts").exit_code == 0
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert len(lines) >= 4 * 286 and json.loads(lines[0])["run_id"] == run_id
    bad = cli("export", run_id, str(tmp_path / "a.xlsx"), "-w", str(demo_dir))
    assert bad.exit_code == 2 and ".parquet or .jsonl" in bad.stderr


def test_bad_runner_file_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    p = tmp_path / "runners" / "llama-3.3-70b-sim.yaml"
    p.write_text(p.read_text().replace("concurrency: 32", "concurrency: lots"))
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "llama-3.3-70b-sim", "--runner", "claude-sonnet-5.5-sim")
    assert r.exit_code == 2
    assert "llama-3.3-70b-sim.yaml:" in r.stderr and "`concurrency`" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "reports" / "evals.sqlite").exists()


def test_bad_suite_file_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    p = tmp_path / "tasks" / "support" / "suite.yaml"
    p.write_text(p.read_text() + "\nscorer_typo: true\n")
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "llama-3.3-70b-sim")
    assert r.exit_code == 2 and "suite.yaml:" in r.stderr and "`scorer_typo`" in r.stderr
    assert not (tmp_path / "reports" / "evals.sqlite").exists()


def test_unknown_scorer_and_unknown_runner(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "no-such-runner")
    assert r.exit_code == 2 and "Known runners:" in r.stderr
    p = tmp_path / "tasks" / "support" / "suite.yaml"
    p.write_text(p.read_text().replace("name: exact", "name: exactt", 1))
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "llama-3.3-70b-sim")
    assert r.exit_code == 2 and "unknown scorer 'exactt'" in r.stderr
    assert not (tmp_path / "reports" / "evals.sqlite").exists()


def test_missing_api_key_fails_before_anything_is_sent(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "claude-sonnet-5.5", env={"ANTHROPIC_API_KEY": None})
    assert r.exit_code == 2 and "ANTHROPIC_API_KEY" in r.stderr
    assert not (tmp_path / "reports" / "evals.sqlite").exists()


def test_api_key_never_written(tmp_path: Path, demo_dir: Path) -> None:
    """A key in the environment appears in no file the tool writes."""
    assert cli("init", str(tmp_path)).exit_code == 0
    key = "sk-test-" + "q" * 40
    p = tmp_path / "runners" / "llama-3.3-70b-sim.yaml"
    p.write_text(p.read_text() + "api_key_env: FAKE_KEY\n")
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "llama-3.3-70b-sim", "--quiet", env={"FAKE_KEY": key})
    assert r.exit_code == 0, r.stderr
    for f in (tmp_path / "reports").rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes(), f


FIXTURES = Path(__file__).parent / "fixtures" / "traffic"


def test_import_then_run_the_imported_suite(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    r = cli("import", str(FIXTURES / "openai_chat.jsonl"), str(FIXTURES / "openai_chat_day2.jsonl.gz"), "--suite", "imported", "-w", str(tmp_path), "--json")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["skipped_total"] >= 1 and (tmp_path / "tasks" / "imported" / "suite.yaml").exists()
    again = cli("import", str(FIXTURES / "openai_chat.jsonl"), "--suite", "imported", "-w", str(tmp_path))
    assert again.exit_code == 2 and "overwrite" in again.stderr
    run = cli("run", "-w", str(tmp_path), "--suite", "imported", "--runner", "qwen-2.5-72b-sim", "--quiet")
    assert run.exit_code == 0, run.stderr
    bad = cli("import", str(FIXTURES / "openai_chat.jsonl"), "--suite", "x", "-w", str(tmp_path), "--map", "nonsense")
    assert bad.exit_code == 2 and "FIELD=COLUMN" in bad.stderr


def test_bad_samples_file_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).exit_code == 0
    p = tmp_path / "tasks" / "support" / "samples.jsonl"
    p.write_text(p.read_text() + '{"input": "broken line"\n')
    r = cli("run", "-w", str(tmp_path), "--suite", "support", "--runner", "llama-3.3-70b-sim")
    assert r.exit_code == 2 and "samples.jsonl:" in r.stderr and "not valid JSON" in r.stderr
    assert not (tmp_path / "reports" / "evals.sqlite").exists()
