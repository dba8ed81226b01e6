"""The store owns all SQL (issue 15, item 6): the stages ask it named questions and get typed rows.

A guard keeps SQL out of every module outside evals/store; the named reads are checked on a
small store filled by hand, so each returns what its name says, keyed by (sample, epoch).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from evals.providers.base import Completion, Status, Timing, Usage
from evals.store.db import Store
from evals.store.reads import AnswerKey, FinalAnswer, Outcome, TokenSums, UnknownRunError

EVALS = Path(__file__).resolve().parents[1] / "evals"
STORE = EVALS / "store"
SQL = re.compile(
    # statements as the package writes them, keywords in capitals
    r"\bSELECT\b.+\bFROM\b|\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b"
    # and in lower case, where it cannot be prose
    r"|(?i:\bselect\b.+\bfrom\s+\w+\s+where\b|\binsert\s+into\s+\w+\s*\(|\bupdate\s+\w+\s+set\s+\w+\s*=|\bdelete\s+from\s+\w+\s+where\b)",
    re.DOTALL,
)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal, an f-string's literal parts joined (so `f"SELECT {cols} FROM t"` is seen)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            out.append((node.lineno, " ".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))))
    return out


def _outside_store() -> list[Path]:
    files = [p for p in sorted(EVALS.rglob("*.py")) if STORE not in p.parents]
    assert len(files) > 50, "the guard must see the package"
    return files


def test_no_sql_outside_the_store() -> None:
    found = [
        f"{p.relative_to(EVALS.parent)}:{line}: {text[:80]!r}"
        for p in _outside_store()
        for line, text in _strings(ast.parse(p.read_text(encoding="utf-8")))
        if SQL.search(text)
    ]
    assert not found, "SQL outside evals/store: add a named read or write to the store instead\n" + "\n".join(found)


def test_no_module_outside_the_store_reaches_the_database() -> None:
    """No sqlite3, no generic Store.query/iter_query, no Store.db: only the store's named methods."""
    found = []
    for p in _outside_store():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m.split(".")[0] == "sqlite3" for m in mods):
                    found.append(f"{p.name}:{node.lineno}: imports sqlite3")
            elif isinstance(node, ast.Attribute) and node.attr in ("iter_query", "executemany", "executescript"):
                found.append(f"{p.name}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.Attribute) and node.attr in ("query", "db", "execute") and isinstance(node.value, ast.Name) and node.value.id in ("store", "st", "s"):
                found.append(f"{p.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def test_every_insert_names_its_columns() -> None:
    unnamed = re.compile(r"INSERT\s+(OR\s+\w+\s+)?INTO\s+\w+\s+(VALUES|SELECT)\b", re.IGNORECASE)
    found = [
        f"{p.name}:{line}: {text[:80]!r}"
        for p in sorted(STORE.rglob("*.py"))
        for line, text in _strings(ast.parse(p.read_text(encoding="utf-8")))
        if unnamed.search(text)
    ]
    assert not found, "\n".join(found)


def test_the_guard_sees_sql() -> None:
    source = [
        'cols = "a"',
        'q = f"SELECT {cols} FROM attempts WHERE run_id=?"',
        'w = "insert into t (a) values (?)"',
        'd = """\ndelete from scores\nwhere run_id=?"""',
        'prose = "select a model from the list, or delete from it what you do not need"',
    ]
    assert [line for line, text in _strings(ast.parse("\n".join(source))) if SQL.search(text)] == [2, 3, 4]


# ---------------------------------------------------------------- the named reads


def _answer(status: str, text: str, tokens: tuple[int, int], latency_ms: float, batch_id: str | None = None) -> tuple[Completion, str | None]:
    usage = Usage(input_tokens=tokens[0], output_tokens=tokens[1]) if status != "error" else Usage()
    return Completion(status=Status(status), text=text, usage=usage, timing=Timing(latency_ms=latency_ms), error="boom" if status == "error" else None), batch_id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Run r1: runner `a` answers s1 in two epochs (the first after a failed attempt) and s2 once;
    runner `b` answers s1 once. Scores: a label scorer and a format check."""
    st = Store(tmp_path / "evals.sqlite")
    st.create_run("r1", suite="mini", suite_hash="h1", workspace=None, git_commit=None, tool_version="t", reference_runner="b", info={})
    st.add_runner("r1", "a", "openai", "m-a", False, "pa", json.dumps({"name": "a"}))
    st.add_runner("r1", "b", "openai", "m-b", True, "pb", json.dumps({"name": "b"}))
    st.update_runner("r1", "a", planned=3)
    st.add_samples("r1", [("s2", "triage", "[]", '"bug"', "{}", None, None), ("s1", "factual", "[]", '"4"', "{}", None, '{"tools": []}')])
    st.start_writer()
    for runner, sid, epoch, attempt, final, (c, batch) in [
        ("a", "s1", 1, 1, False, _answer("error", "", (0, 0), 50.0)),
        ("a", "s1", 1, 2, True, _answer("ok", "4", (10, 2), 100.0)),
        ("a", "s1", 2, 1, True, _answer("ok", "5", (10, 3), 120.0, batch_id="batch-1")),
        ("a", "s2", 1, 1, True, _answer("ok", "billing", (20, 1), 80.0)),
        ("b", "s1", 1, 1, True, _answer("ok", "4", (7, 1), 30.0)),
    ]:
        st.record_attempt("r1", runner, sid, f"{runner}-{sid}-{epoch}", attempt, final, c, 0.01 * attempt, "http://x", batch_id=batch, epoch=epoch)
    st.stop_writer()
    st.add_outcomes([("r1", "a", "s1", 1, 1.0, 1), ("r1", "a", "s1", 2, 0.0, 0), ("r1", "b", "s1", 1, 1.0, 1)])
    label = ("r1", "a", "s2", 1, 0, "label", "{}", 1.0, 0.0, 0, "differs", None, json.dumps({"expected": "bug", "predicted": "billing"}), None, 0.02, "labels,format_check")
    fmt = ("r1", "a", "s1", 2, 0, "json_valid", "{}", 1.0, 0.0, 0, "not JSON", None, json.dumps({"format_failed": True}), None, None, "format_check")
    ok = ("r1", "b", "s1", 1, 0, "exact", "{}", 1.0, 1.0, 1, "matched", None, "{}", None, None, "")
    st.add_scores([label, fmt, ok])
    st.finish_run("r1", "finished")
    return st


def test_final_answers_and_outcomes_are_keyed_by_sample_and_epoch(store: Store) -> None:
    finals = {(a.runner, a.sample_id, a.epoch): a for a in store.final_answers("r1")}
    assert set(finals) == {("a", "s1", 1), ("a", "s1", 2), ("a", "s2", 1), ("b", "s1", 1)}
    assert finals[("a", "s1", 1)] == FinalAnswer("a", "s1", 1, "ok", "4", None, None, None, 100.0, None, None)
    assert finals[("a", "s1", 2)].batch_id == "batch-1"
    # the gate's view: epoch 1 first
    assert [s.epoch for s in store.final_statuses("r1")] == sorted(s.epoch for s in store.final_statuses("r1"))
    assert sorted(store.outcomes("r1")) == [Outcome("a", "s1", 1, 1), Outcome("a", "s1", 2, 0), Outcome("b", "s1", 1, 1)]
    assert store.unscored_answers("r1") == {"a": 1}  # s2 was answered ok but has no outcome


def test_usage_and_spend_count_every_attempt(store: Store) -> None:
    usage = {u.runner: u for u in store.usage_by_runner("r1")}
    a = usage["a"]
    assert (a.attempts, a.inp, a.outp, a.unk, a.lat_sum) == (4, 40, 6, 0, 350.0)
    # the batch answer's tokens are in the totals, not in the synchronous share
    assert a.tokens == TokenSums(t_in=40, t_cached=0, t_write=0, t_out=6, s_in=30, s_cached=0, s_write=0, s_out=3)
    per_answer = {(r.runner, r.sample_id, r.epoch): r.tokens.t_in for r in store.tokens_by_answer("r1")}
    assert per_answer == {("a", "s1", 1): 10, ("a", "s1", 2): 10, ("a", "s2", 1): 20, ("b", "s1", 1): 7}
    spend = {(r.runner, r.sample_id): (round(r.cost, 6), r.ms) for r in store.spend_by_sample("r1")}
    assert spend == {("a", "s1"): (0.04, 270.0), ("a", "s2"): (0.01, 80.0), ("b", "s1"): (0.01, 30.0)}


def test_score_reads(store: Store) -> None:
    assert list(store.format_failures("r1")) == [AnswerKey("a", "s1", 2)]
    labels = list(store.label_scores("r1"))
    assert [(x.runner, x.scorer, x.passed, json.loads(x.details_json or "{}")["predicted"]) for x in labels] == [("a", "label", 0, "billing")]
    assert {(n.sample_id, n.epoch, n.scorer) for n in store.score_notes("r1", failing_only=True)} == {("s1", 2, "json_valid"), ("s2", 1, "label")}
    assert len(list(store.score_notes("r1"))) == 3
    assert store.judge_cost("r1") == pytest.approx(0.02)
    assert [json.loads(d or "{}") for d in store.score_details("r1", "json_valid")] == [{"format_failed": True}]


def test_runs_runners_samples_and_gate_results(store: Store) -> None:
    assert store.run("r1")["suite_hash"] == "h1"
    with pytest.raises(UnknownRunError, match="no run 'nope'"):
        store.run("nope")
    assert [(r.runner, r.simulated, r.planned) for r in store.run_runners("r1")] == [("a", 0, 3), ("b", 1, None)]
    assert [s.sample_id for s in store.samples("r1")] == ["s1", "s2"]  # by sample id
    assert store.sample_categories("r1") == {"s1": "factual", "s2": "triage"}
    assert store.latest_gate_result("r1") is None
    store.add_gate_result("r1", None, "pass", 0, '{"first": true}')
    store.add_gate_result("r1", None, "regression", 1, '{"second": true}')
    assert (store.latest_gate_result("r1"), store.latest_gate_report("r1")) == ("regression", '{"second": true}')
    (listed,) = store.run_listing(5)
    assert (listed["id"], listed["runners"], listed["gate"], listed["simulated"]) == ("r1", "a, b", "regression", 1)
    # r1 is not fully scored, so it is no baseline for a later run
    store.create_run("r2", suite="mini", suite_hash="h1", workspace=None, git_commit=None, tool_version="t", reference_runner="b", info={})
    assert store.earlier_runs("r2") == []
    assert store.runs_of_suite("mini") == ["r1", "r2"]
    assert store.latest_finished_runs("mini", "a", 5) == ["r1"]


def test_server_facts_and_measurements(store: Store) -> None:
    store.add_server_fact("r1", "a", "http://x", "server", {"version": "0.9"})
    (fact,) = store.server_facts("r1", "a")
    assert (fact["kind"], fact["data"]) == ("server", {"version": "0.9"})
    mid = store.save_measurement(
        runner="a", profile_hash="pa", suite=None, created_at="2026-01-01T00:00:00+00:00", slo={}, operating_point=None, flags=[], simulated=True, info={},
        steps=[("concurrency", 1.0, {"n": 1}), ("concurrency", 4.0, {"n": 4})],
    )
    (summary,) = store.measurements("a")
    assert (summary.id, summary.steps, summary.simulated) == (mid, 2, 1)
    assert store.measurements("b") == []
    row = store.measurement(mid)
    assert row is not None and row.runner == "a" and store.measurement(mid + 1) is None
    assert store.measurement_steps(mid) == ['{"n": 1}', '{"n": 4}']
