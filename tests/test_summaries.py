"""Analyse once: a run's runner summaries are kept when its report is built, and the gate, compare and
the trend read them back instead of analysing past runs again; a rescore invalidates them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals import api
from evals.report import analyse as analyse_module
from evals.report.summaries import runner_summaries
from tests.conftest import sim_runner, write_workspace


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run ids in the order the analyse stage analysed them."""
    seen: list[str] = []
    real = analyse_module.analyse

    def counting(store: Any, run_id: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(run_id)
        return real(store, run_id, *args, **kwargs)

    monkeypatch.setattr(analyse_module, "analyse", counting)
    return seen


def test_each_run_is_analysed_once(tmp_path: Path, counted: list[str]) -> None:
    ws = write_workspace(tmp_path, {"ref": {**sim_runner("ref-model", accuracy={"default": 0.9}, seed=1), "role": "reference"}, "cand": sim_runner("cand-model", accuracy={"default": 0.8}, seed=2)}, n_samples=12)
    runs = []
    for i in range(3):
        out = api.run(workspace=ws, suite="mini", runners=["ref", "cand"], quiet=True, reuse=False)
        runs.append(out.run_id)
        # Tonight's report analyses tonight's run only: the baseline and the trend read kept summaries.
        assert counted == [out.run_id], f"night {i}"
        counted.clear()
    api.compare_runs(workspace=ws, run_a=runs[0], run_b=runs[2])
    report = api.gate(workspace=ws, run_id=runs[2])
    assert counted == [] and report.exit_code in (0, 1, 2)

    st = api.open_store(ws)
    try:
        kept = runner_summaries(st, runs[1])
    finally:
        st.close()
    assert counted == [] and [s.name for s in kept] == ["ref", "cand"] and all(s.samples == 12 for s in kept)

    # A rescore deletes the run's summaries: the next reader analyses it once, then reads it again.
    counted.clear()
    api.rescore(workspace=ws, run_id=runs[1], report=False)
    st = api.open_store(ws)
    try:
        again = runner_summaries(st, runs[1])
        assert counted == [runs[1]]
        assert runner_summaries(st, runs[1]) == again and counted == [runs[1]]
    finally:
        st.close()
    # What was kept is what a fresh analysis of the same rows gives.
    assert [s.model_dump() for s in again] == [s.model_dump() for s in kept]


def test_a_nightly_analyses_tonight_once(tmp_path: Path, counted: list[str]) -> None:
    import yaml

    write_workspace(tmp_path / "ws", {"ref": {**sim_runner("ref-model", accuracy={"default": 0.9}, seed=1), "role": "reference"}, "cand": sim_runner("cand-model", accuracy={"default": 0.8}, seed=2)}, n_samples=12)
    cfg = tmp_path / "nightly.yaml"
    cfg.write_text(yaml.safe_dump({"workspace": "ws", "suite": "mini", "runners": ["ref", "cand"]}))
    nights = []
    for _ in range(3):
        result = api.nightly(cfg)
        nights.append(list(counted))
        counted.clear()
        assert result.report_path is not None and result.report_path.exists()
    # Each night: tonight's run once (the gate reads the summary kept from it; baseline and trend read kept ones).
    assert [len(n) for n in nights] == [1, 1, 1] and len({n[0] for n in nights}) == 3


def test_a_nightly_refuses_a_retired_model_unless_allowed(tmp_path: Path) -> None:
    """A retired model's requests fail: the nightly names the runner and sends nothing; allow_retired lets it gate."""
    import yaml

    from evals.config import ConfigError, RunnerProfile
    from evals.cost.retirement import refuse_retired

    retired = {"provider": "anthropic", "model": "claude-sonnet-4-5", "pricing": {"api": {"model": "claude-sonnet-4-5"}}}
    ws = write_workspace(tmp_path / "ws", {"old": retired}, n_samples=4)
    cfg = tmp_path / "nightly.yaml"
    cfg.write_text(yaml.safe_dump({"workspace": "ws", "suite": "mini", "runners": ["old"]}))
    with pytest.raises(ConfigError, match="runner 'old'"):
        api.nightly(cfg)
    assert not (ws / "reports" / "evals.sqlite").exists()  # refused before anything was written
    profile = RunnerProfile.model_validate({"name": "old", **retired})
    (warning,) = refuse_retired([profile], allow_retired=True)
    assert "old" in warning
