"""`evals measure --client`: which HTTP client drives a sweep (the flag, else the runner's
`client:`, else lean wherever it can be used), recorded with the stored sweep, whose id
the command prints. Through the CLI in-process, against the simulated server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from evals.cli import main
from evals.measure import Frontier
from evals.measure.persist import load, sweeps
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace

QUICK = ["--concurrency", "2", "--requests", "4", "--quiet"]


def _measure(ws: Path, runner: str, *args: str) -> Any:
    r = CliRunner().invoke(main, ["measure", "-w", str(ws), "--runner", runner, *QUICK, *args])
    return r


def _stored(ws: Path, sweep_id: int) -> Frontier:
    store = Store(ws / "reports" / "evals.sqlite")
    try:
        return load(store, sweep_id)
    finally:
        store.close()


def _saved_id(stdout: str) -> int:
    """The id from the command's last line."""
    last = stdout.strip().splitlines()[-1]
    m = re.match(r"saved as sweep (\d+) \(client: (\w+)\)", last)
    assert m, last
    return int(m[1])


def test_the_client_is_the_flag_else_the_profiles_else_lean_and_is_stored_with_the_printed_id(tmp_path: Path) -> None:
    fast = {"ttft_ms": 2, "tokens_per_second": 5000}
    ws = write_workspace(tmp_path, {"a": sim_runner("model-a", **fast), "s": {**sim_runner("model-a", **fast), "client": "sdk"}, "l": {**sim_runner("model-a", **fast), "client": "lean"}})
    seen: dict[tuple[str, str], str] = {}
    ids: list[int] = []
    for runner, flag in [("a", ""), ("a", "sdk"), ("s", ""), ("s", "lean"), ("l", "")]:
        r = _measure(ws, runner, *(["--client", flag] if flag else []))
        assert r.exit_code == 0, r.stderr
        sweep = _saved_id(r.stdout)
        ids.append(sweep)
        stored = _stored(ws, sweep)
        assert stored.id == sweep and stored.runner == runner and stored.steps[0].served == 4
        assert f"(client: {stored.client})" in r.stdout.strip().splitlines()[-1]
        seen[runner, flag] = str(stored.client)
    assert seen == {
        ("a", ""): "lean",  # no `client:` in the profile: lean, as it speaks the OpenAI protocol to a server of its own
        ("a", "sdk"): "sdk",
        ("s", ""): "sdk",  # the profile says sdk
        ("s", "lean"): "lean",  # the flag wins
        ("l", ""): "lean",
    }
    assert ids == sorted(set(ids))  # a new sweep each time, each printed with its own id
    store = Store(ws / "reports" / "evals.sqlite")
    try:
        assert [s["id"] for s in sweeps(store)] == ids[::-1]
    finally:
        store.close()


def test_json_output_carries_the_id_and_client(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("model-a", ttft_ms=2, tokens_per_second=5000)})
    r = _measure(ws, "a", "--client", "sdk", "--json")
    assert r.exit_code == 0, r.stderr
    f = Frontier.model_validate(json.loads(r.stdout))
    assert f.id is not None and f.client == "sdk"
    assert _stored(ws, f.id) == f


def test_lean_is_refused_for_a_runner_that_keeps_its_sdk(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"c": sim_runner("model-c", protocol="anthropic", ttft_ms=2, tokens_per_second=5000)})
    r = _measure(ws, "c", "--client", "lean")
    assert r.exit_code == 2 and "keeps its SDK" in r.stderr, (r.exit_code, r.stderr)
    r = _measure(ws, "c", "--client", "fast")
    assert r.exit_code == 2 and "'lean', 'sdk'" in r.stderr
    r = _measure(ws, "c")  # the default for an Anthropic-protocol runner is its SDK
    assert r.exit_code == 0, r.stderr
    assert _stored(ws, _saved_id(r.stdout)).client == "sdk"
