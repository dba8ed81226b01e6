"""An answer cut at max_tokens is finished: a rerun reuses it (still graded as truncated); only failures are re-sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.config import find_runner, find_suite
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace


def _run(ws: Path, runner: str) -> tuple[Any, Store]:
    store = Store(ws / "reports" / "evals.sqlite")
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, runner)], store=store, quiet=True)
    return summary, store


def _finals(store: Store, run_id: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM attempts WHERE run_id=? AND final=1 ORDER BY id", (run_id,))


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_answer_cut_at_max_tokens_is_reused_not_paid_again(tmp_path: Path, protocol: str) -> None:
    ws = write_workspace(tmp_path, {"a": {**sim_runner("model-a", protocol, accuracy={"default": 1.0}), "params": {"max_tokens": 2}}})
    with open(ws / "tasks" / "mini" / "samples.jsonl", "w") as f:  # half the answers need more than 2 tokens
        for i in range(40):
            answer = f"the answer is {i} exactly" if i % 2 else str(i)
            f.write(json.dumps({"id": f"s{i}", "input": f"question {i}?", "reference": answer}) + "\n")
    first, store = _run(ws, "a")
    before = {x["sample_id"]: x["status"] for x in _finals(store, first.run_id)}
    cut = [x for x in _finals(store, first.run_id) if x["status"] == "truncated"]
    assert len(before) == 40 and len(cut) == 20
    assert set(before.values()) == {"ok", "truncated"}
    assert {x["finish_reason"] for x in cut} == {"length" if protocol == "openai" else "max_tokens"}
    store.close()
    second, store = _run(ws, "a")
    assert second.results["a"].sent == 0 and second.reused["a"] == 40
    again = _finals(store, second.run_id)
    assert {x["sample_id"]: x["status"] for x in again} == before  # still graded as truncated
    assert all(x["reused_from"] is not None for x in again)


def test_a_dropped_stream_is_sent_again(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": {**sim_runner("model-a", drop_rate=1.0), "retry": {"max_attempts": 1}}})
    first, store = _run(ws, "a")
    assert {x["error_kind"] for x in _finals(store, first.run_id)} == {"dropped_stream"}
    store.close()
    second, store = _run(ws, "a")
    assert second.results["a"].sent == 40 and second.reused["a"] == 0
