"""The score stage on a stored run: plugins, weighted pass rules, per-sample settings, regrading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from evals.config import find_runner, find_suite
from evals.run.orchestrate import execute_run
from evals.scoring.base import ScoringContext
from evals.scoring.stage import score_run
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace

PLUGIN = '''
from evals.scoring import Score, scorer

@scorer("starts_with")
def starts_with(prefix: str = ""):
    async def score(output, sample):
        ok = output.startswith(prefix)
        return Score(value=float(ok), passed=ok, explanation=f"starts with {prefix!r}: {ok}")
    return score
'''


def _run(ws: Path, **runner: Any) -> tuple[Store, str]:
    store = Store(ws / "reports" / "evals.sqlite")
    s = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "a")], store=store, quiet=True)
    return store, s.run_id


def _outcomes(store: Store, run_id: str) -> dict[str, bool]:
    return {r["sample_id"]: bool(r["passed"]) for r in store.query("SELECT sample_id, passed FROM outcomes WHERE run_id=?", (run_id,))}


def test_plugin_scorer_weighted_rule_and_sample_overrides(tmp_path: Path) -> None:
    suite = {
        "plugins": ["my_scorers.py"],
        "scorers": [{"name": "exact", "weight": 3}, {"name": "starts_with", "args": {"prefix": "zzz"}, "weight": 1}],
        "pass_rule": {"mode": "weighted", "threshold": 0.75},
        "categories": {"triage": {"scorers": [{"name": "starts_with", "args": {"prefix": "b"}}]}},
    }
    ws = write_workspace(tmp_path, {"a": sim_runner("m", accuracy={"default": 1.0})}, suite_extra=suite)
    (ws / "tasks" / "mini" / "my_scorers.py").write_text(PLUGIN)
    store, run_id = _run(ws)
    summary = score_run(store, run_id, find_suite(ws, "mini"), ScoringContext())
    assert summary.graded == 40 and summary.scorer_errors == 0
    out = _outcomes(store, run_id)
    # factual: exact passes (weight 3) and starts_with 'zzz' fails (weight 1): 3/4 = 0.75 >= threshold
    assert all(out[f"fact-{i:03d}"] for i in range(1, 40, 2))
    # triage override: only starts_with 'b' — billing and bug pass, outage and account_access fail
    refs = {f"triage-{i:03d}": ["billing", "bug", "outage", "account_access"][i % 4] for i in range(0, 40, 2)}
    assert all(out[sid] == ref.startswith("b") for sid, ref in refs.items())
    args = store.query("SELECT args_json FROM scores WHERE run_id=? AND scorer='starts_with' AND sample_id='fact-001'", (run_id,))
    assert json.loads(args[0]["args_json"]) == {"prefix": "zzz"}


def test_regrading_after_a_scorer_change_sends_nothing(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("m", accuracy={"default": 1.0})})
    store, run_id = _run(ws)
    score_run(store, run_id, find_suite(ws, "mini"))
    assert all(_outcomes(store, run_id).values())
    attempts = store.query("SELECT COUNT(*) n FROM attempts")[0]["n"]
    p = ws / "tasks" / "mini" / "suite.yaml"
    body = yaml.safe_load(p.read_text())
    body["categories"]["triage"]["scorers"] = [{"name": "regex", "args": {"pattern": "^nothing$"}}]
    p.write_text(yaml.safe_dump(body))
    score_run(store, run_id, find_suite(ws, "mini"))
    out = _outcomes(store, run_id)
    assert not any(v for k, v in out.items() if k.startswith("triage"))
    assert store.query("SELECT COUNT(*) n FROM attempts")[0]["n"] == attempts


def test_bad_per_sample_settings_fail_only_that_sample(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("m", accuracy={"default": 1.0})})
    rows = [json.loads(x) for x in (ws / "tasks" / "mini" / "samples.jsonl").read_text().splitlines()]
    rows[1]["scorers"] = [{"name": "exact", "normalize": "not-a-bool"}]
    (ws / "tasks" / "mini" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    store, run_id = _run(ws)
    summary = score_run(store, run_id, find_suite(ws, "mini"))
    assert summary.scorer_errors == 1
    out = _outcomes(store, run_id)
    assert out[rows[1]["id"]] is False and sum(out.values()) == 39


def test_truncated_answers_are_never_graded(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": {**sim_runner("m", accuracy={"default": 1.0}, drop_rate=1.0), "retry": {"max_attempts": 1}}})
    store, run_id = _run(ws)
    summary = score_run(store, run_id, find_suite(ws, "mini"))
    assert summary.graded == 0
    assert store.query("SELECT COUNT(*) n FROM scores WHERE run_id=?", (run_id,))[0]["n"] == 0
