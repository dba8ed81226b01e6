"""A server that reports no token counts: its answers' tokens are unknown, never 0,
in the stored answers, the report's runner summary and its cost basis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.config import find_runner, find_suite
from evals.report.analyse import analyse
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import write_workspace
from tests.wire_servers import WireServer, openai_stream


def _no_usage(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
    # openai_stream's second-to-last piece is the usage chunk: a server without include_usage support sends none
    pieces = openai_stream()
    return 200, {"content-type": "text/event-stream"}, pieces[:-2] + pieces[-1:], False


def test_tokens_without_counts_are_unknown_in_the_report(tmp_path: Path) -> None:
    server = WireServer(_no_usage).start()
    try:
        # priced per token, so the unknown counts matter to the cost
        runner = {"provider": "openai_compatible", "model": "m", "base_url": server.base_url + "/v1", "pricing": {"api": {"model": "claude-sonnet-4-5"}}}
        ws = write_workspace(tmp_path, {"a": runner}, n_samples=4)
        store = Store(ws / "reports" / "evals.sqlite")
        summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "a")], store=store, quiet=True)
    finally:
        server.stop()
    rows = store.query("SELECT status, input_tokens, output_tokens FROM attempts WHERE run_id=?", (summary.run_id,))
    assert len(rows) == 4 and all(r["status"] == "ok" and r["input_tokens"] is None and r["output_tokens"] is None for r in rows)
    (r,) = analyse(store, summary.run_id).runners
    assert r.input_tokens is None and r.output_tokens is None and r.tokens_unknown == 4
    assert "token counts unknown for 4 answers" in r.cost_basis and "lower bound" in r.cost_basis
