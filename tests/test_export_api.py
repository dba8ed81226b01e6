"""Exports carry what was asked, what was expected and what each answer cost; the Python API works
from async code (await the a-variants) and its sync functions work inside a running event loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd
import pytest

from evals import api
from tests.conftest import sim_runner, write_workspace

# claude-sonnet-4-5 in evals/cost/data/api_prices.yaml: $3 per million input tokens, $15 per million output.
SONNET_IN, SONNET_OUT = 3.0, 15.0


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    ws = write_workspace(tmp_path_factory.mktemp("ws"), {"claude": sim_runner("claude-x", protocol="anthropic", error_rate=0.3)}, n_samples=20)
    out = api.run(workspace=ws, suite="mini", runners=["claude"], quiet=True, report=False)
    return ws, out.run_id


def test_export_has_input_reference_and_cost_per_answer(ran: tuple[Path, str], tmp_path: Path) -> None:
    ws, run_id = ran
    samples = {json.loads(line)["id"]: json.loads(line) for line in (ws / "tasks" / "mini" / "samples.jsonl").read_text().splitlines()}
    final = pd.read_json(api.export(workspace=ws, run_id=run_id, path=tmp_path / "final.jsonl"), lines=True)
    every = pd.read_json(api.export(workspace=ws, run_id=run_id, path=tmp_path / "all.jsonl", all_attempts=True), lines=True)
    assert len(final) == 20 and len(every) > 20, "the simulated 30% error rate should have caused retries"
    for row in final.itertuples():
        src = samples[row.sample_id]
        # A plain prompt string becomes one user message (the Sample contract).
        assert row.input == [{"role": "user", "content": src["input"]}] if isinstance(src["input"], str) else row.input == src["input"]
        assert row.reference == src.get("reference")
    # Each attempt: input × $3 + output × $15 per million tokens (nothing cached; a failed attempt has no tokens).
    tokens = every[["input_tokens", "output_tokens"]].fillna(0)
    expected = (tokens["input_tokens"] * SONNET_IN + tokens["output_tokens"] * SONNET_OUT) / 1e6
    assert every["cost_usd"].fillna(0).tolist() == pytest.approx(expected.tolist())
    assert every["cost_usd"].sum() > 0
    # The answer's cost is every attempt of it, retries included.
    spent = every.groupby("sample_id")["cost_usd"].sum()
    for row in final.itertuples():
        assert row.answer_cost_usd == pytest.approx(spent[row.sample_id])
    retried = final[final["attempts"] > 1]
    assert not retried.empty and (retried["answer_cost_usd"] >= retried["cost_usd"]).all()
    # Parquet keeps the messages as JSON text (one type per column).
    pq = pd.read_parquet(api.export(workspace=ws, run_id=run_id, path=tmp_path / "final.parquet"))
    assert json.loads(pq["input"][0]) == final["input"][0]


def test_sync_api_works_inside_a_running_loop_and_async_variants_await(ran: tuple[Path, str]) -> None:
    ws, first = ran

    async def notebook_cell() -> tuple[str, str]:
        # As in Jupyter: a loop is running in this thread, where asyncio.run would refuse.
        sync = api.run(workspace=ws, suite="mini", runners=["claude"], quiet=True, report=False)
        awaited = await api.arun(workspace=ws, suite="mini", runners=["claude"], quiet=True, report=False)
        return sync.run_id, awaited.run_id

    a, b = asyncio.run(notebook_cell())
    assert len({first, a, b}) == 3
    assert [r["id"] for r in api.list_runs(workspace=ws)][:2] == [b, a]


def test_export_outside_a_workspace_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(api.ConfigError, match="not a workspace with runs"):
        api.export(workspace=tmp_path, run_id="x", path=tmp_path / "x.jsonl")
    assert list(tmp_path.iterdir()) == []
