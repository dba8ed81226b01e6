"""Runner profiles in subfolders (runners/variants/) are found by name, and "not found" lists them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from evals import api
from evals.cli import main
from evals.config import ConfigError, find_runner


def test_variants_are_addressable_by_name(tmp_path: Path) -> None:
    api.init_workspace(tmp_path)
    p = find_runner(tmp_path, "llama-3.3-70b-fp8")
    assert p.name == "llama-3.3-70b-fp8" and p.launch is not None
    with pytest.raises(ConfigError) as e:
        find_runner(tmp_path, "llama-3.3-70b-fp4")
    msg = str(e.value)
    assert "runner 'llama-3.3-70b-fp4' not found" in msg and "claude-sonnet-5.5-sim" in msg
    assert "in subfolders (use the name alone): " in msg and "variants/llama-3.3-70b-fp8" in msg


def test_a_name_in_two_subfolders_is_ambiguous(tmp_path: Path) -> None:
    api.init_workspace(tmp_path)
    (tmp_path / "runners" / "mine").mkdir()
    (tmp_path / "runners" / "mine" / "llamacpp.yaml").write_text((tmp_path / "runners" / "variants" / "llamacpp.yaml").read_text())
    with pytest.raises(ConfigError, match="is in several folders"):
        find_runner(tmp_path, "llamacpp")


def test_runs_outside_a_workspace_says_so_and_writes_nothing(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["runs", "-w", str(tmp_path)])
    assert r.exit_code == 2 and "not a workspace with runs" in r.output
    assert list(tmp_path.iterdir()) == []
